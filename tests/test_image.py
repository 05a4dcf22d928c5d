"""The image family: sky tiles with injected anomalies, your own image folders, the U-Net, the
segmentation module, evaluation, and bad input with clear messages."""

from __future__ import annotations

import json
import logging
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.families import IMAGE, QUIET
from trainlab.data.image.anomalies import KINDS, inject
from trainlab.data.image.module import AugmentingSampler, SkyDataModule, dihedral, fit_stats, normalise, quality_check
from trainlab.data.image.folder import ImageFolder
from trainlab.data.image.sources import HubbleTiles, SkyTiles
from trainlab.config.errors import UserError
from trainlab.models.nets.unet import UNet
from trainlab.models.image import SegmentationModule, soft_dice_loss

# a small image run: a narrow shallow U-Net, 2 epochs; on the default data 12 tile positions of 32 px (24 tiles)
TINY_SKY = IMAGE.tiny()
TINY_UNET = [o for o in TINY_SKY if not o.startswith(("data=", "data.source."))]  # for other image data


@pytest.fixture(scope="module")
def hubble() -> SkyTiles:
    return HubbleTiles(tile_size=32, num_tiles=20, seed=5).load()


# -- anomalies and the Hubble source ------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_anomaly_kind_is_bright_where_its_mask_is(kind):
    rng = np.random.default_rng(0)
    flux, mask, drawn = inject(rng, 48, [kind], 1, sigma=1.0, scale=1.0)
    assert drawn == [kind] and mask.any() and flux.shape == mask.shape == (48, 48)
    assert flux[mask].max() >= 3.0  # at least the faintest peak of any kind, in noise sigmas
    assert flux[~mask].max(initial=0.0) < flux[mask].max()
    if kind in ("hot_pixel", "cosmic_ray"):  # sharp: no flux outside the mask at all
        assert flux[~mask].max(initial=0.0) == 0.0 and mask.sum() <= 30


def test_hubble_tiles_are_seeded_and_half_clean(hubble):
    again = HubbleTiles(tile_size=32, num_tiles=20, seed=5).load()
    other = HubbleTiles(tile_size=32, num_tiles=20, seed=6).load()
    assert np.array_equal(hubble.images, again.images) and np.array_equal(hubble.masks, again.masks)
    assert not np.array_equal(hubble.images, other.images)
    assert hubble.images.shape == (40, 2, 32, 32) and hubble.images.dtype == np.float32
    labels = hubble.masks.reshape(40, -1).any(axis=1)
    assert labels.mean() == 0.5  # 1 anomalous copy of 2 per position
    assert [bool(k) for k in hubble.kinds] == list(labels)  # the kinds injected, "" for clean tiles
    assert {k for joined in hubble.kinds for k in joined.split("+") if k} <= set(KINDS)
    for group in np.unique(hubble.groups):  # each position: one clean and one anomalous version
        assert sorted(labels[hubble.groups == group]) == [False, True]
    assert hubble.reference_pair and hubble.channel_names == ["reference", "new epoch"]


def test_anomalies_are_in_the_new_epoch_only(hubble):
    # the two epochs differ by noise everywhere; the new one adds the anomalies where the mask is set
    difference = hubble.images[:, 1] - hubble.images[:, 0]  # (tiles, H, W)
    noise = difference[~hubble.masks].std()
    assert difference[hubble.masks].mean() > 3 * noise
    assert abs(difference[~hubble.masks].mean()) < 0.1 * noise


def test_one_channel_without_reference():
    tiles = HubbleTiles(tile_size=64, num_tiles=3, reference=False, copies=4, anomalous_copies=1).load()
    assert tiles.images.shape == (12, 1, 64, 64) and not tiles.reference_pair
    assert tiles.masks.reshape(12, -1).any(axis=1).mean() == 0.25


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"copies": 1}, r"data.source.copies=1 must be at least 2"),
        ({"anomalous_copies": 2}, r"data.source.anomalous_copies=2 must lie in 1..1"),
        ({"kinds": ["supernova"]}, r"data.source.kinds=\['supernova'\]: choose one or more of transient"),
        ({"tile_size": 4}, r"data.source.tile_size=4 must lie in 8..872"),
        ({"num_tiles": 10_000}, r"data.source.num_tiles=10000 must lie in 3..195"),
    ],
)
def test_hubble_arguments_are_checked(kwargs, match):
    with pytest.raises(UserError, match=match):
        HubbleTiles(**kwargs)


# -- quality checks, normalisation, split, augmentation --------------------------------------------
def tiles_of(images: np.ndarray, masks: np.ndarray | None = None) -> SkyTiles:
    n = len(images)
    masks = np.zeros((n, *images.shape[2:]), dtype=bool) if masks is None else masks
    return SkyTiles("test", images.astype(np.float32), masks, np.arange(n), [f"t{i}" for i in range(n)], ["c0"])


class FixedTiles:
    """A source whose ``load()`` returns the tiles it was given."""

    def __init__(self, tiles: SkyTiles):
        self.tiles = tiles

    def load(self) -> SkyTiles:
        return self.tiles


def test_quality_check_fills_a_few_bad_pixels_rejects_mostly_bad_and_constant_tiles_and_counts_them(caplog):
    images = np.random.default_rng(0).normal(size=(6, 1, 8, 8))
    images[1, 0, 3, 3] = np.nan  # a bad pixel: filled (a whole image was dropped for it before)
    images[2, 0, :5] = np.inf  # 40 of 64 pixels: rejected
    images[3] = 7.0  # constant
    source = tiles_of(images)
    with caplog.at_level(logging.INFO, logger="trainlab.data.image.module"):
        kept, counts = quality_check(source)
    assert counts == {"tiles": 6, "rejected_nonfinite": 1, "rejected_constant": 1, "filled_pixels": 1,
                      "filled_tiles": 1}
    assert kept.tile_names == ["t0", "t1", "t4", "t5"] and len(kept.images) == len(kept.masks) == len(kept.groups) == 4
    assert kept.images[1, 0, 3, 3] == pytest.approx(np.median(np.delete(images[1, 0].ravel(), 3 * 8 + 3)), rel=1e-6)
    assert np.isnan(source.images[1, 0, 3, 3])  # the source's array is left as it was
    assert ("kept 4 of 6 tiles; rejected 1 with NaN/inf (in more than 50% of their pixels), 1 constant; filled 1 "
            "NaN/inf pixel(s) in 1 tile(s) with their tile's median") in caplog.text
    with pytest.raises(UserError, match=r"every tile of 'test' is NaN/inf \(1\) or constant \(1\)"):
        quality_check(tiles_of(np.stack([images[2], images[3]])))


def test_asinh_and_percentile_normalisation():
    rng = np.random.default_rng(0)
    images = rng.normal(10.0, 2.0, size=(50, 2, 16, 16))
    images[:, 1] *= 100  # a channel on another scale
    stats = fit_stats(images, [1.0, 99.0], seed=0)
    assert np.allclose(stats["sigma"], [2.0, 200.0], rtol=0.05)  # MAD finds the noise
    z = normalise(images, stats, "asinh", softening=1.0)
    for c in range(2):  # each channel: the sky at 0; half the noise within 0.6745 sigma, asinh(0.6745) = 0.632
        assert abs(np.median(z[:, c])) < 0.02 and 0.61 < np.median(np.abs(z[:, c])) < 0.65
    p = normalise(images, stats, "percentile", softening=1.0)
    assert np.allclose(np.percentile(p, [1.0, 99.0], axis=(0, 2, 3)).T, [[0, 1], [0, 1]], atol=0.01)


def _whole_array_normalise(images, stats, method, softening):
    """normalise() as it was: the whole array at once in float64 (three temporaries of it)."""
    shape = (1, -1, 1, 1)
    if method == "asinh":
        return np.arcsinh((images - stats["median"].reshape(shape)) / (softening * stats["sigma"].reshape(shape))
                          ).astype(np.float32)
    low, high = stats["low"].reshape(shape), stats["high"].reshape(shape)
    return ((images - low) / (high - low)).astype(np.float32)


@pytest.mark.parametrize("method", ["asinh", "percentile"])
def test_normalising_a_few_tiles_at_a_time_equals_the_whole_array_and_needs_little_memory_beside_it(
        monkeypatch, method):
    """Before: 1,728 tiles of 256 x 256 (432 MB) peaked 3.0 GB above the imports in setup, three float64
    temporaries of every tile at once; now the float32 result and a few tiles' temporaries."""
    import tracemalloc

    from trainlab.data.image import module as image_module

    rng = np.random.default_rng(0)
    images = rng.normal(100.0, 5.0, size=(300, 2, 40, 40)).astype(np.float32)
    images[::7, :, 3, 3] = 1e4
    stats = fit_stats(images, [1.0, 99.5], seed=0)
    expected = _whole_array_normalise(images, stats, method, 0.7)
    monkeypatch.setattr(image_module, "NORMALISE_CHUNK", 8 * images[:1].size * 16, raising=False)  # 16 tiles
    tracemalloc.start()
    try:
        result = normalise(images, stats, method, softening=0.7)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.dtype == np.float32 and np.array_equal(result, expected)  # bit for bit
    assert peak < 1.5 * images.nbytes  # the result, and float64 temporaries of 16 tiles (before: ~6x)


