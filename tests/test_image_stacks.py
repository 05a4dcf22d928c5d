"""Images of more than 4 channels and masks of several planes: a stack of N images saved in one NPY or FITS file
(N, H, W) was read as one image of N channels, and its (N, H, W) mask merged into one, without a word. A multi-band
cube (ugriz) is read so rightly, so both are read as before and said once each."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from trainlab.data.image.sources import ImageFolder


def _folder(tmp_path, shape, mask_shape, suffix="npy"):
    root = tmp_path / "sky"
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        image = rng.normal(100, 5, shape).astype(np.float32)
        mask = np.zeros(mask_shape, dtype=np.uint8)
        mask[..., 10:14, 10:14] = 1
        if suffix == "fits":
            fits.PrimaryHDU(image).writeto(root / f"im{i}.fits")
            fits.PrimaryHDU(mask).writeto(root / "masks" / f"im{i}.fits")
        else:
            np.save(root / f"im{i}.npy", image)
            np.save(root / "masks" / f"im{i}.npy", mask)
    return root


def test_a_stack_of_8_images_and_its_8_plane_mask_are_each_said_once(tmp_path, caplog):
    root = _folder(tmp_path, (8, 32, 32), (8, 32, 32))
    with caplog.at_level("WARNING", logger="trainlab"):
        tiles = ImageFolder(str(root)).load()
    assert tiles.images.shape == (3, 8, 32, 32) and tiles.masks.shape == (3, 32, 32)
    assert caplog.text.count("3 image(s) of more than 4 channels (e.g. 'im0.npy': (8, 32, 32) read as one image of "
                             "8 channels (bands)); if these are 8 images, save each to its own file") == 1
    assert caplog.text.count("3 mask(s) of several planes (e.g. 'im0.npy': (8, 32, 32)) merged into one mask: a mask "
                             "is per pixel of one image, and a pixel set in any plane is read as anomalous") == 1


def test_a_five_band_fits_cube_with_one_mask_is_said_as_bands_and_its_mask_not(tmp_path, caplog):
    root = _folder(tmp_path, (5, 32, 32), (32, 32), suffix="fits")
    with caplog.at_level("WARNING", logger="trainlab"):
        tiles = ImageFolder(str(root)).load()
    assert tiles.images.shape == (3, 5, 32, 32)
    assert "'im0.fits': (5, 32, 32) read as one image of 5 channels (bands)" in caplog.text
    assert "merged into one mask" not in caplog.text


def test_four_channels_and_a_one_plane_mask_are_not_warned_about(tmp_path, caplog):
    root = _folder(tmp_path, (4, 32, 32), (1, 32, 32))
    with caplog.at_level("WARNING", logger="trainlab"):
        ImageFolder(str(root)).load()
    assert "channels (bands)" not in caplog.text and "merged into one mask" not in caplog.text
