"""Images of more than 4 channels and masks of several planes: a stack of N images saved in one NPY or FITS file
(N, H, W) was read as one image of N channels, and its (N, H, W) mask merged into one, without a word. A multi-band
cube (ugriz) is read so rightly, so such an image is read as before and said once; a mask of planes that differ is
refused naming the file, its planes and data.source.mask_planes=any, which merges them (planes all equal are one
mask either way)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from trainlab.config.errors import UserError
from trainlab.data.image.folder import ImageFolder


def _folder(tmp_path, shape, mask_shape, suffix="npy"):
    root = tmp_path / "sky"
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        image = rng.normal(100, 5, shape).astype(np.float32)
        mask = np.zeros(mask_shape, dtype=np.uint8)
        mask[..., 10:14, 10:14] = 1
        if mask.ndim == 3 and len(mask) > 1:
            mask[1:, 20:24, 20:24] = 1  # planes that differ: a stack of masks, or one per class
        if suffix == "fits":
            fits.PrimaryHDU(image).writeto(root / f"im{i}.fits")
            fits.PrimaryHDU(mask).writeto(root / "masks" / f"im{i}.fits")
        else:
            np.save(root / f"im{i}.npy", image)
            np.save(root / "masks" / f"im{i}.npy", mask)
    return root


def test_a_stack_of_8_images_is_said_once_and_its_8_plane_mask_refused_naming_file_planes_and_setting(tmp_path,
                                                                                                       caplog):
    root = _folder(tmp_path, (8, 32, 32), (8, 32, 32))
    with pytest.raises(UserError, match=r"^mask '.*im0.npy' holds 8 planes \(8, 32, 32\) that differ \(plane 1 is not "
                                        r"plane 0\): a mask is one plane, of one image; if the planes are the masks "
                                        r"of 8 images, save each image and its mask to files of their own; if they are "
                                        r"classes .* set data.source.mask_planes=any to read a pixel set in any plane"):
        ImageFolder(str(root)).load()
    with caplog.at_level("INFO", logger="trainlab"):
        tiles = ImageFolder(str(root), mask_planes="any").load()
    assert tiles.images.shape == (3, 8, 32, 32) and tiles.masks.shape == (3, 32, 32)
    assert int(tiles.masks[0].sum()) == 32  # the pixels of plane 0 and of the other planes
    assert caplog.text.count("3 image(s) of more than 4 channels (e.g. 'im0.npy': (8, 32, 32) read as one image of "
                             "8 channels (bands)); if these are 8 images, save each to its own file") == 1
    assert caplog.text.count("3 mask(s) of several planes (e.g. 'im0.npy': (8, 32, 32)) read as one, a pixel set in "
                             "any plane anomalous (data.source.mask_planes=any)") == 1


def test_a_mask_of_equal_planes_is_one_mask_without_a_setting(tmp_path):
    root = _folder(tmp_path, (32, 32), (1, 32, 32))
    for i in range(3):
        np.save(root / "masks" / f"im{i}.npy", np.repeat(np.load(root / "masks" / f"im{i}.npy"), 3, axis=0))
    tiles = ImageFolder(str(root)).load()
    assert int(tiles.masks[0].sum()) == 16


def test_a_five_band_fits_cube_with_one_mask_is_said_as_bands_and_its_mask_not(tmp_path, caplog):
    root = _folder(tmp_path, (5, 32, 32), (32, 32), suffix="fits")
    with caplog.at_level("WARNING", logger="trainlab"):
        tiles = ImageFolder(str(root)).load()
    assert tiles.images.shape == (3, 5, 32, 32)
    assert "'im0.fits': (5, 32, 32) read as one image of 5 channels (bands)" in caplog.text
    assert "several planes" not in caplog.text


def test_four_channels_and_a_one_plane_mask_are_not_warned_about(tmp_path, caplog):
    root = _folder(tmp_path, (4, 32, 32), (1, 32, 32))
    with caplog.at_level("WARNING", logger="trainlab"):
        ImageFolder(str(root)).load()
    assert "channels (bands)" not in caplog.text and "several planes" not in caplog.text