def test_a_flat_zero_sky_with_faint_sources_is_scaled_by_its_sources_not_left_at_1e_18():
    """Simulated or sky-subtracted images (exact zeros, a few sources of 1e-18 erg/s/cm^2/A): the MAD is 0
    and the percentiles meet; a fixed scale of 1 kept them at 1e-18, a blank image to the net."""
    rng = np.random.default_rng(0)
    images = np.zeros((6, 2, 64, 64), dtype=np.float32)
    for image in images:
        image[0, rng.integers(0, 64, 5), rng.integers(0, 64, 5)] = rng.uniform(1e-18, 1e-16, 5)
    images[:, 1] = 7.0  # one value everywhere: nothing to scale by
    stats = fit_stats(images, [1.0, 99.5], seed=0)
    bright = images[:, 0].max()
    for method in ("asinh", "percentile"):
        z = normalise(images, stats, method, softening=1.0)
        assert 0.5 < z[:, 0].max() < 10 and np.all(z[:, 0][images[:, 0] == 0] == 0), method
        assert np.all(np.isfinite(z[:, 1]))
    assert normalise(images, stats, "percentile", 1.0)[:, 0].max() == pytest.approx(1.0) and bright > 0


def test_whole_images_too_large_for_a_batch_are_warned_about_before_training(monkeypatch, caplog):
    """8192 x 8192 images whole in batches of 16 (tile_size=null) ran out of memory at the first step, after the
    whole setup; scaled down here (the limit lowered to 16 tiles of 32 x 32)."""
    rng = np.random.default_rng(0)
    masks = np.zeros((6, 64, 64), dtype=bool)
    masks[::2, 5, 5] = True
    tiles = tiles_of(rng.normal(size=(6, 1, 64, 64)), masks)
    monkeypatch.setattr(SkyDataModule, "MAX_BATCH_PIXELS", 16 * 32 * 32)
    with caplog.at_level("WARNING", logger="trainlab"):
        SkyDataModule(FixedTiles(tiles), batch_size=4, val_fraction=0.2, test_fraction=0.2).setup()
        assert "tile_size" not in caplog.text  # 4 x 64 x 64 is the limit: no warning
        SkyDataModule(FixedTiles(tiles), batch_size=16, val_fraction=0.2, test_fraction=0.2).setup()
    assert caplog.text.count("a batch of 16 tiles of 64 x 64 px holds 6.6e+04 pixels") == 1
    assert "cut the images with data.source.tile_size (e.g. 256) or lower data.batch_size" in caplog.text


def test_masks_that_mark_most_pixels_are_warned_about_as_perhaps_inverted(caplog):
    """Masks written 1 = clean: 99% of the pixels 'anomalous', and calling every pixel anomalous scores IoU 0.99."""
    masks = np.ones((6, 16, 16), dtype=bool)
    masks[::2, 3, 3] = False
    images = np.random.default_rng(0).normal(size=(6, 1, 16, 16))
    with caplog.at_level("WARNING", logger="trainlab"):
        SkyDataModule(FixedTiles(tiles_of(images, masks)), val_fraction=0.2, test_fraction=0.2).setup()
    assert "mark 99.8% of all pixels anomalous" in caplog.text and "invert them" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="trainlab"):
        SkyDataModule(FixedTiles(tiles_of(images, ~masks)), val_fraction=0.2, test_fraction=0.2).setup()
    assert "invert" not in caplog.text


def sky_dm(**kwargs) -> SkyDataModule:
    dm = SkyDataModule(HubbleTiles(tile_size=32, num_tiles=30, seed=1), batch_size=4, seed=1, **kwargs)
    dm.setup("fit")
    return dm


