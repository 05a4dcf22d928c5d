"""predict.py for an image run: anomaly maps of a folder of sky images that have no masks.

The images are read as ``data=sky_folder`` reads a folder (FITS, NPY, PNG or TIFF; cut into the run's tiles,
the quality check's filling and dropping of bad tiles), normalised with the checkpoint's statistics as
its training tiles were (the run's own images are not read: :func:`restore_for_images`), and given to the model: a map of each pixel's anomaly probability
(``anomaly_map``) and the tile's score (``image_score``), as evaluate.py times and scores them.
Writes ``anomaly_scores.csv`` (a tile per row, the most anomalous first), ``anomaly_maps.npz`` (the maps,
float16, with the tile names) and ``anomaly_maps.png`` (the highest-scoring tiles beside their maps).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from trainlab.config.errors import UserError
from trainlab.data.image.files import SUFFIXES, image_suffix
from trainlab.data.image.folder import ImageFolder

log = logging.getLogger(__name__)

SHOWN = 4  # tiles drawn in anomaly_maps.png, the highest scores
BATCH = 16


class UnmaskedFolder(ImageFolder):
    """A folder of images read as :class:`ImageFolder` reads one, without masks: each image's mask is
    empty (it is not read; nothing is scored). Its own folder stands in for the mask folder it checks.
    Refusals name ``images=`` (the setting the user gave) and the run's tile size as a given."""

    KEY = "images"
    NO_IMAGES = "give the folder of the sky images to map"
    TOO_SMALL = "the run learned tiles of that side: give images at least that large"
    HDU_KEY = "the run's data.source.hdu"
    # the run's tile size is kept (+data.source.tile_size is refused): whole images are mapped in one array
    SIZES_FIX = ("the run took whole images (its data.source.tile_size is null), which are mapped together: give a "
                 "folder of images of one size, and one folder for each other size")
    HDU_FIX = "as the run read its own images (a run trained with data.source.hdu=<index or EXTNAME> reads that one)"

    def __init__(self, path: str, tile_size: Optional[int] = None, hdu: Optional[Union[int, str]] = None):
        super().__init__(path, mask_dir=path, tile_size=tile_size, hdu=hdu)

    def _too_small(self, side: int) -> str:
        return self.TOO_SMALL  # the run's tile size is its net's: no other is read here

    def _files(self) -> list[Path]:
        # one image given as itself (images=new.fits, as catalogue= takes a file): mapped alone; it was refused
        # as 'not a folder', leaving the user to make a folder for it
        if self.path.is_file():
            if image_suffix(self.path) is None:
                raise UserError(f"{self.KEY}='{self.path}' is a file of no image format that is read "
                                f"({', '.join(SUFFIXES)}): give such an image, or a folder of them")
            return [self.path]
        return super()._files()

    def _masks(self) -> dict[str, list[Path]]:
        return {}

    def _mask_for(self, image_path: Path, image_shape: tuple[int, ...], masks: dict[str, list[Path]],
                  images: set[str]) -> np.ndarray:
        return np.zeros(image_shape[-2:], dtype=bool)


def read_images(folder: Any, run_cfg: Any) -> Any:
    """The tiles of ``folder`` on the run's tile size and FITS HDU (``data.source.tile_size``, ``hdu``), bad tiles
    filled or dropped."""
    from trainlab.data.image.module import quality_check

    if folder is None:
        raise UserError("images=<folder> is required for an image run: the sky images (FITS, NPY, PNG or TIFF) to find "
                        "anomalies in, e.g. images=new_night/")
    source = run_cfg.data.source
    return quality_check(UnmaskedFolder(str(folder), source.get("tile_size"), source.get("hdu")).load())[0]


FAR = 10.0  # training noise sigmas between sky levels, or the factor between noises, past which images are named


def warn_far_from_training(images: np.ndarray, stats: dict[str, np.ndarray], seed: int = 0) -> None:
    """One warning when the (tiles, C, H, W) ``images``' sky level (median) lies more than :data:`FAR` of the
    checkpoint's noise sigmas from its training median, or their noise (1.4826 MAD) is :data:`FAR` times larger or
    smaller, in some channel: images of another band, unit or exposure than the run's were normalised with its
    statistics and mapped without a word (as a series file in other units is warned about)."""
    from trainlab.data.image.module import fit_stats

    found = fit_stats(images, [1.0, 99.0], seed, max_pixels=200_000)
    trained, noise = np.asarray(stats["median"], float), np.asarray(stats["sigma"], float)
    level = np.abs(found["median"] - trained) / noise
    ratio = np.maximum(found["sigma"] / noise, noise / found["sigma"])
    far = np.flatnonzero((level > FAR) | (ratio > FAR))
    if len(far):
        c = int(far[0])
        log.warning("the images lie far from the run's training images in %d channel(s) (the checkpoint's "
                    "normalisation), e.g. channel %d: sky level %.4g against %.4g, noise %.4g against %.4g; images of "
                    "another band, unit or exposure than the run's: read their maps with care", len(far), c,
                    found["median"][c], trained[c], found["sigma"][c], noise[c])


