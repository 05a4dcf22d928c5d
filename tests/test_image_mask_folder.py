"""A folder of images whose masks sit in a folder named otherwise than ``masks`` (``Masks``, ``mask``, ``labels``):
named in the refusal with the setting that reads it, never called a folder of images left unread."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from trainlab.config.errors import UserError
from trainlab.data.image.folder import ImageFolder


def _folder(root: Path, masks: str, count: int = 4) -> Path:
    rng = np.random.default_rng(0)
    (root / masks).mkdir(parents=True)
    for i in range(count):
        np.save(root / f"img{i}.npy", rng.normal(50.0, 5.0, (16, 16)).astype(np.float32))
        mask = np.zeros((16, 16), np.uint8)
        mask[2:5, 2:5] = i % 2
        np.save(root / masks / f"img{i}.npy", mask)
    return root


@pytest.mark.parametrize("name", ["Masks", "mask", "labels", "GT", "ground_truth", "masks_png"])
def test_a_mask_folder_of_another_name_is_named_with_the_setting_that_reads_it(tmp_path, caplog, name):
    """It was called 'a folder of images, which are not read' and then 'data.source.mask_dir=.../masks is not a
    folder; make it', as if there were no masks."""
    root = _folder(tmp_path / "sky", name)
    with caplog.at_level(logging.WARNING), pytest.raises(UserError) as refused:
        ImageFolder(str(root)).load()
    assert str(refused.value) == (
        f"data.source.mask_dir='{root / 'masks'}' is not a folder; the masks look to be in '{root / name}' (4 of the "
        f"4 images have a file of their name there): set data.source.mask_dir='{root / name}', or rename that "
        "folder 'masks'")
    assert "not read" not in caplog.text
    assert len(ImageFolder(str(root), mask_dir=str(root / name)).load().images) == 4  # the fix, pasted, reads them


def test_a_mask_folder_of_no_image_names_is_named_and_told_how_masks_are_named(tmp_path):
    root = _folder(tmp_path / "sky", "labels")
    for i, mask in enumerate(sorted((root / "labels").iterdir())):
        mask.rename(root / "labels" / f"label{i}.npy")
    with pytest.raises(UserError, match=r"the masks look to be in '.*labels' \(but no file there is named as an "
                                        r"image: a mask takes its image's name\)"):
        ImageFolder(str(root)).load()


def test_folders_of_other_names_are_not_taken_for_the_masks(tmp_path):
    """night2/ holding images of the images' names is no mask folder: the refusal stays the one of no masks."""
    root = _folder(tmp_path / "sky", "night2")
    with pytest.raises(UserError, match=r"mask_dir='.*masks' is not a folder; make it"):
        ImageFolder(str(root)).load()


def test_images_without_a_mask_are_counted_and_named_in_one_refusal(tmp_path):
    """Masks made for the anomalous images only: the refusal named the first image without one, and the next run
    the next, one image at a time."""
    root = _folder(tmp_path / "sky", "masks", count=6)
    for i in (1, 2, 4, 5):
        (root / "masks" / f"img{i}.npy").unlink()
    with pytest.raises(UserError, match=r"^no mask for image 'img1.npy' .*; every image needs one, all zeros when it "
                                        r"holds no anomaly \(4 of the 6 images lack one: img1, img2, img4, \.\.\.\); or set "
                                        r"data.source.missing_masks=clean to read an image without a mask as clean$"):
        ImageFolder(str(root)).load()
    (root / "masks" / "img1.npy").write_bytes((root / "masks" / "img0.npy").read_bytes())
    for i in (2, 4):
        (root / "masks" / f"img{i}.npy").write_bytes((root / "masks" / "img0.npy").read_bytes())
    with pytest.raises(UserError, match=r"^no mask for image 'img5.npy' .*holds no anomaly; or set "
                                        r"data.source.missing_masks=clean .*clean$"):  # one: no count
        ImageFolder(str(root)).load()
