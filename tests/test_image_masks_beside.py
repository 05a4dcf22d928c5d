"""Masks saved beside their images (``camera_mask.png`` next to ``camera.png``, as many labelling tools save them),
without the masks folder: the refusal says where they are and what to do with them; it said to make the folder, as
for a folder that holds no mask at all."""

from __future__ import annotations

import shutil

import pytest

from tests.test_image import make_folder
from trainlab.config.errors import UserError
from trainlab.data.image.folder import ImageFolder


def test_masks_among_the_images_are_named_with_where_they_go(tmp_path):
    root = make_folder(tmp_path / "sky", count=4, suffixes=("fits.gz", "png"))
    for mask in (root / "masks").iterdir():
        image = next(root.glob(f"{mask.name.split('.')[0]}.*"))
        shutil.move(mask, root / f"{image.name.split('.')[0]}_mask.{mask.name.split('.', 1)[1]}")
    (root / "masks").rmdir()
    with pytest.raises(UserError, match=r"mask_dir='.*sky/masks' is not a folder; the masks are among the images in "
                                        r"'.*sky' \('img0_mask.npy' beside 'img0.fits.gz', and 3 more\): move them "
                                        r"into '.*sky/masks', each named as its image \('img0.npy'\)$"):
        ImageFolder(str(root)).load()


def test_a_folder_without_masks_is_told_to_make_the_folder(tmp_path):
    root = make_folder(tmp_path / "sky", count=4)
    shutil.rmtree(root / "masks")
    (root / "img0_north.png").write_bytes((root / "img2.png").read_bytes())  # another image, not a mask
    with pytest.raises(UserError, match=r"is not a folder; make it, with one mask per image"):
        ImageFolder(str(root)).load()