def restore_for_images(run_cfg: Any, saved: dict, ckpt: str, tiles: Any) -> tuple[Any, Any]:
    """(task module, data module) of an image run to map ``tiles`` with: the data module built with the run's
    settings, its source unread, holding ``tiles`` and the checkpoint's normalisation. The run's own images are not
    read: rebuilt as evaluate.py rebuilds them, a run whose training folder had moved or gone was refused
    ('data.source.path=... is not a folder'), though all a map needs is in the checkpoint and the run's config."""
    from trainlab.run.pipeline import build_data
    from trainlab.run.restore import with_saved_weights
    from trainlab.run.trained import with_trained

    run_cfg = with_trained(run_cfg, "data", saved)  # the normalisation it was trained with, where left to defaults
    data = build_data(run_cfg)
    state = saved.get(type(data).__qualname__)
    if not state or any(k not in state for k in data.STATS):
        raise UserError(f"'{ckpt}' keeps no normalisation statistics of its images ({', '.join(data.STATS)}): "
                        "predict.py cannot scale new images as the run's were; retrain it")
    data.of_a_saved_run()
    data.load_state_dict(state)
    trained = int(np.size(state["median"]))  # one value per channel
    if tiles.images.shape[1] != trained:
        raise UserError(f"the images have {tiles.images.shape[1]} channel(s), the model was trained on {trained}; "
                        "give images with the run's channels")
    data.tiles = tiles  # what the data module loads: the net's input channels and the tile shape are these images'
    return with_saved_weights(run_cfg, saved, data, ckpt), data


@torch.inference_mode()
def anomaly_maps(model: Any, data: Any, tiles: Any, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(tiles, H, W) pixel probabilities and (tiles,) scores of ``tiles``, normalised with the data module's
    (the checkpoint's) statistics."""
    from trainlab.data.image.module import normalise

    warn_far_from_training(tiles.images, data.stats)
    images = torch.from_numpy(normalise(tiles.images, data.stats, data.normalize, data.asinh_softening))
    model.to(device).eval()
    dtype = next(model.parameters()).dtype
    maps, scores = [], []
    for batch in images.split(BATCH):
        made = model.anomaly_map(batch.to(device, dtype))
        maps.append(made.cpu())
        scores.append(model.image_score(made).cpu())
    return torch.cat(maps).numpy(), torch.cat(scores).double().numpy()


def write(tiles: Any, maps: np.ndarray, scores: np.ndarray, out_dir: Path) -> tuple[Any, list[str]]:
    """anomaly_scores.csv, anomaly_maps.npz and anomaly_maps.png into ``out_dir``; the csv's rows and the files."""
    import io

    import pandas as pd

    from trainlab.data.csv_writing import as_csv
    from trainlab.run.durable import write_atomic

    order = np.argsort(-scores, kind="stable")
    frame = pd.DataFrame({"tile": np.asarray(tiles.tile_names, dtype=object)[order], "score": scores[order],
                          "anomalous_pixels": (maps[order] >= 0.5).reshape(len(order), -1).sum(axis=1)})
    # written as forecast.csv and predictions.csv are (csv_writing): images bring no CSV whose separator and decimal
    # mark to keep, so commas and points, named in anomaly_maps.json as the others name theirs
    write_atomic(out_dir / "anomaly_scores.csv", as_csv(frame, None))
    packed = io.BytesIO()
    np.savez_compressed(packed, maps=maps.astype(np.float16), tiles=np.asarray(tiles.tile_names))
    write_atomic(out_dir / "anomaly_maps.npz", packed.getvalue())
    _plot(tiles, maps, scores, order[:SHOWN], out_dir / "anomaly_maps.png")
    return frame, ["anomaly_scores.csv", "anomaly_maps.npz", "anomaly_maps.png"]


def _plot(tiles: Any, maps: np.ndarray, scores: np.ndarray, shown: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trainlab.run.durable import save_figure

    fig, axes = plt.subplots(len(shown), 2, figsize=(6, 3 * len(shown)), squeeze=False)
    for (left, right), i in zip(axes, shown):
        image = tiles.images[i, -1]  # the newest channel
        low, high = np.percentile(image, [1, 99.5])
        left.imshow(image, cmap="gray", vmin=low, vmax=high, origin="lower")
        left.set_title(str(tiles.tile_names[i]), fontsize=8)
        right.imshow(maps[i], cmap="magma", vmin=0, vmax=1, origin="lower")
        right.set_title(f"anomaly probability (score {scores[i]:.3f})", fontsize=8)
        for ax in (left, right):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