def test_split_keeps_sky_positions_apart_and_both_classes_everywhere():
    dm = sky_dm()
    groups = {s: set(dm.tiles.groups[rows]) for s, rows in dm.indices.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not groups[a] & groups[b], (a, b)
    assert sum(len(rows) for rows in dm.indices.values()) == 60
    for split in ("train", "val", "test"):
        assert dm.anomalous_share(split) == 0.5
    assert dm.dims == {"in": 2, "out": 1} and dm.model_kwargs() == {}


def test_normalisation_statistics_come_from_training_tiles_and_travel_in_checkpoints():
    dm = sky_dm()
    train = dm.tiles.images[dm.indices["train"]]
    expected = fit_stats(train, dm.percentiles, dm.seed)
    assert all(np.allclose(dm.stats[k], expected[k]) for k in expected)
    assert not np.allclose(dm.stats["median"], np.median(np.moveaxis(dm.tiles.images, 1, 0).reshape(2, -1), axis=1))
    fresh = SkyDataModule(HubbleTiles(tile_size=32, num_tiles=30, seed=1), batch_size=4, seed=1)
    fresh.load_state_dict({k: [v * 2 for v in values] for k, values in dm.state_dict().items()})
    fresh.setup("fit")
    assert np.allclose(fresh.stats["sigma"], 2 * dm.stats["sigma"])  # loaded, not refit
    with pytest.raises(UserError, match=r"checkpoint lacks the data statistics \['median'"):
        fresh.load_state_dict({"mean": [0.0]})
    # images of other channels than the checkpoint's (evaluate.py +data.source.path=): said in channels, not as
    # 'median has 2 value(s) in the checkpoint, 1 here', a statistic the user never set
    one = SkyDataModule(HubbleTiles(tile_size=32, num_tiles=30, seed=1, reference=False), batch_size=4, seed=1)
    assert one.size_differences(dm.state_dict()) == ["the images have 1 channel(s), the model was trained on 2"]
    assert fresh.size_differences(dm.state_dict()) == []


def test_augmentation_is_a_symmetry_of_image_and_mask_together_and_only_in_training():
    dm = sky_dm()
    train = dm.datasets["train"]
    sampler = dm.train_dataloader().sampler
    assert isinstance(sampler, AugmentingSampler)
    sampler.set_epoch(3)
    drawn = list(sampler)
    assert drawn == list(sampler)  # the same (seed, epoch) draws the same order and symmetries
    sampler.set_epoch(4)
    assert drawn != list(sampler)
    assert sorted(i for i, _ in drawn) == list(range(len(train))) and {k for _, k in drawn} == set(range(8))
    images, masks = train.__getitems__(drawn[:8])
    for (i, code), image, mask in zip(drawn[:8], images, masks):
        assert torch.equal(image, dihedral(train.images[i], code)) and torch.equal(mask, dihedral(train.masks[i], code))
    x, y = next(iter(dm.val_dataloader()))  # validation: as stored, in order
    assert torch.equal(x, dm.datasets["val"].images[: len(x)]) and torch.equal(y, dm.datasets["val"].masks[: len(y)])
    plain = sky_dm(augment=False).train_dataloader().sampler
    assert all(isinstance(i, int) for i in plain)


def test_whole_images_that_are_not_square_train_with_the_symmetries_of_a_rectangle(tmp_path):
    """A folder of 37 x 53 whole images crashed at the first training step ('stack expects each tensor to be
    equal size'): a quarter turn made some tiles 53 x 37. Their batches now keep one shape."""
    root = tmp_path / "sky"
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        mask = np.zeros((37, 53), dtype=np.uint8)
        mask[3:6, 40:45] = i % 2
        np.save(root / f"im{i}.npy", (rng.normal(100, 5, (37, 53)) + 200 * mask).astype(np.float32))
        np.save(root / "masks" / f"im{i}.npy", mask)
    dm = SkyDataModule(ImageFolder(str(root)), batch_size=4, val_fraction=0.2, test_fraction=0.2)
    dm.setup("fit")
    loader = dm.train_dataloader()
    codes = set()
    for epoch in range(4):
        loader.sampler.set_epoch(epoch)
        codes |= {code for _, code in loader.sampler}
        assert all(images.shape[-2:] == (37, 53) and masks.shape[-2:] == (37, 53) for images, masks in loader)
    assert codes == {0, 2, 4, 6}


def test_the_eight_symmetries_are_distinct():
    x = torch.arange(9.0).reshape(3, 3)
    assert len({tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}) == 8


# -- your own folder -----------------------------------------------------------------------------
def write_image(path: Path, array: np.ndarray) -> None:
    suffix = path.name.split(".", 1)[1]
    if suffix == "npy":
        np.save(path, array)
    elif suffix == "png":
        from PIL import Image

        Image.fromarray(array.astype(np.uint8)).save(path)
    elif suffix in ("tif", "tiff"):
        import tifffile

        tifffile.imwrite(path, array)
    else:
        from astropy.io import fits

        fits.PrimaryHDU(array).writeto(path)


def make_folder(root: Path, count: int = 6, size: int = 32, suffixes=("fits", "npy", "png")) -> Path:
    """``count`` star-field images in rotating formats, half with a bright square anomaly."""
    rng = np.random.default_rng(0)
    (root / "masks").mkdir(parents=True)
    for i in range(count):
        image = rng.normal(50.0, 5.0, (size, size))
        mask = np.zeros((size, size), dtype=np.uint8)
        if i % 2:
            mask[5:9, 10:14] = 1
            image[mask == 1] += 100
        suffix = suffixes[i % len(suffixes)]
        write_image(root / f"img{i}.{suffix}", image.astype(np.float32) if suffix != "png" else image)
        write_image(root / "masks" / f"img{i}.{'png' if i % 2 else 'npy'}", mask * (255 if i % 2 else 1))
    return root


def test_folder_reads_fits_npy_png_with_masks_by_name(tmp_path):
    tiles = ImageFolder(str(make_folder(tmp_path / "sky"))).load()
    assert tiles.images.shape == (6, 1, 32, 32) and tiles.masks.shape == (6, 32, 32)
    assert tiles.tile_names == [f"img{i}.{s}" for i, s in enumerate(["fits", "npy", "png"] * 2)]
    assert [bool(m.any()) for m in tiles.masks] == [False, True] * 3
    assert tiles.masks[1].sum() == 16 and tiles.images[1][0][tiles.masks[1]].mean() > 120


def test_folder_reads_tiff_images_and_masks(tmp_path):
    """TIFF (float32, 16-bit, RGB; a mask too) is read as the other formats are: it was left out of a folder
    as "no image" (a log line only), and a folder of TIFFs alone was refused as holding no images."""
    import tifffile

    root = make_folder(tmp_path / "sky", count=4, suffixes=("tif", "tiff"))
    tifffile.imwrite(root / "counts.tif", np.full((32, 32), 40000, np.uint16))
    np.save(root / "masks" / "counts.npy", np.zeros((32, 32), np.uint8))
    (root / "masks" / "img1.png").unlink()  # its mask as a TIFF: the same square
    tifffile.imwrite(root / "masks" / "img1.tif", np.pad(np.ones((4, 4), np.uint8), ((5, 23), (10, 18))))
    tiles = ImageFolder(str(root)).load()
    assert tiles.tile_names == ["counts.tif", "img0.tif", "img1.tiff", "img2.tif", "img3.tiff"]
    assert tiles.images.shape == (5, 1, 32, 32) and float(tiles.images[0].max()) == 40000.0
    assert [int(m.sum()) for m in tiles.masks] == [0, 0, 16, 0, 16]
    assert tiles.images[2][0][tiles.masks[2]].mean() > 120
    rgb = tmp_path / "rgb"
    (rgb / "masks").mkdir(parents=True)
    tifffile.imwrite(rgb / "a.tif", np.zeros((32, 32, 3), np.uint8), photometric="rgb")
    np.save(rgb / "masks" / "a.npy", np.zeros((32, 32), np.uint8))
    assert ImageFolder(str(rgb)).load().images.shape == (1, 3, 32, 32)  # channels last, moved first


def test_lzw_and_jpeg_tiffs_are_read_without_imagecodecs(tmp_path):
    """LZW (what GIMP, ImageMagick and Photoshop write by default) and JPEG TIFFs: tifffile decodes them only with
    imagecodecs, which trainlab does not require; they were refused ("cannot read ... <COMPRESSION.LZW: 5> requires
    the 'imagecodecs' package"). Pillow reads them: 16-bit grey, float32, RGB channels first, pages as channels."""
    from PIL import Image

    from trainlab.data.image.files import read_array

    counts = (np.arange(32 * 32).reshape(32, 32) * 61 % 65521).astype(np.uint16)
    Image.fromarray(counts).save(tmp_path / "counts.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_array(tmp_path / "counts.tif"), counts.astype(np.float32))
    level = np.random.default_rng(0).normal(50.0, 5.0, (32, 32)).astype(np.float32)
    Image.fromarray(level).save(tmp_path / "level.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_array(tmp_path / "level.tif"), level)
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "rgb.tif", compression="jpeg")
    assert read_array(tmp_path / "rgb.tif").shape == (3, 32, 32)
    pages = [Image.fromarray(counts), Image.fromarray(counts // 2)]
    pages[0].save(tmp_path / "pages.tif", compression="tiff_lzw", save_all=True, append_images=pages[1:])
    np.testing.assert_array_equal(read_array(tmp_path / "pages.tif"), np.stack([counts, counts // 2]).astype(np.float32))


def test_a_palette_tiff_image_reads_its_colours_as_a_palette_png_does(tmp_path):
    """A TIFF with a palette (Photometric=palette) was read as its indices, one channel of 0, 1, ...: the same image
    as a PNG read as its three colour channels. As a mask, its indices stay classes, as a PNG's do."""
    from PIL import Image

    from trainlab.data.image.files import read_array

    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:16], rgb[16:] = (200, 30, 30), (10, 10, 240)
    indexed = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    for name, how in (("plain.tif", {}), ("lzw.tif", {"compression": "tiff_lzw"}), ("same.png", {})):
        indexed.save(tmp_path / name, **how)
    for name in ("plain.tif", "lzw.tif"):
        np.testing.assert_array_equal(read_array(tmp_path / name), np.moveaxis(rgb, -1, 0).astype(np.float32))
        np.testing.assert_array_equal(read_array(tmp_path / name, palette_indices=True),
                                      read_array(tmp_path / "same.png", palette_indices=True))


def test_a_tiffs_alpha_is_transparency_not_a_channel(tmp_path):
    """An RGBA TIFF (GIMP's export of a layer) read its alpha as a fourth channel, and a mask painted on a
    transparent layer (empty pixels white) as anomalous everywhere (1024 of 1024 pixels): as a PNG's, the alpha
    says where an image has data and a mask is clean, planar or not, LZW-compressed too (read by Pillow)."""
    import tifffile
    from PIL import Image

    from trainlab.data.image.files import read_array, read_mask

    mask = np.zeros((32, 32, 4), np.uint8)
    mask[..., :3] = 255  # transparent white
    mask[5:9, 10:14] = (255, 0, 0, 255)  # an opaque red square
    tifffile.imwrite(tmp_path / "contig.tif", mask, photometric="rgb", extrasamples=["unassalpha"])
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(mask, -1, 0), photometric="rgb", planarconfig="separate",
                     extrasamples=["unassalpha"])
    Image.fromarray(mask, "RGBA").save(tmp_path / "lzw.tif", compression="tiff_lzw")
    for name in ("contig.tif", "planar.tif", "lzw.tif"):
        assert int(read_mask(tmp_path / name).sum()) == 16, name
        assert read_array(tmp_path / name).shape == (3, 32, 32), name
    root = make_folder(tmp_path / "sky", count=2, suffixes=("tif",))
    image = np.full((32, 32, 4), 60, np.uint8)
    image[..., 3] = 255
    image[:, :4, 3] = 0  # a mosaic's blank edge
    tifffile.imwrite(root / "img0.tif", image, photometric="rgb", extrasamples=["unassalpha"])
    tifffile.imwrite(root / "img1.tif", image, photometric="rgb", extrasamples=["unassalpha"])
    tiles = ImageFolder(str(root)).load()
    assert tiles.images.shape[1] == 3  # the alpha is no channel; its transparent edge is no data (filled)


def test_folder_reads_tile_compressed_fits(tmp_path):
    """fpack's .fits.fz (a compressed image HDU after an empty primary one), as survey archives serve images,
    was left out as no image; its mask's name stem is the image's ('a' for 'a.fits.fz')."""
    from astropy.io import fits

    root = tmp_path / "sky"
    (root / "masks").mkdir(parents=True)
    image = np.random.default_rng(0).normal(100.0, 5.0, (32, 32)).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(image)]).writeto(root / "a.fits.fz")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(image[::-1].copy())]).writeto(root / "b.fz")
    for stem in "ab":
        np.save(root / "masks" / f"{stem}.npy", np.zeros((32, 32), np.uint8))
    tiles = ImageFolder(str(root)).load()
    assert tiles.tile_names == ["a.fits.fz", "b.fz"] and tiles.images.shape == (2, 1, 32, 32)
    np.testing.assert_allclose(tiles.images[0, 0], image, atol=0.5)  # fpack quantises floats to noise / 16


def test_a_folder_of_other_files_is_refused_naming_them(tmp_path):
    """The refusal named the suffixes read but not what the folder held (a log line above it did): a folder
    of JPEGs or of the catalogue read for the wrong family read as empty."""
    root = tmp_path / "night"
    (root / "masks").mkdir(parents=True)
    for name in ("m31.jpg", "m33.jpg", "notes.txt", "stars.csv"):
        (root / name).write_text("x")
    with pytest.raises(UserError, match=r"^data.source.path='.*night' holds no images \(.fits.gz, .*, .tiff\), only 4 "
                                        r"other file\(s\) \(m31.jpg, m33.jpg, notes.txt, ...\); FITS, NPY, PNG and TIFF are "
                                        r"read; save them as PNG \(lossless\) to use them, or put the images there"):
        ImageFolder(str(root)).load()


def test_folders_of_images_inside_the_image_folder_are_named_not_passed_over(tmp_path, caplog):
    """Images kept in night folders (sky/night1/, sky/night2/) were never read: a folder of such folders was refused
    as holding no images without naming them, and beside images of its own they were left out without a word."""
    from trainlab.prediction.image import UnmaskedFolder

    root = make_folder(tmp_path / "sky", count=3, suffixes=("npy",))
    for night in ("night1", "night2"):
        make_folder(root / night, count=3, suffixes=("npy",))
    (root / "calib").mkdir()
    (root / "calib" / "notes.txt").write_text("flat fields to come")
    with caplog.at_level(logging.WARNING):
        assert len(ImageFolder(str(root)).load().images) == 3
    assert ("holds 2 folder(s) of images (night1, night2), which are not read: images are read from that folder "
            "itself, not its folders") in caplog.text  # not masks/, nor calib/ of no images
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # predict.py images= on a run's own folder: its masks/ is no such folder
        assert len(UnmaskedFolder(str(root)).load().images) == 3
    assert "(night1, night2)" in caplog.text
    for index in range(3):
        (root / f"img{index}.npy").unlink()
    with pytest.raises(UserError, match=r"^data.source.path='.*sky' holds no images \(.*\), only 2 folder\(s\) of "
                                        r"images \(night1, night2\), which are not read: .*; point data.source.path "
                                        r"at the folder that holds them: data.source.path='.*sky/night1' "
                                        r"data.source.mask_dir='.*sky/masks' \(images are read from one folder: move "
                                        r"the images of night1, night2 into one, and their masks into one\)$"):
        ImageFolder(str(root)).load()
    (root / "night2" / "masks").rename(root / "masks_night2")  # dataset/images beside dataset/masks: one fix
    shutil.rmtree(root / "night1")
    shutil.rmtree(root / "masks")
    (root / "masks_night2").rename(root / "masks")
    (root / "night2").rename(root / "images")
    with pytest.raises(UserError, match=r"; point data.source.path at the folder that holds them: "
                                        r"data.source.path='.*sky/images' data.source.mask_dir='.*sky/masks'$"):
        ImageFolder(str(root)).load()
    assert len(ImageFolder(str(root / "images"), mask_dir=str(root / "masks")).load().images) == 3


def test_the_mask_folder_is_listed_once_not_once_per_image(tmp_path, monkeypatch):
    """Listed for every image (each listing stats every mask), 5,000 images took over ten minutes."""
    from trainlab.data.image import folder as image_folder

    listed = []
    original = image_folder.listing
    monkeypatch.setattr(image_folder, "listing", lambda folder, key: listed.append(key) or original(folder, key))
    tiles = ImageFolder(str(make_folder(tmp_path / "sky", count=12))).load()
    assert len(tiles.images) == 12 and [bool(m.any()) for m in tiles.masks] == [False, True] * 6
    assert listed == ["data.source.path", "data.source.mask_dir"]


def test_folder_tiles_cut_images_of_different_sizes(tmp_path):
    root = make_folder(tmp_path / "sky", count=3, size=64, suffixes=("npy",))
    np.save(root / "big.npy", np.random.default_rng(1).normal(size=(2 * 32 + 5, 3 * 32)).astype(np.float32))
    mask = np.zeros((2 * 32 + 5, 3 * 32))
    mask[-2:, -3:] = 1  # an anomaly in the last 5 rows, which no tile side by side reaches
    np.save(root / "masks" / "big.npy", mask)
    tiles = ImageFolder(str(root), tile_size=32).load()
    assert len(tiles.images) == 3 * 4 + 3 * 3  # rows at 0, 32 and 37: the last flush with the bottom edge
    assert list(np.bincount(tiles.groups)) == [9, 4, 4, 4]  # tiles of one file share a group ("big" sorts first)
    assert tiles.tile_names[:3] == ["big.npy y0 x0", "big.npy y0 x32", "big.npy y0 x64"]
    assert tiles.tile_names[8] == "big.npy y37 x64" and tiles.masks[8][-2:, -3:].all() and tiles.masks[:9].sum() == 6


def test_folder_with_nan_and_constant_images_is_trained_on_what_is_left(compose_cfg, run_train, tmp_path, caplog):
    root = make_folder(tmp_path / "sky", count=8, suffixes=("npy",))
    bad = np.full((32, 32), 3.0, dtype=np.float32)
    np.save(root / "flat.npy", bad)
    hole = np.random.default_rng(3).normal(size=(32, 32)).astype(np.float32)
    hole[:20] = np.nan  # most of it: rejected
    np.save(root / "hole.npy", hole)
    speck = np.random.default_rng(4).normal(size=(32, 32)).astype(np.float32)
    speck[0, 0] = np.nan  # one bad pixel: filled
    np.save(root / "speck.npy", speck)
    for name in ("flat", "hole", "speck"):
        np.save(root / "masks" / f"{name}.npy", np.zeros((32, 32)))
    overrides = [*TINY_UNET, "data=sky_folder", f"data.source.path={root}", "data.batch_size=2", "debug=fdr"]
    with caplog.at_level(logging.INFO, logger="trainlab.data.image.module"):
        metrics = run_train(compose_cfg(overrides))
    assert ("kept 9 of 11 tiles; rejected 1 with NaN/inf (in more than 50% of their pixels), 1 constant; filled 1 "
            "NaN/inf pixel(s) in 1 tile(s)") in caplog.text
    assert np.isfinite(metrics["test/loss"])


@pytest.mark.parametrize(
    "damage,match",
    [
        ("empty", r"data.source.path='.*empty' holds no images \(.fits.gz, .fits.fz, .fz, .fits, .fit, .fts, .npy, .png, .tif, .tiff\)"),
        ("sizes", r"images differ in size: 'img5.npy' is 40x32 but 'img0.npy' is 32x32; .*tile_size=<side>"),
        ("no mask", r"no mask for image 'img3.npy' in data.source.mask_dir=.*every image needs one, all zeros"),
        ("mask shape", r"mask 'img2.npy' is 16x32 but image 'img2.npy' is 32x32; a mask must have its image's height"),
        ("channels", r"image 'img4.npy' has 3 channel\(s\) but 'img0.npy' has 1"),
        ("no folder", r"data.source.path='.*nowhere' is not a folder"),
        ("no mask dir", r"data.source.mask_dir='.*masks' is not a folder"),
    ],
)
def test_bad_folders_get_clear_messages(compose_cfg, run_train, tmp_path, damage, match):
    root = make_folder(tmp_path / "sky", suffixes=("npy",))
    if damage == "empty":
        root = tmp_path / "empty"
        root.mkdir()
    elif damage == "sizes":
        np.save(root / "img5.npy", np.ones((40, 32), dtype=np.float32))
        (root / "masks" / "img5.png").unlink()
        np.save(root / "masks" / "img5.npy", np.zeros((40, 32)))  # its mask fits it
    elif damage == "no mask":
        next((root / "masks").glob("img3.*")).unlink()
    elif damage == "mask shape":
        np.save(root / "masks" / "img2.npy", np.zeros((16, 32)))
    elif damage == "channels":
        np.save(root / "img4.npy", np.ones((3, 32, 32), dtype=np.float32))
    elif damage == "no folder":
        root = tmp_path / "nowhere"
    elif damage == "no mask dir":
        for mask in (root / "masks").iterdir():
            mask.unlink()
        (root / "masks").rmdir()
    with pytest.raises(UserError, match=match):
        run_train(compose_cfg([*TINY_UNET, "data=sky_folder", f"data.source.path={root}"]))


def test_folder_reads_cubes_channels_last_and_bool_masks(tmp_path, caplog):
    from astropy.io import fits

    root = make_folder(tmp_path / "sky", count=3, suffixes=("npy",))
    reference = ImageFolder(str(root)).load()
    fits.PrimaryHDU(np.load(root / "img1.npy")[None, None]).writeto(root / "img1.fits")  # a radio cube (1, 1, H, W)
    (root / "img1.npy").unlink()
    np.testing.assert_array_equal(ImageFolder(str(root)).load().images, reference.images)
    colour = np.random.default_rng(2).normal(size=(32, 32, 3)).astype(np.float32)
    colour[5:9, 10:14, 1] += 50.0
    for name in ("img0", "img1"):  # (H, W, channels) images, bool masks
        (root / "img1.fits").unlink(missing_ok=True)
        np.save(root / f"{name}.npy", colour)
        for old in (root / "masks").glob(f"{name}.*"):
            old.unlink()
        np.save(root / "masks" / f"{name}.npy", np.pad(np.ones((4, 4), bool), ((5, 23), (10, 18))))
    with pytest.raises(UserError, match=r"image 'img2.npy' has 1 channel\(s\) but 'img0.npy' has 3"):
        ImageFolder(str(root)).load()  # read channels first: 3 channels, not 32
    (root / "img2.npy").unlink()
    with caplog.at_level(logging.INFO):
        tiles = ImageFolder(str(root)).load()
    assert tiles.images.shape == (2, 3, 32, 32) and "2 image(s) of" in caplog.text and "channels last" in caplog.text
    np.testing.assert_array_equal(tiles.images[1], np.moveaxis(colour, -1, 0))
    assert tiles.masks[1].sum() == 16 and tiles.images[1][1][tiles.masks[1]].mean() > 40  # mask on the anomaly


def test_masks_holding_several_or_negative_values_are_warned_about(tmp_path, caplog):
    """Masks of classes (1, 2), of an 'ignore' of -1 (or 255 beside 1) read every such pixel as anomalous without a
    word; masks of one value (1, or 255 from a PNG) say nothing."""
    root = make_folder(tmp_path / "sky", count=4, suffixes=("npy",))
    with caplog.at_level(logging.WARNING):
        ImageFolder(str(root)).load()
    assert "non-zero value" not in caplog.text
    (root / "masks" / "img1.png").unlink()
    classes = np.zeros((32, 32), np.uint8)
    classes[5:9, 10:12], classes[5:9, 12:14] = 1, 2
    np.save(root / "masks" / "img1.npy", classes)
    np.save(root / "masks" / "img2.npy", -np.eye(32, dtype=np.int16))
    with caplog.at_level(logging.WARNING):
        tiles = ImageFolder(str(root)).load()
    assert tiles.masks[1].sum() == 16 and tiles.masks[2].sum() == 32  # read as before: every non-zero pixel
    assert ("2 mask(s) hold a negative or more than one non-zero value (e.g. 'img1.npy': 1, 2); every non-zero pixel is "
            "read as anomalous: if a value means something else (a class to leave out, 'ignore', a soft edge), write 0 "
            "there, and 1 where a pixel is anomalous") in caplog.text


@pytest.mark.parametrize("value,match", [(np.nan, r"has 1024 NaN/inf pixel\(s\); write 0 where a pixel is clean"),
                                         (0.01, r"holds fractions \(e.g. 0.01\); .*threshold a soft mask first")])
def test_masks_that_would_read_wrong_are_refused(tmp_path, value, match):
    root = make_folder(tmp_path / "sky", count=3, suffixes=("npy",))
    np.save(root / "masks" / "img0.npy", np.full((32, 32), value))  # NaN read as clean, 0.01 as anomalous
    with pytest.raises(UserError, match=rf"mask '.*img0.npy' {match}"):
        ImageFolder(str(root)).load()


@pytest.mark.parametrize("where", ["images", "masks"])
def test_one_name_in_two_files_is_refused(tmp_path, where):
    root = make_folder(tmp_path / "sky", count=3, suffixes=("npy",))
    folder, key = (root, "path") if where == "images" else (root / "masks", "mask_dir")
    np.save(folder / "img1 copy.npy", np.zeros((32, 32), np.float32))  # a name with a space is fine
    if where == "masks":
        np.save(root / "img1 copy.npy", np.ones((32, 32), np.float32))
    write_image(folder / "img1.fits", np.zeros((32, 32), np.float32))  # beside img1.npy (and img1.png)
    with pytest.raises(UserError, match=rf"data.source.{key}='.*' holds 'img1.fits' and 'img1.(npy|png)', one name "
                                        "in two files; .*rename or remove one of them"):
        ImageFolder(str(root)).load()


def test_files_that_are_no_images_are_named_in_the_log(tmp_path, caplog):
    """Hidden files too: macOS writes an AppleDouble '._img0.npy' beside 'img0.npy' on other disks and in
    archives, which ended the run ('cannot read ._img0.npy as npy: This file contains pickled (object) data')."""
    root = make_folder(tmp_path / "sky", count=3, suffixes=("npy",))
    for name in ("README.txt", "notes.csv"):
        (root / name).write_text("a,b\n")
    for folder in (root, root / "masks"):
        for name in ("._img0.npy", "._img1.png", ".DS_Store"):
            (folder / name).write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    with caplog.at_level(logging.INFO):
        assert len(ImageFolder(str(root)).load().images) == 3
    assert "2 file(s) that are no image left out (README.txt, notes.csv)" in caplog.text
    assert "3 hidden file(s) left out (.DS_Store, ._img0.npy, ._img1.png)" in caplog.text


def test_a_folder_whose_masks_mark_nothing_is_refused(tmp_path):
    root = make_folder(tmp_path / "sky", count=4, suffixes=("npy",))
    for mask in (root / "masks").iterdir():  # soft masks saved as integers: every value truncated to 0
        write_image(mask, np.zeros((32, 32), np.uint8))
    with pytest.raises(UserError, match=r"no mask of 'sky' marks an anomalous pixel \(4 tiles\); .*check the masks"):
        SkyDataModule(ImageFolder(str(root))).setup()


def test_png_modes_read_as_intensities(tmp_path):
    from PIL import Image

    from trainlab.data.image.files import read_array, read_mask

    grey = np.zeros((16, 16), np.uint8)
    grey[2:4, 2:4] = 200
    palette = Image.fromarray((grey > 0).astype(np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 255, 0])  # index 1 is yellow
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_array(tmp_path / "palette.png")[:, 2, 2], [255, 255, 0])  # colours, not 1
    np.testing.assert_array_equal(read_mask(tmp_path / "palette.png"), grey > 0)  # a mask keeps the class indices
    Image.fromarray(grey).convert("LA").save(tmp_path / "alpha.png")
    np.testing.assert_array_equal(read_array(tmp_path / "alpha.png"), grey[None])  # grey + alpha: one channel
    deep = (np.arange(256, dtype=np.uint16) * 250).reshape(16, 16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(read_array(tmp_path / "deep.png"), deep)  # 16 bits kept


def png_16_bit(path: Path, array: np.ndarray, colour_type: int) -> None:
    """``array`` (H, W, samples) as a 16-bit PNG written by hand: Pillow writes none in colour."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)  # filter 0 (none) per row
    header = struct.pack(">IIBBBBB", array.shape[1], array.shape[0], 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_images_whose_values_would_be_read_otherwise_than_stored_are_refused(tmp_path):
    """A 16-bit colour PNG was read at 8 bits (Pillow drops the low byte: values up to 61,420 read as 0..239, and a
    16-bit mask's 1 as 0, clean), a complex NPY as its real part (numpy's ComplexWarning alone), and an image of
    no pixels got the mask blamed for its size."""
    from trainlab.data.image.files import read_array, read_mask

    values = (np.arange(16 * 16 * 3).reshape(16, 16, 3) * 80).astype(np.uint16)
    for colour_type, samples, kind in ((2, 3, "RGB"), (6, 4, "RGBA"), (4, 2, "grey \\+ alpha")):
        png_16_bit(tmp_path / f"c{colour_type}.png", np.dstack([values] * 2)[..., :samples], colour_type)
        with pytest.raises(UserError, match=rf"c{colour_type}.png' is a 16-bit {kind} PNG, which Pillow reads at 8 bits "
                                            r"\(the low 8 bits of every value lost\); save it as a 16-bit TIFF"):
            read_array(tmp_path / f"c{colour_type}.png")
    with pytest.raises(UserError, match="16-bit RGB PNG"):
        read_mask(tmp_path / "c2.png")
    png_16_bit(tmp_path / "grey.png", values[..., :1], 0)  # 16-bit grey: read whole, as before
    np.testing.assert_array_equal(read_array(tmp_path / "grey.png"), values[..., 0])
    np.save(tmp_path / "wave.npy", np.full((8, 8), 1 + 2j))
    with pytest.raises(UserError, match=r"wave.npy' holds complex values \(complex128\); give a real image: its "
                                        r"amplitude \(np.abs\) or its real part$"):
        read_array(tmp_path / "wave.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 8)))
    with pytest.raises(UserError, match=r"empty.npy' holds an image of no pixels \(0, 8\); give an image, or remove"):
        read_array(tmp_path / "empty.npy")


def test_a_png_images_transparent_pixels_are_no_data_and_alpha_is_no_channel(tmp_path, caplog):
    """An image's alpha was dropped without a word, so a mosaic's transparent edge (often black or white)
    was read as sky. Fully transparent pixels are now no data (NaN: filled or their tile dropped by the
    quality check), partly transparent ones keep their colour, and one log line says so."""
    from PIL import Image

    root = make_folder(tmp_path / "sky", suffixes=("png",))
    greys = [np.asarray(Image.open(root / f"img{i}.png")) for i in range(6)]
    alphas = [np.full((32, 32), 255, np.uint8) for _ in range(6)]  # opaque: alpha carries nothing
    alphas[0][:4] = 0  # an empty edge of 4 rows: filled with the image's median
    alphas[0][10, 10] = 128  # partly transparent: its colour kept
    alphas[2][:20] = 0  # mostly empty: dropped
    for i, (grey, alpha) in enumerate(zip(greys, alphas)):
        Image.fromarray(np.dstack([grey, grey, grey, alpha]), mode="RGBA").save(root / f"img{i}.png")
    with caplog.at_level(logging.INFO, logger="trainlab.data.image.folder"):
        tiles = ImageFolder(str(root)).load()
    assert tiles.images.shape == (6, 3, 32, 32)  # RGB: the alpha channel is no image channel
    assert np.isnan(tiles.images[0][:, :4]).all() and not np.isnan(tiles.images[0][:, 4:]).any()
    np.testing.assert_array_equal(tiles.images[0][:, 10, 10], greys[0][10, 10])
    assert not np.isnan(tiles.images[[1, 3, 4, 5]]).any()
    assert ("2 PNG image(s) with transparency (e.g. 'img0.png'): 768 fully transparent pixel(s) read as no data (NaN: "
            "the quality check fills or drops them), 1 partly transparent one(s) keep their colour") in caplog.text
    kept, counts = quality_check(tiles)
    assert counts["rejected_nonfinite"] == 1 and counts["filled_pixels"] == 3 * 4 * 32 and counts["filled_tiles"] == 1
    assert "img2.png" not in kept.tile_names and np.isfinite(kept.images).all()


def test_a_png_masks_transparent_pixels_are_clean_whatever_their_colour(tmp_path):
    """Masks painted on a transparent layer: the empty pixels are often transparent white, which read as
    anomalous (alpha was dropped). Each way a PNG says "transparent" is honoured."""
    from PIL import Image

    from trainlab.data.image.files import read_mask

    marked = np.zeros((16, 16), bool)
    marked[3:6, 4:8] = True
    alpha = np.where(marked, 255, 0).astype(np.uint8)
    white = np.full((16, 16), 255, np.uint8)
    Image.fromarray(np.dstack([white, white, white, alpha]), mode="RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.dstack([white, alpha]), mode="LA").save(tmp_path / "la.png")
    palette = Image.fromarray(np.where(marked, 1, 2).astype(np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 255, 255, 255])  # 1 red: marked, 2 white: declared transparent
    palette.save(tmp_path / "palette.png", transparency=2)
    Image.fromarray(np.where(marked, 128, 255).astype(np.uint8)).convert("RGB").save(
        tmp_path / "keyed.png", transparency=(255, 255, 255))  # truecolour with a transparent colour
    for name in ("rgba", "la", "palette", "keyed"):
        np.testing.assert_array_equal(read_mask(tmp_path / f"{name}.png"), marked, err_msg=name)
    opaque = np.dstack([white, white, white, np.full((16, 16), 255, np.uint8)])
    Image.fromarray(opaque, mode="RGBA").save(tmp_path / "opaque.png")
    assert read_mask(tmp_path / "opaque.png").all()  # opaque white: every pixel set, as before
    soft = alpha.copy()
    soft[2, 4] = 128  # a soft brush's edge
    Image.fromarray(np.dstack([white, white, white, soft]), mode="RGBA").save(tmp_path / "soft.png")
    with pytest.raises(UserError, match=r"mask '.*soft.png' has 1 partly transparent pixel\(s\) that are set "
                                        r"\(e.g. opacity 0.50\); .*threshold its alpha channel first"):
        read_mask(tmp_path / "soft.png")


def test_a_folder_of_transparent_masks_trains_on_the_marked_pixels_only(tmp_path):
    from PIL import Image

    root = make_folder(tmp_path / "sky", count=4, suffixes=("npy",))
    expected = ImageFolder(str(root)).load().masks
    for i, mask in enumerate(expected):  # the same masks as white-on-transparent RGBA
        (root / "masks" / f"img{i}.{'png' if i % 2 else 'npy'}").unlink()
        layer = np.dstack([np.full(mask.shape + (3,), 255, np.uint8), np.where(mask, 255, 0).astype(np.uint8)])
        Image.fromarray(layer, mode="RGBA").save(root / "masks" / f"img{i}.png")
    np.testing.assert_array_equal(ImageFolder(str(root)).load().masks, expected)


def test_fits_reads_the_first_image_hdu_past_tables(tmp_path):
    from astropy.io import fits

    from trainlab.data.image.files import read_array

    image = np.arange(64, dtype=np.float32).reshape(8, 8)
    table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table, fits.ImageHDU(image, name="SCI"),
                  fits.ImageHDU(np.zeros((8, 8)), name="WHT")]).writeto(tmp_path / "a.fits")
    np.testing.assert_array_equal(read_array(tmp_path / "a.fits"), image)
    fits.CompImageHDU(image).writeto(tmp_path / "b.fits")  # tile-compressed: an image in a table extension
    np.testing.assert_array_equal(read_array(tmp_path / "b.fits"), image)


def test_a_fits_of_several_image_hdus_is_read_at_the_chosen_one_and_said(tmp_path, caplog):
    """A camera's chips (or SCI, ERR and DQ) in one file: the first image HDU was read, the others never seen,
    without a word, and no setting chose another; predict.py reads the HDU its run read."""
    from astropy.io import fits
    from omegaconf import OmegaConf

    from trainlab.prediction.image import read_images

    root = tmp_path / "sky"
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    chips = [rng.normal(i * 100, 1, (16, 16)).astype(np.float32) for i in range(3)]
    for stem in "abc":
        fits.HDUList([fits.PrimaryHDU(), *(fits.ImageHDU(chip, name="SCI") for chip in chips),
                      fits.ImageHDU(np.zeros((16, 16), np.int16), name="DQ")]).writeto(root / f"{stem}.fits")
        np.save(root / "masks" / f"{stem}.npy", np.zeros((16, 16), np.uint8))
    with caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(ImageFolder(str(root)).load().images[0, 0], chips[0])
    assert ("3 FITS image file(s) hold several image HDUs with data (e.g. 'a.fits': 1 (SCI), 2 (SCI), 3 (SCI), 4 (DQ), "
            "as index (EXTNAME)); the first of each is read: choose another with data.source.hdu=<index or EXTNAME>"
            in caplog.text)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(ImageFolder(str(root), hdu=3).load().images[0, 0], chips[2])
        np.testing.assert_array_equal(ImageFolder(str(root), hdu="sci").load().images[0, 0], chips[0])
    assert "several" not in caplog.text  # chosen: nothing to say
    run = OmegaConf.create({"data": {"source": {"tile_size": None, "hdu": 2}}})
    np.testing.assert_array_equal(read_images(root, run).images[0, 0], chips[1])
    with pytest.raises(UserError, match=r"^data.source.hdu=ERR: 'a.fits' has no HDU 'ERR'; its image HDUs with data "
                                        r"\(index, name\): 1 \(SCI\), 2 \(SCI\), 3 \(SCI\), 4 \(DQ\)$"):
        ImageFolder(str(root), hdu="ERR").load()
    with caplog.at_level(logging.WARNING):
        ImageFolder(str(make_folder(tmp_path / "npy", count=3, suffixes=("npy",))), hdu=1).load()
    assert "data.source.hdu=1 is not used: '" in caplog.text and "' holds no FITS image" in caplog.text


def test_folder_data_without_a_path(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"data.source.path has no value \(\?\?\? in the config\)"):
        run_train(compose_cfg([*TINY_UNET, "data=sky_folder"]))


# -- the U-Net and the segmentation module --------------------------------------------------------
@pytest.mark.parametrize("depth,size", [(1, (16, 16)), (3, (64, 64)), (3, (37, 50)), (4, (20, 33))])
def test_unet_shapes_and_gradients(depth, size):
    net = UNet(in_channels=2, out_channels=1, base_channels=4, depth=depth)
    x = torch.randn(3, 2, *size)
    y = net(x)
    assert y.shape == (3, 1, *size)  # any size: padded to a multiple of 2**depth, cropped back
    y.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net.encoder[-1][0].out_channels == 4 * 2**depth  # the bottleneck's width


@pytest.mark.parametrize("init", ["kaiming", "xavier", "default"])
def test_unet_init_and_prior(init):
    torch.manual_seed(0)
    net = UNet(in_channels=1, base_channels=4, depth=2, init=init, prior=0.05).eval()
    assert torch.allclose(torch.sigmoid(net.head.bias), torch.tensor([0.05]))
    conv = net.encoder[0][0].weight  # (4, 1, 3, 3): fan_in 9, fan_out 36
    expected_std = {"kaiming": (2 / 9) ** 0.5, "xavier": (2 / (9 + 36)) ** 0.5}.get(init)
    if expected_std is not None:  # 36 weights: a loose check of the scale, not the sample
        assert 0.5 * expected_std < conv.std().item() < 1.6 * expected_std


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dropout": 1.5}, r"model.net.dropout=1.5 must be in \[0, 1\)"),
        ({"prior": 0.0}, r"model.net.prior=0.0 must lie strictly between 0 and 1"),
        ({"depth": 0}, r"model.net.depth=0 must be a positive integer"),
        ({"in_channels": None}, r"model.net.in_channels is unset"),
    ],
)
def test_unet_arguments_are_checked(kwargs, match):
    with pytest.raises(UserError, match=match):
        UNet(**{"in_channels": 1, **kwargs})


def test_image_score_max_and_topk_mean():
    maps = torch.zeros(2, 8, 8)
    maps[0, 0, 0] = 0.9  # one hot pixel
    maps[1, :2, :2] = 0.6  # a 4-pixel blob
    net = UNet(1, base_channels=4, depth=1)
    top_max = SegmentationModule(net, optimizer=None, image_score="max")
    top_4 = SegmentationModule(net, optimizer=None, image_score="topk_mean", top_k=4)
    assert torch.allclose(top_max.image_score(maps), torch.tensor([0.9, 0.6]))
    assert torch.allclose(top_4.image_score(maps), torch.tensor([0.225, 0.6]))
    assert top_max.image_labels(maps > 0.7).tolist() == [1, 0]


def test_dice_loss_and_the_combined_loss():
    target = torch.zeros(2, 8, 8)
    target[0, :2, :2] = 1
    assert soft_dice_loss(target, target) == pytest.approx(0.0)
    assert soft_dice_loss(1 - target, target) == pytest.approx(1 - 1 / (124 + 4 + 1))
    assert soft_dice_loss(torch.zeros(2, 8, 8), torch.zeros(2, 8, 8)) == pytest.approx(0.0)  # all clean, none found
    net = UNet(1, base_channels=4, depth=1)
    logits = torch.zeros(2, 8, 8)
    logits[1, 3, 3] = 2.0  # the clean tile's most anomalous pixel
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    pixels = bce(logits, target, pos_weight=torch.tensor(5.0))
    image = bce(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))  # max logit of each tile against its label
    dice = soft_dice_loss(torch.sigmoid(logits), target)
    for dice_weight, image_weight in ((0.0, 0.0), (0.5, 0.0), (0.0, 2.0), (1.0, 1.0)):
        module = SegmentationModule(net, optimizer=None, pos_weight=5.0, dice_weight=dice_weight,
                                    image_weight=image_weight)
        expected = pixels + dice_weight * dice + image_weight * image
        assert module.loss(logits, target) == pytest.approx(float(expected)), (dice_weight, image_weight)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"pos_weight": 0.0}, r"model.pos_weight=0.0 must be > 0"),
        ({"dice_weight": -1.0}, r"model.dice_weight=-1.0 must be >= 0"),
        ({"image_weight": -1.0}, r"model.image_weight=-1.0 must be >= 0"),
        ({"image_score": "mean"}, r"model.image_score='mean' is not one of max, topk_mean"),
        ({"top_k": 0}, r"model.top_k=0 must be at least 1"),
    ],
)
def test_segmentation_arguments_are_checked(kwargs, match):
    with pytest.raises(UserError, match=match):
        SegmentationModule(UNet(1, base_channels=4, depth=1), optimizer=None, **kwargs)


def test_preset_is_the_unet_on_hubble_tiles(compose_cfg):
    cfg = compose_cfg(["experiment=unet_anomaly"])
    assert cfg.model.net._target_.endswith("UNet") and cfg.data.source._target_.endswith("HubbleTiles")


# -- whole runs ------------------------------------------------------------------------------------
def test_channels_contradicting_the_data(compose_cfg, run_train):
    with pytest.raises(UserError, match=r"model.net.in_channels=1 contradicts the data, which has 2"):
        run_train(compose_cfg([*TINY_SKY, "model.net.in_channels=1"]))


def test_train_then_evaluate_writes_maps_curves_and_baselines(compose_cfg, run_train):
    import evaluate as evaluate_script

    cfg = compose_cfg([*TINY_SKY, "trainer.max_epochs=1"])
    trained = run_train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert set(ckpt["SkyDataModule"]) == {"median", "sigma", "low", "high", "trained_with"}
    assert ckpt["SkyDataModule"]["trained_with"] == {"normalize": cfg.data.normalize, "percentiles": list(
        cfg.data.percentiles), "asinh_softening": cfg.data.asinh_softening}  # what evaluate.py keeps
    tb = [p for p in (run_dir / "tensorboard").rglob("events.out.tfevents.*")]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    images = EventAccumulator(str(tb[0].parent)).Reload().Tags()["images"]
    assert {"val/confusion_matrix", "val/roc", "val/pr", "test/roc"} <= set(images)
    eval_cfg = compose_cfg([f"ckpt_path={run_dir}", "hardware.num_threads=1"], config_name="eval")
    report = evaluate_script.evaluate(eval_cfg)
    assert set(report["plots"]) == {"test_confusion_matrix.png", "test_roc.png", "test_pr.png", "test_anomaly_maps.png"}
    extra = report["extra"]
    assert extra["image_score"] == "max" and extra["anomalous_tile_share"] == 0.5
    assert extra["baseline_majority_accuracy"] == 0.5 and extra["quality_rejected_nonfinite"] == 0
    for key in ("baseline_brightness_pixel_auprc", "baseline_difference_pixel_auprc",
                "baseline_difference_image_auroc"):
        assert 0.0 <= extra[key] <= 1.0
    recalls = {k: v for k, v in extra.items() if k.startswith("recall_")}
    assert recalls and set(recalls) <= {f"recall_{k}" for k in KINDS} and all(0 <= v <= 1 for v in recalls.values())
    assert report["latency"]["samples_per_second"] > 0
    written = json.loads((Path(eval_cfg.paths.output_dir) / "metrics.json").read_text())
    assert written["metrics"]["test/iou"] == pytest.approx(report["metrics"]["test/iou"])
    assert written["baseline_empty_mask_iou"] == 0.0
    # the checkpoint's weights and normalisation, the same test split: the numbers of the test after training
    for key in ("test/iou", "test/auroc", "test/loss"):
        assert report["metrics"][key] == pytest.approx(trained[key], rel=1e-5, abs=1e-7), key
    for name in report["plots"]:
        assert (Path(eval_cfg.paths.output_dir) / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_short_run_on_the_default_data_beats_chance_clearly(compose_cfg, run_train):
    """Default data and net, 4 epochs: image AUROC and macro F1 far above chance (0.5, and 0.33 for
    calling every tile anomalous), pixel IoU far above predicting no anomaly (0). Measured here:
    AUROC 0.97, macro F1 0.93, IoU 0.47, pixel AUPRC 0.76 (deterministic on CPU with this seed)."""
    metrics = run_train(compose_cfg(["experiment=unet_anomaly", "trainer.max_epochs=4", *QUIET]))
    print({k: round(metrics[f"test/{k}"], 3) for k in ("auroc", "f1_macro", "accuracy", "iou", "dice", "pixel_auprc")})
    assert metrics["test/auroc"] >= 0.85
    assert metrics["test/f1_macro"] >= 0.75
    assert metrics["test/iou"] >= 0.4 and metrics["test/pixel_auprc"] >= 0.6


def test_a_float64_image_far_above_zero_keeps_its_noise_and_ordinary_images_load_as_before(tmp_path, caplog):
    """float32 keeps 24 bits: at 1e9 its step is 64, and noise of 3 read as two values 64 apart, a source 30
    above the sky as 12. Each channel's median is subtracted in float64 before the cast where the step would
    reach the noise; float64 images near 0 and float32 ones load exactly as a plain cast gives."""
    from trainlab.data.image.files import read_array

    rng = np.random.default_rng(0)
    for folder in ("far/masks", "near/masks"):
        (tmp_path / folder).mkdir(parents=True)
    for i in range(3):
        image = rng.normal(0.0, 3.0, (1, 32, 32))
        image[:, 4:8, 4:8] += 30.0  # a source 10 sigma above the sky
        for name in (f"a{i}", f"b{i}"):
            np.save(tmp_path / "far" / "masks" / f"{name}.npy", np.zeros((32, 32), np.uint8))
            np.save(tmp_path / "near" / "masks" / f"{name}.npy", np.zeros((32, 32), np.uint8))
        np.save(tmp_path / "far" / f"a{i}.npy", np.concatenate([image + 1e9, image + 3e8]))
        np.save(tmp_path / "far" / f"b{i}.npy", np.concatenate([image + 5e8, image + 7e8]))
        np.save(tmp_path / "near" / f"a{i}.npy", image[0] + 50.0)
        write_image(tmp_path / "near" / f"b{i}.fits", (image[0] + 50.0).astype(np.float32))
    with caplog.at_level("INFO", logger="trainlab"):
        far = ImageFolder(str(tmp_path / "far")).load().images
    assert far.shape == (6, 2, 32, 32)  # none read as constant and dropped
    sky = np.ones((32, 32), bool)
    sky[4:8, 4:8] = False
    np.testing.assert_allclose(far[:, :, sky].std(axis=2), 3.0, rtol=0.15)  # the noise survives, in each channel
    np.testing.assert_allclose(far[:, :, 4:8, 4:8].mean(axis=(2, 3)), 30.0, atol=2.0)  # the source on the sky
    assert "float32 would keep steps of 64" in caplog.text
    for path in sorted(p for p in (tmp_path / "near").iterdir() if p.is_file()):
        raw = np.load(path) if path.suffix == ".npy" else read_array(path)
        np.testing.assert_array_equal(read_array(path, offsets={}), raw.astype(np.float32))
    near = ImageFolder(str(tmp_path / "near")).load()
    assert near.images.dtype == np.float32 and near.images.min() > 20  # the level kept: 50 on ordinary images


@pytest.mark.parametrize("names, hint", [
    (("img_0_mask.png", "img_1_mask.png", "img_10_mask.png"),
     "; it holds 'img_0_mask.png', named with '_mask' after the image's name: a mask takes its image's name alone "
     "(img_0.png), so rename the masks without '_mask'"),
    (("mask-img_0.png", "mask-img_1.png", "mask-img_10.png"),
     "; it holds 'mask-img_0.png', named with 'mask-' before the image's name: a mask takes its image's name alone "
     "(img_0.png), so rename the masks without 'mask-'"),
    (("IMG_0.png", "IMG_1.png", "IMG_10.png"),  # a case-blind disk (macOS, Windows) shows them as the images' names
     "; it holds 'IMG_0.png', the image's name in another case: names are matched exactly, so rename the masks as "
     "their images (img_0.png)"),
    (("other.png",), "; or set data.source.missing_masks=clean to read an image without a mask as clean"),
])
def test_masks_named_after_their_image_with_a_suffix_are_pointed_out(tmp_path, names, hint):
    """A newcomer's masks beside their images as img_0_mask.png (a common convention): the refusal said
    only that no mask was found for img_0.png."""
    from PIL import Image

    from trainlab.data.image.folder import ImageFolder

    (tmp_path / "masks").mkdir()
    for name in ("img_0", "img_1", "img_10"):
        Image.fromarray(np.full((16, 16), 60, np.uint8)).save(tmp_path / f"{name}.png")
    for name in names:
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "masks" / name)
    with pytest.raises(UserError) as refused:
        ImageFolder(str(tmp_path)).load()
    assert str(refused.value) == (
        f"no mask for image 'img_0.png' in data.source.mask_dir='{tmp_path / 'masks'}' (looked for "
        "img_0{.fits.gz,.fits.fz,.fz,.fits,.fit,.fts,.npy,.png,.tif,.tiff}); every image needs one, all zeros when it holds no anomaly"
        " (3 of the 3 images lack one: img_0, img_1, img_10)" + hint)


def test_the_mask_of_another_image_is_not_pointed_out_as_misnamed(tmp_path):
    """field_north.png is the mask of the image field_north.png; a missing mask for field.png was told to
    rename it ('named with '_north' after the image's name'), which would take it from its own image."""
    from PIL import Image

    from trainlab.data.image.folder import ImageFolder

    (tmp_path / "masks").mkdir()
    for name in ("field", "field_north"):
        Image.fromarray(np.full((16, 16), 60, np.uint8)).save(tmp_path / f"{name}.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "masks" / "field_north.png")
    with pytest.raises(UserError) as refused:
        ImageFolder(str(tmp_path)).load()
    assert str(refused.value).endswith("every image needs one, all zeros when it holds no anomaly; or set "
                                       "data.source.missing_masks=clean to read an image without a mask as clean")


def test_a_mask_folder_that_is_the_image_folder_is_refused(tmp_path):
    """data.source.mask_dir=<the images' folder> (masks beside their images, img_0_mask.png): every image was
    read as its own mask and every mask as an image, each tile all anomaly, without a word."""
    from PIL import Image

    from trainlab.data.image.folder import ImageFolder

    for name in ("img_0", "img_1"):
        Image.fromarray(np.full((16, 16), 60, np.uint8)).save(tmp_path / f"{name}.png")
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / f"{name}_mask.png")
    with pytest.raises(UserError) as refused:
        ImageFolder(str(tmp_path), mask_dir=str(tmp_path / ".")).load()
    assert str(refused.value) == (
        f"data.source.mask_dir='{tmp_path}' is the folder of the images (data.source.path): each image would be "
        "read as its own mask; put the masks in a folder of their own, each named as its image (the default: "
        f"'{tmp_path / 'masks'}')")


@pytest.mark.parametrize("damage", ["not npy", "objects", "cut short"])
def test_a_damaged_npy_is_refused_with_its_fix_not_numpys_allow_pickle(tmp_path, damage):
    """numpy said 'This file contains pickled (object) data. If you trust the file you can load it unsafely using
    the `allow_pickle=` keyword argument' for any file that does not start as an NPY (a damaged download, another
    format named .npy), an image's or a table's (data=file), a fix no setting reaches."""
    from trainlab.data.files import read_frame

    root = make_folder(tmp_path / "sky", count=4, suffixes=("npy",))
    bad = root / "img2.npy"
    if damage == "not npy":
        bad.write_bytes(b"SIMPLE  =                    T garbage")
    elif damage == "objects":
        np.save(bad, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    else:
        bad.write_bytes(bad.read_bytes()[:300])
    said = {"not npy": r"is no NPY file \(its first bytes are not numpy's: damaged, or another format named .npy\); "
                       r"save the array again with numpy.save, or remove the file",
            "objects": r"holds an array of Python objects, not numbers; save a numeric array",
            "cut short": r"cannot be read as NPY \(.*\): it is damaged or was cut short; save the array again"}[damage]
    with pytest.raises(UserError, match=rf"^data.source.path: '.*img2.npy' {said}") as refusal:
        ImageFolder(str(root)).load()
    assert "allow_pickle" not in str(refusal.value)
    with pytest.raises(UserError, match=rf"^data.source.path: '.*img2.npy' {said}"):
        read_frame(str(bad), "data.source.path")  # a series file (data=file) is read by the same reader


def test_images_and_masks_in_formats_that_are_not_read_are_named(tmp_path, caplog):
    """JPEG images beside the PNGs were left out in the info line of README.txt's kind, and a folder of JPEG masks
    was refused as 'no mask for image' without naming the mask that was there."""
    from PIL import Image

    root = make_folder(tmp_path / "sky", count=4, suffixes=("npy",))
    Image.fromarray(np.full((32, 32), 60, np.uint8)).save(root / "extra.jpg")
    (root / "notes.txt").write_text("seeing 0.8")
    with caplog.at_level(logging.INFO):
        assert len(ImageFolder(str(root)).load().images) == 4
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "extra.jpg" in r.getMessage()]
    assert warned and ("1 image(s) in a format that is not read left out (extra.jpg): FITS, NPY, PNG and TIFF are "
                       "read; save them as PNG (lossless) to use them") in warned[0].getMessage()
    assert "1 file(s) that are no image left out (notes.txt)" in caplog.text
    mask = next((root / "masks").glob("img1.*"))
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "masks" / "img1.jpg")
    mask.unlink()
    with pytest.raises(UserError, match=r"no mask for image 'img1.npy' .*; it holds 'img1.jpg', in a format that is not "
                                        r"read: FITS, NPY, PNG and TIFF are read; save them as PNG"):
        ImageFolder(str(root)).load()
    only = tmp_path / "jpegs"
    (only / "masks").mkdir(parents=True)
    Image.fromarray(np.full((32, 32), 60, np.uint8)).save(only / "a.jpg")
    with pytest.raises(UserError, match=r"holds no images \(.*\), only 1 other file\(s\) \(a.jpg\); FITS, NPY, PNG and "
                                        r"TIFF are read; save them as PNG \(lossless\) to use them, or put the images"):
        ImageFolder(str(only)).load()


def test_a_folder_of_two_images_is_told_that_tiles_do_not_help(tmp_path):
    """Two images were told 'add images, or cut them with data.source.tile_size', but the tiles of one file stay in
    one split: pasted, data.source.tile_size=8 was refused the same way."""
    root = make_folder(tmp_path / "sky", count=2, suffixes=("npy",))
    dm = SkyDataModule(ImageFolder(str(root), tile_size=8), seed=0)
    with pytest.raises(UserError, match=r"^'sky' has 2 image file\(s\) with usable tiles; the tiles of one file stay in "
                                        r"one split .*, so data.source.tile_size does not help: a train/val/test split "
                                        r"needs at least 3 files; add images, or cut a large image into 3 or more"):
        dm.setup("fit")


def test_grey_and_colour_images_in_one_folder_are_named_as_such(tmp_path):
    """A folder of grey PNGs with one saved in colour was refused as '3 channel(s) but ... has 1' alone."""
    from PIL import Image

    root = make_folder(tmp_path / "sky", count=4, suffixes=("png",))
    grey = np.asarray(Image.open(root / "img2.png"))
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(root / "img2.png")
    with pytest.raises(UserError, match=r"^image 'img2.png' has 3 channel\(s\) but 'img0.png' has 1; all images must "
                                        r"have the same channels: save them all in one kind, grey or colour \('img2.png' "
                                        r"is colour \(RGB\), 'img0.png' grey; an image's transparency is no channel\)$"):
        ImageFolder(str(root)).load()


def test_a_split_of_one_label_is_warned_about_once_a_run_and_torchmetrics_says_it_no_more(compose_cfg, run_train,
                                                                                           tmp_path, caplog):
    """Six files leave one file each to val and test: each split holds tiles of one label. Its warning was said twice
    in a training run (the datasets are built again with the best checkpoint's statistics for the test), and
    torchmetrics' own 'No negative samples in targets ...' / 'No positive samples ...' followed it, in training and in
    evaluate.py (its curves and baselines), without the split's name."""
    import evaluate as evaluate_script

    root = make_folder(tmp_path / "sky", count=6, suffixes=("npy",))
    cfg = compose_cfg([*TINY_UNET, "data=sky_folder", f"data.source.path={root}", "data.batch_size=2",
                       "trainer.max_epochs=1"])
    with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.WARNING, "trainlab.data.image.module"):
        warnings.simplefilter("always")
        run_train(cfg)
        said = [r.getMessage() for r in caplog.records]
        caplog.clear()
        evaluate_script.evaluate(compose_cfg([f"ckpt_path={cfg.paths.output_dir}", "hardware.num_threads=1"],
                                             config_name="eval"))
        said_in_evaluation = [r.getMessage() for r in caplog.records]
    one_label = [text for text in said if "holds only" in text]
    assert sorted(one_label) == sorted(set(one_label)) and len(one_label) == 2, said
    assert any(text.startswith("the test split of 'sky' holds only clean tiles: image-level AUROC/AUPRC/MCC, and with no "
                               "anomalous pixel pixel AUPRC, IoU and Dice, are undefined there") for text in one_label)
    assert any(text.startswith("the val split of 'sky' holds only anomalous tiles: image-level AUROC/AUPRC/MCC are "
                               "undefined there") for text in one_label)
    assert len([text for text in said_in_evaluation if "holds only" in text]) == 2  # evaluate.py is a run of its own
    from trainlab.metrics.classification import ONE_CLASS_WARNING

    assert not [str(w.message) for w in seen if re.search(ONE_CLASS_WARNING, str(w.message))]


def test_torchmetrics_still_tells_of_targets_of_one_class_no_warning_of_ours_named():
    """Only where a warning of ours said it is torchmetrics' warning left out (trainlab.metrics.classification)."""
    from torchmetrics import MetricCollection
    from torchmetrics.classification import BinaryAUROC

    from trainlab.metrics.classification import one_class_said

    for said in (False, True):
        metrics = MetricCollection({"auroc": BinaryAUROC()})
        metrics.update(torch.tensor([0.2, 0.7]), torch.tensor([1, 1]))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with one_class_said(said, metrics):
                pass
            metrics.compute()  # as Lightning does after the epoch's hooks: the value kept inside
        assert bool([w for w in seen if "No negative samples in targets" in str(w.message)]) is not said
