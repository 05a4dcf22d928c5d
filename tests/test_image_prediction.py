"""predict.py for an image run on its own: what it needs travels in the run (the checkpoint's normalisation, the
config's tile size and FITS HDU, the net's channels), not in the folder it was trained on."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trainlab
from tests.families import IMAGE
from tests.test_image import make_folder
from trainlab.config.errors import UserError

TINY_UNET = [o for o in IMAGE.tiny() if not o.startswith(("data=", "data.source."))]


def new_night(folder: Path, channels: int = 1) -> Path:
    """Two 32 x 32 images without masks, one with a bright square."""
    folder.mkdir()
    rng = np.random.default_rng(7)
    for name in ("a", "b"):
        image = rng.normal(50.0, 5.0, (channels, 32, 32)).astype(np.float32)
        if name == "b":
            image[:, 10:14, 10:14] += 100
        np.save(folder / f"{name}.npy", image[0] if channels == 1 else image)
    return folder


def predict(run: Path, images: Path, tmp_path: Path) -> pd.DataFrame:
    result = trainlab.predict(run, images=images, overrides=["hardware.num_threads=1", f"paths.log_dir={tmp_path}"])
    return pd.read_csv(result.forecast)


def test_a_folder_run_maps_new_images_after_its_training_folder_is_gone(tmp_path):
    """predict.py images=<folder> rebuilt the run's data: with the training folder moved away it was refused,
    'data.source.path=... is not a folder', though the checkpoint holds all a map needs."""
    root = make_folder(tmp_path / "sky", count=6, suffixes=("npy",))
    run = trainlab.train([*TINY_UNET, "data=sky_folder", f"data.source.path={root}", "data.batch_size=2",
                          "trainer.max_epochs=1", "logger=none", f"paths.log_dir={tmp_path / 'outputs'}"]).run_dir
    night = new_night(tmp_path / "night")
    before = predict(run, night, tmp_path)
    alone = predict(run, night / "b.npy", tmp_path)  # one image given as itself: its map is the folder's
    pd.testing.assert_frame_equal(alone, before[before.tile == "b.npy"].reset_index(drop=True))
    shutil.rmtree(root)
    after = predict(run, night, tmp_path)
    pd.testing.assert_frame_equal(before, after)
    assert list(after.tile) == ["b.npy", "a.npy"]  # the bright square first
    with pytest.raises(UserError, match=r"^\+data.source.path=\S+: an image run's predict.py maps images=<folder> "
                                        r"with the run's own data settings and the checkpoint's normalisation, and reads "
                                        r"none of its training images; leave it out$"):
        trainlab.predict(run, images=night, overrides=["hardware.num_threads=1", f"paths.log_dir={tmp_path}",
                                                       f"+data.source.path={night}"])
    with pytest.raises(UserError, match=r"^the images have 3 channel\(s\), the model was trained on 1; give images "
                                        r"with the run's channels$"):
        predict(run, new_night(tmp_path / "colour", channels=3), tmp_path)


def test_one_image_given_as_itself_is_mapped_and_another_file_is_refused(tmp_path):
    """predict.py images=new.fits (catalogue= takes a file) was refused 'is not a folder; give the folder holding
    your images', leaving the user to make a folder for one image."""
    from trainlab.prediction.image import UnmaskedFolder

    night = new_night(tmp_path / "night")
    tiles = UnmaskedFolder(str(night / "a.npy")).load()
    assert tiles.images.shape == (1, 1, 32, 32) and tiles.tile_names == ["a.npy"] and not tiles.masks.any()
    (night / "notes.txt").write_text("seeing 0.8")
    with pytest.raises(UserError, match=r"^images='.*notes.txt' is a file of no image format that is read "
                                        r"\(.fits.gz, .*\): give such an image, or a folder of them$"):
        UnmaskedFolder(str(night / "notes.txt")).load()


def test_image_names_that_are_no_text_are_written_as_text(tmp_path):
    """An image whose name's bytes are no text in the file system's encoding (a Latin-1 name from an old archive on a
    UTF-8 system; any non-ASCII name under LANG=C with PYTHONUTF8=0) reached Python with surrogates in it: predict.py
    mapped the folder, then failed writing anomaly_scores.csv with 'UnicodeEncodeError: ... surrogates not allowed',
    as a traceback. Its name is now written with the byte shown (\\xe9), a UTF-8 name as itself."""
    import os

    from trainlab.prediction.image import UnmaskedFolder, write

    night = tmp_path / "night"
    night.mkdir()
    image = np.random.default_rng(0).normal(50.0, 5.0, (32, 32)).astype(np.float32)
    for name in (b"\xe9toile.npy", "nébuleuse.npy".encode("utf-8")):
        with open(os.path.join(os.fsencode(night), name), "wb") as f:
            np.save(f, image)
    tiles = UnmaskedFolder(str(night)).load()  # predict.py's images=<folder>
    assert set(tiles.tile_names) == {"nébuleuse.npy", "\\xe9toile.npy"}
    out = tmp_path / "out"
    out.mkdir()
    write(tiles, np.zeros((2, 32, 32), dtype=np.float32), np.array([0.25, 0.5]), out)
    assert set(pd.read_csv(out / "anomaly_scores.csv").tile) == {"nébuleuse.npy", "\\xe9toile.npy"}
