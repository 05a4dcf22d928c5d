"""The sky-image data module: quality checks, a seeded split by sky region, robust normalisation fit on
the training tiles, and flips / 90-degree rotations for training (sources: trainlab.data.image.sources and .folder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, Optional, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from trainlab.data.module import SplitDataModule
from trainlab.data.image.folder import ImageFolder
from trainlab.data.image.sources import SkyTiles
from trainlab.data.sampling import EpochSeededSampler
from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

NORMALISATIONS = ("asinh", "percentile", "none")


MAX_FILLED = 0.5  # tiles with up to this share of NaN/inf pixels are kept, those pixels filled
NORMALISE_CHUNK = 64 * 2**20  # bytes of float64 temporaries normalise() holds at a time


def fill_holes(images: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Fill NaN/inf pixels of (tiles, C, H, W) images with the median of their tile and channel, in
    tiles where at most ``MAX_FILLED`` of the pixels are NaN/inf (bad pixels, a mosaic's blank edge:
    dropping a whole image for one of them would lose most FITS files). Returns the images (a copy when
    something was filled), the pixels filled and the tiles they lie in."""
    holes = ~np.isfinite(images)  # (tiles, C, H, W)
    share = holes.reshape(len(images), -1).mean(axis=1)
    fixable = (share > 0) & (share <= MAX_FILLED)
    if not fixable.any():
        return images, 0, 0
    images = images.copy()
    for i in np.flatnonzero(fixable):
        for c in range(images.shape[1]):
            gap = holes[i, c]
            if gap.any() and not gap.all():  # a channel with no value at all stays NaN: the tile is dropped
                images[i, c][gap] = np.median(images[i, c][~gap])
    filled = fixable[:, None, None, None] & holes & np.isfinite(images)
    return images, int(filled.sum()), int(filled.reshape(len(images), -1).any(axis=1).sum())


def quality_check(tiles: SkyTiles) -> tuple[SkyTiles, dict[str, int]]:
    """Fill the NaN/inf pixels of tiles that have a few (:func:`fill_holes`); drop tiles with more, and
    constant tiles (a blank detector area, padding).

    Returns the kept tiles and the counts: ``tiles`` (before), ``rejected_nonfinite``, ``rejected_constant``,
    ``filled_pixels`` and ``filled_tiles``.
    """
    images, filled_pixels, filled_tiles = fill_holes(tiles.images)
    flat = images.reshape(len(images), -1)
    nonfinite = ~np.isfinite(flat).all(axis=1)
    constant = np.zeros_like(nonfinite)
    finite = flat[~nonfinite]
    if len(finite):
        constant[~nonfinite] = finite.max(axis=1) == finite.min(axis=1)
    keep = ~(nonfinite | constant)
    counts = {"tiles": int(len(flat)), "rejected_nonfinite": int(nonfinite.sum()),
              "rejected_constant": int(constant.sum()), "filled_pixels": filled_pixels, "filled_tiles": filled_tiles}
    filled = (f"; filled {filled_pixels} NaN/inf pixel(s) in {filled_tiles} tile(s) with their tile's median"
              if filled_pixels else "")
    log.info("quality check of %s: kept %d of %d tiles; rejected %d with NaN/inf (in more than %d%% of their "
             "pixels), %d constant%s", tiles.name, int(keep.sum()), counts["tiles"], counts["rejected_nonfinite"],
             100 * MAX_FILLED, counts["rejected_constant"], filled)
    if not keep.any():
        raise UserError(f"every tile of '{tiles.name}' is NaN/inf ({counts['rejected_nonfinite']}) or constant "
                        f"({counts['rejected_constant']}); nothing is left to train on")
    if keep.all():  # nothing dropped: no copy of every tile (a folder of large images holds gigabytes)
        return (tiles if images is tiles.images else SkyTiles(tiles.name, images, tiles.masks, tiles.groups,
                                                              tiles.tile_names, tiles.channel_names,
                                                              tiles.reference_pair, tiles.kinds)), counts
    kept = SkyTiles(tiles.name, images[keep], tiles.masks[keep], tiles.groups[keep],
                    [n for n, k in zip(tiles.tile_names, keep) if k], tiles.channel_names, tiles.reference_pair,
                    None if tiles.kinds is None else [n for n, k in zip(tiles.kinds, keep) if k])
    return kept, counts


