"""An image of a folder smaller than data.source.tile_size: the refusal gives the tile size it takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainlab.config.errors import UserError
from trainlab.data.image.folder import ImageFolder


def _folder(root: Path, sides: list[int]) -> Path:
    (root / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, side in enumerate(sides):
        np.save(root / f"img{i}.npy", rng.normal(50.0, 5.0, (side, side)).astype(np.float32))
        np.save(root / "masks" / f"img{i}.npy", np.zeros((side, side), np.uint8))
    return root


def test_an_image_under_the_tile_size_is_told_the_tile_size_it_takes(tmp_path):
    """It said 'lower the tile size' alone: how far was left to guess, and moving the image out unsaid."""
    root = _folder(tmp_path / "sky", [64, 64, 20, 64])
    with pytest.raises(UserError) as refused:
        ImageFolder(str(root), tile_size=32).load()
    assert str(refused.value) == ("image 'img2.npy' (20x20) is smaller than data.source.tile_size=32; set "
                                  "data.source.tile_size=20 (its shorter side) or lower, or move that image out of "
                                  "the folder")
    assert len(ImageFolder(str(root), tile_size=20).load().images) == 3 * 16 + 1  # the fix, pasted, reads them


def test_an_image_under_the_smallest_tile_is_told_to_move_out(tmp_path):
    root = _folder(tmp_path / "sky", [64, 64, 6, 64])
    with pytest.raises(UserError, match=r"is smaller than data.source.tile_size=32; move that image out of the "
                                        r"folder \(tiles are at least 8 px\)$"):
        ImageFolder(str(root), tile_size=32).load()
