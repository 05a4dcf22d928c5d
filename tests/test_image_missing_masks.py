"""Images without a mask: a survey that masks only its anomalous images was refused, one missing mask counted, with
no way to say "no mask means clean". data.source.missing_masks=clean reads them as clean (off by default; the
refusal names the setting), and a warning counts and names the images so read."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tests.test_image import TINY_UNET, make_folder
from trainlab.config.errors import UserError
from trainlab.data.image.folder import ImageFolder


def _masks_of_anomalous_images_only(tmp_path):
    root = make_folder(tmp_path / "sky", count=6, suffixes=("npy",))
    for i in (0, 2, 4):  # the clean images' masks (all zeros) were never written
        (root / "masks" / f"img{i}.npy").unlink()
    return root


def test_a_missing_mask_is_refused_by_default_naming_the_setting_and_read_as_clean_with_it(tmp_path, caplog):
    root = _masks_of_anomalous_images_only(tmp_path)
    with pytest.raises(UserError, match=r"^no mask for image 'img0.npy' .*\(3 of the 6 images lack one: img0, img2, "
                                        r"img4\); or set data.source.missing_masks=clean to read an image without a "
                                        r"mask as clean$"):
        ImageFolder(str(root)).load()
    with caplog.at_level(logging.WARNING, logger="trainlab"):
        tiles = ImageFolder(str(root), missing_masks="clean").load()
    assert [bool(m.any()) for m in tiles.masks] == [False, True, False, True, False, True]
    assert caplog.text.count("3 of the 6 images have no mask in") == 1
    assert ("are read as clean (data.source.missing_masks=clean): img0.npy, img2.npy, img4.npy") in caplog.text


def test_the_settings_values_are_checked_where_the_config_is_read(compose_cfg, run_train, tmp_path):
    root = _masks_of_anomalous_images_only(tmp_path)
    for key, value, allowed in (("missing_masks", "Clean", "'refuse' or 'clean'"), ("mask_planes", "all",
                                                                                  "'refuse' or 'any'")):
        with pytest.raises(UserError, match=rf"data.source.{key}='{value}' must be {allowed}"):
            run_train(compose_cfg([*TINY_UNET, "data=sky_folder", f"data.source.path={root}",
                                   f"data.source.{key}={value}"]))
    with pytest.raises(UserError, match="is not one of refuse, clean"):
        ImageFolder(str(root), missing_masks="yes")
    metrics = run_train(compose_cfg([*TINY_UNET, "data=sky_folder", f"data.source.path={root}",
                                     "data.source.missing_masks=clean", "trainer.max_epochs=1"]))
    assert np.isfinite(metrics["val/loss"])  # trained, on 3 clean and 3 anomalous images