def one_class_note(split: str, name: str, label: str) -> str:
    """The warning for a split of ``name`` whose tiles are all ``label`` ("clean" or "anomalous"): which of its
    scores are undefined, and what they are logged as."""
    undefined = ("image-level AUROC/AUPRC/MCC, and with no anomalous pixel pixel AUPRC, IoU and Dice, are"
                 if label == "clean" else "image-level AUROC/AUPRC/MCC are")
    return (f"the {split} split of '{name}' holds only {label} tiles: {undefined} undefined there, logged and "
            "recorded as NaN (not as a score); a split takes whole image files or sky regions: add images, or try "
            "another data.seed")


def fit_stats(images: np.ndarray, percentiles: Sequence[float], seed: int,
              max_pixels: int = 1_000_000) -> dict[str, np.ndarray]:
    """Per-channel median, robust sigma (1.4826 MAD) and the two percentiles of (tiles, C, H, W) images.

    At most ``max_pixels`` pixels per channel (a seeded sample) are used, so memory stays bounded.
    Where more than half the pixels hold one value (a simulated or sky-subtracted image: exact zeros with a
    few sources), the MAD is 0 and the percentiles may meet: the scale is then taken from the pixels that
    differ from the median (the sources), in the data's own units; a fixed 1 would leave fluxes of 1e-18
    as 1e-18 after normalising, an image the net sees as blank. Only a channel with one value everywhere
    gets 1.
    """
    per_channel = np.moveaxis(images, 1, 0).reshape(images.shape[1], -1)  # (C, pixels)
    if per_channel.shape[1] > max_pixels:
        pick = np.random.default_rng(seed).choice(per_channel.shape[1], max_pixels, replace=False)
        per_channel = per_channel[:, pick]
    per_channel = per_channel.astype(np.float64)  # after the sample: memory stays bounded
    median = np.median(per_channel, axis=1)
    deviation = np.abs(per_channel - median[:, None])
    sigma = 1.4826 * np.median(deviation, axis=1)
    low, high = np.percentile(per_channel, percentiles, axis=1)
    spread = high - low
    for c in np.flatnonzero((sigma <= 0) | (spread <= 0)):
        differ = deviation[c][deviation[c] > 0]  # the pixels off the flat sky: their typical size and extent
        typical = float(np.median(differ)) if len(differ) else 1.0
        if sigma[c] <= 0:
            sigma[c] = typical
        if spread[c] <= 0:
            spread[c] = float(np.ptp(per_channel[c])) or 1.0
        log.info("normalisation: channel %d has the value %.4g in more than half its training pixels; its scale is "
                 "taken from the %d pixel(s) that differ (sigma %.4g, percentile range %.4g)", c, median[c],
                 len(differ), sigma[c], spread[c])
    return {"median": median, "sigma": sigma, "low": low, "high": low + spread}


