"""A folder of 8-bit PNGs beside 16-bit ones (scanned plates beside a camera's frames) was read without a word,
though one normalisation is fit over all its training tiles and the 16-bit values run 257 times as high: the 8-bit
images reached the net nearly flat. Integer depths that differ are said once; floats, in units of their own, are not
judged."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from trainlab.data.image.folder import ImageFolder


def _folder(root, depths):
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, depth in enumerate(depths):
        level = rng.normal(0.3, 0.02, (16, 16))
        if depth == "npy":
            np.save(root / f"im{i}.npy", (level * 255).astype(np.float32))
        else:
            top = 255 if depth == 8 else 65535
            Image.fromarray((level * top).astype(np.uint8 if depth == 8 else np.uint16)).save(root / f"im{i}.png")
        mask = np.zeros((16, 16), np.uint8)
        mask[2:4, 2:4] = 255 * (i % 2)
        Image.fromarray(mask).save(root / "masks" / f"im{i}.png")
    return root


def test_8_and_16_bit_images_in_one_folder_are_said_once_and_floats_beside_8_bit_are_not(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="trainlab"):
        ImageFolder(str(_folder(tmp_path / "mixed", (8, 8, 16, 16)))).load()
    assert caplog.text.count("are stored in types of different scale (uint16: 2 (e.g. 'im2.png'); uint8: 2 (e.g. "
                             "'im0.png')); one normalisation (data.normalize, fit on the training tiles) maps them all") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trainlab"):
        ImageFolder(str(_folder(tmp_path / "same", (8, 8, "npy", "npy")))).load()
        ImageFolder(str(_folder(tmp_path / "sixteen", (16, 16, 16)))).load()
    assert "types of different scale" not in caplog.text