def normalise(images: np.ndarray, stats: dict[str, np.ndarray], method: str, softening: float) -> np.ndarray:
    """Map raw fluxes to a range a network trains well on, with statistics fit on training tiles.

    asinh: ``asinh((x - median) / (softening * sigma))`` (Lupton, Gunn & Szalay 1999): linear within a
    few noise sigmas of the sky, logarithmic for bright sources, so faint and bright features both
    stay visible. percentile: ``(x - low) / (high - low)`` maps the two percentiles to 0 and 1, not
    clipped (an anomaly brighter than the high percentile stays brighter). none: unchanged.
    """
    shape = (1, -1, 1, 1)  # broadcast per channel over (tiles, C, H, W)
    if method == "asinh":
        scale = softening * stats["sigma"].reshape(shape)
        median = stats["median"].reshape(shape)

        def mapped(chunk: np.ndarray) -> np.ndarray:
            return np.arcsinh((chunk - median) / scale)
    elif method == "percentile":
        low, high = stats["low"].reshape(shape), stats["high"].reshape(shape)

        def mapped(chunk: np.ndarray) -> np.ndarray:
            return (chunk - low) / (high - low)
    else:
        return images.astype(np.float32)
    # a few tiles at a time into the float32 result: the statistics are float64, so the whole array at once
    # held three float64 temporaries of it (6x its float32 size: 3.0 GB for 1,728 tiles of 256 x 256)
    out = np.empty(images.shape, dtype=np.float32)
    step = max(1, NORMALISE_CHUNK // max(1, images[:1].size * 8))
    for first in range(0, len(images), step):
        out[first : first + step] = mapped(images[first : first + step])
    return out


class TileDataset(Dataset):
    """(images (C, H, W), masks (H, W)) tiles; with ``augment``, each index comes with a transform code.

    A code k in 0..7 stands for one of the 8 symmetries of the square (``k % 4`` quarter turns,
    then a left-right flip when ``k >= 4``); the sky has no preferred orientation, so each is as likely.
    """

    def __init__(self, images: torch.Tensor, masks: torch.Tensor):
        self.images, self.masks = images, masks  # (N, C, H, W) float32, (N, H, W) float32 in {0, 1}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item: Union[int, tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        images, masks = self.__getitems__([item])
        return images[0], masks[0]

    def __getitems__(self, items: Sequence[Union[int, tuple[int, int]]]) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [(i, 0) if isinstance(i, int) else i for i in items]
        index = torch.as_tensor([i for i, _ in pairs], dtype=torch.long)
        images, masks = self.images[index], self.masks[index]  # (batch, C, H, W), (batch, H, W)
        codes = [code for _, code in pairs]
        if any(codes):
            images = torch.stack([dihedral(x, k) for x, k in zip(images, codes)])
            masks = torch.stack([dihedral(m, k) for m, k in zip(masks, codes)])
        return images, masks


def dihedral(x: torch.Tensor, code: int) -> torch.Tensor:
    """One of the 8 symmetries of the square on the last two axes (see TileDataset)."""
    x = torch.rot90(x, code % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if code >= 4 else x


class AugmentingSampler(EpochSeededSampler):
    """Random order and a symmetry per sample, both drawn from (seed, epoch) only: a resumed run sees
    the same augmented epoch as an uninterrupted one, with or without loader workers."""

    CODES: tuple[int, ...] = tuple(range(8))  # every symmetry of the square (see TileDataset)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=generator).tolist()
        drawn = torch.randint(0, len(self.CODES), (self.num_samples,), generator=generator).tolist()
        return iter(zip(order, (self.CODES[i] for i in drawn)))


class RectangleAugmentingSampler(AugmentingSampler):
    """For tiles that are not square (whole images of 1021 x 769): a quarter turn would swap their height and
    width, and a batch of both shapes cannot be stacked; only the symmetries of a rectangle are drawn
    (unchanged, a half turn, a left-right flip, an up-down flip)."""

    CODES = (0, 2, 4, 6)


class SkyDataModule(SplitDataModule):
    """Sky tiles with pixel masks of anomalies, for a segmentation net.

    After loading, tiles holding NaN/inf or constant values are dropped (counted in ``quality``).
    The split is seeded and by ``groups`` (sky position, or source file), so no sky is shared between
    training, validation and test. Normalisation statistics (per channel) are fit on the training
    tiles only and saved in every checkpoint (``state_dict``). A tile is anomalous (image label 1)
    when any pixel of its mask is set.

    Args:
        source: object with ``load() -> SkyTiles`` (trainlab.data.image.sources).
        normalize: "asinh" (default), "percentile" or "none" (see :func:`normalise`).
        asinh_softening: the asinh stretch's linear range, in background sigmas.
        percentiles: low and high percentile of the percentile stretch.
        augment: random flips and 90-degree rotations of training tiles (never of validation or test);
            flips and half turns only for tiles that are not square.
        batch_size: training batch size; validation and test use ``val_batch_multiplier`` times it.
        val_fraction, test_fraction: shares of groups (sky positions or files) for validation and test.
        seed: seeds the split, the training order and the augmentation.
    """

    STATS = ("median", "sigma", "low", "high")  # per channel, fit on the training tiles
    TRAINED_WITH = ("normalize", "asinh_softening", "percentiles")  # evaluate.py keeps them
    SAMPLES = "tiles"
    MAX_BATCH_PIXELS = 2**26  # pixels per batch and channel (16 tiles of 2048 x 2048) above which a warning says so

    family = "image"  # trainlab.config.families: models and data of one family go together

    def __init__(
        self,
        source: Any,
        normalize: str = "asinh",
        asinh_softening: float = 1.0,
        percentiles: Sequence[float] = (1.0, 99.5),
        augment: bool = True,
        batch_size: int = 16,
        val_batch_multiplier: int = 2,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 3407,
    ):
        super().__init__(batch_size, val_batch_multiplier, val_fraction, test_fraction, seed, "tiles")
        if normalize not in NORMALISATIONS:
            raise UserError(f"data.normalize={normalize!r} is not one of {', '.join(NORMALISATIONS)}")
        if asinh_softening <= 0:
            raise UserError(f"data.asinh_softening={asinh_softening} must be > 0")
        if len(percentiles) != 2 or not 0 <= percentiles[0] < percentiles[1] <= 100:
            raise UserError(f"data.percentiles={list(percentiles)} must be [low, high] with 0 <= low < high <= 100")
        self.source, self.normalize, self.asinh_softening = source, normalize, asinh_softening
        self.percentiles = [float(p) for p in percentiles]
        self.augment = augment
        self.tiles: Optional[SkyTiles] = None
        self.quality: dict[str, int] = {}
        self.stats: dict[str, np.ndarray] = {}
        self.indices: dict[str, np.ndarray] = {}  # split -> rows of self.tiles
        # split -> "clean" or "anomalous" where it holds tiles of that label only: its threshold-free scores are
        # undefined, which the warning of one_class_note says (the segmentation module keeps torchmetrics' own quiet)
        self.one_class: dict[str, str] = {}
        self.datasets: dict[str, TileDataset] = {}

    # -- sizes the model needs, known after load() -------------------------------------------
    def load(self) -> SkyTiles:
        """Read the source and drop bad tiles, once; ``setup`` calls it, train.py calls it for sizes."""
        if self.tiles is None:
            self.tiles, self.quality = quality_check(self.load_source(self.source, SkyTiles, "trainlab.data.image.sources"))
        return self.tiles

    @property
    def dims(self) -> dict[str, int]:
        """Sizes the net takes from the data: ``in`` (image channels), ``out`` (1: one anomaly map)."""
        return {"in": int(self.load().images.shape[1]), "out": 1}

    @property
    def tile_shape(self) -> tuple[int, int]:
        """(H, W) of every tile, for the pipeline's check against the net's downsampling."""
        return tuple(int(n) for n in self.load().images.shape[-2:])

    def model_kwargs(self) -> dict[str, Any]:
        """Nothing from the data is needed by the segmentation module beyond the sizes in ``dims``."""
        return {}

    # -- split and normalise -----------------------------------------------------------------
    def _split(self, tiles: SkyTiles) -> dict[str, np.ndarray]:
        groups = np.unique(tiles.groups)
        if len(groups) < 3 and isinstance(self.source, ImageFolder):  # tiles of one file: one split, however small
            raise UserError(f"'{tiles.name}' has {len(groups)} image file(s) with usable tiles; the tiles of one file "
                            "stay in one split (beside a training tile, a test tile would be scored on sky training "
                            "saw), so data.source.tile_size does not help: a train/val/test split needs at least 3 "
                            "files; add images, or cut a large image into 3 or more files, one per part of the sky")
        if len(groups) < 3:
            raise UserError(f"'{tiles.name}' has {len(groups)} sky region(s)/file(s) with usable tiles; a "
                            "train/val/test split needs at least 3 (add images, or cut them with "
                            "data.source.tile_size)")
        labels = tiles.masks.reshape(len(tiles.masks), -1).any(axis=1)
        if not labels.any():  # often masks written as 0..1 floats and saved as integers: all zeros
            raise UserError(f"no mask of '{tiles.name}' marks an anomalous pixel ({len(labels)} tiles); the U-Net "
                            "would learn that nothing is ever anomalous: check the masks (non-zero where a pixel is "
                            "anomalous), or add images that hold anomalies")
        marked = float(tiles.masks.mean())
        if marked > 0.5:  # anomalies are rare: a mask of mostly ones is likely written the other way round
            self.warn_once(log, "the masks of '%s' mark %.1f%% of all pixels anomalous; if they mark where the sky is "
                           "clean (0 = anomalous), invert them: a mask is non-zero where a pixel is anomalous (a U-Net "
                           "calling every pixel anomalous scores pixel IoU %.2f on them)", tiles.name, 100 * marked, marked)
        order = np.random.default_rng(self.seed).permutation(groups)
        n_test = max(1, int(round(len(groups) * self.test_fraction)))
        n_val = max(1, int(round(len(groups) * self.val_fraction)))
        parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
        if len(parts["train"]) == 0:
            raise UserError(f"no sky region of '{tiles.name}' is left for training; lower data.val_fraction "
                            "or data.test_fraction")
        split = {name: np.flatnonzero(np.isin(tiles.groups, members)) for name, members in parts.items()}
        self.one_class = {}
        for name, rows in split.items():
            share = labels[rows].mean()
            if share in (0.0, 1.0):  # AUROC, AUPRC and the curves need both classes
                self.one_class[name] = "anomalous" if share else "clean"
                self.warn_once(log, "%s", one_class_note(name, tiles.name, self.one_class[name]))
        return split

    def _warn_large_batches(self, tiles: SkyTiles) -> None:
        """Whole images of 8192 x 8192 (``data.source.tile_size=null``) in batches of 16 are 1e9 input pixels
        a step, and a U-Net keeps several feature maps of each: the step runs out of memory after the whole
        setup. Said once, before training, with the key that cuts them."""
        height, width = tiles.images.shape[2:]
        pixels = self.batch_size * height * width
        text = (f"a batch of {self.batch_size} tiles of {height} x {width} px holds {pixels:.2g} pixels per channel "
                f"({pixels * tiles.images.shape[1] * 4 / 1e9:.1f} GB of float32 input); a U-Net keeps feature maps many "
                "times that: cut the images with data.source.tile_size (e.g. 256) or lower data.batch_size")
        if pixels > self.MAX_BATCH_PIXELS:
            self.warn_once(log, "%s", text)

    def setup(self, stage: Optional[str] = None) -> None:
        if not self.datasets:
            self._build_datasets()

    def _build_datasets(self) -> None:
        tiles = self.load()
        self._warn_large_batches(tiles)
        self.indices = self._split(tiles)
        if not self.stats:  # a checkpoint's statistics, when loaded, take precedence
            self.stats = fit_stats(tiles.images[self.indices["train"]], self.percentiles, self.seed)
        for name, rows in self.indices.items():  # split by split: no normalised copy of every tile beside them
            images = normalise(tiles.images[rows], self.stats, self.normalize, self.asinh_softening)
            self.datasets[name] = TileDataset(torch.from_numpy(images),
                                              torch.from_numpy(tiles.masks[rows].astype(np.float32)))
        self.log_once(log, "tiles: train %d, val %d, test %d (%d x %d px, %d channel(s)); anomalous share %.2f",
                      *(len(self.datasets[s]) for s in ("train", "val", "test")), *tiles.images.shape[2:],
                      tiles.images.shape[1], self.anomalous_share())

    def anomalous_share(self, split: Optional[str] = None) -> float:
        """Share of tiles with at least one anomalous pixel (all tiles, or one split's)."""
        masks = self.load().masks if split is None else self.load().masks[self.indices[split]]
        return float(masks.reshape(len(masks), -1).any(axis=1).mean())

    # -- loaders -----------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        height, width = self.load().images.shape[2:]
        sampler = (AugmentingSampler if height == width else RectangleAugmentingSampler) if self.augment else EpochSeededSampler
        return self.batched_loader(self.datasets["train"], train=True, sampler=sampler)

    def _eval_loader(self, split: str) -> DataLoader:
        return self.batched_loader(self.datasets[split], train=False)

    # -- checkpointed state: SplitDataModule saves and checks self.stats --------------------------
    def size_differences(self, state: dict[str, Any]) -> list[str]:
        """As :meth:`SplitDataModule.size_differences`, in channels (the statistics are per channel): 'median has
        1 value(s) in the checkpoint, 3 here' named a statistic the user never set."""
        if not super().size_differences(state):
            return []
        return [f"the images have {np.size(self.stats['median'])} channel(s), the model was trained on "
                f"{np.size(state['median'])}"]

    def _restore_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.stats = stats
        if self.datasets:  # Lightning restores state after setup(): normalise again with these statistics
            self.datasets = {}
            self._build_datasets()
