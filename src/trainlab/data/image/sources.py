"""Where sky tiles come from: the Hubble image shipped with scikit-image (here), or your own folder
(trainlab.data.image.folder.ImageFolder).

A source's ``load()`` returns :class:`SkyTiles`: equally sized tiles with a pixel mask of anomalies
each. What happens next (quality checks, split, normalisation, augmentation) is the data module's
job (trainlab.data.image.module), the same for every source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from trainlab.data.image.anomalies import KINDS, inject
from trainlab.data.image.files import robust_sigma
from trainlab.config.errors import UserError


@dataclass
class SkyTiles:
    """Tiles of sky with their anomaly masks.

    ``groups`` keeps tiles that share sky together: tiles with the same group go to the same split,
    so no pixel of sky (or of one file) is seen in training and scored in test.
    """

    name: str
    images: np.ndarray  # (tiles, channels, H, W) float32
    masks: np.ndarray  # (tiles, H, W) bool: True where a pixel is anomalous
    groups: np.ndarray  # (tiles,) int64
    tile_names: list[str]  # for plots and messages
    channel_names: list[str]
    reference_pair: bool = False  # channel 0: reference epoch, last channel: new epoch (difference imaging)
    kinds: Optional[list[str]] = None  # per tile, the injected kinds joined by "+" ("" when clean); None: unknown


def _starts(length: int, size: int, cover: bool) -> list[int]:
    starts = list(range(0, length - size + 1, size))
    if cover and starts and starts[-1] + size < length:  # one more, flush with the edge
        starts.append(length - size)
    return starts


def cut_tiles(image: np.ndarray, size: int, cover: bool = False) -> list[tuple[int, int, np.ndarray]]:
    """(size, size) tiles of a (..., H, W) array, row by row: side by side, the remainder dropped; with
    ``cover``, a last row and column of tiles flush with the bottom and right edges (overlapping their
    neighbours) take in the remainder, so every pixel is in some tile."""
    height, width = image.shape[-2:]
    return [(r, c, image[..., r : r + size, c : c + size])
            for r in _starts(height, size, cover) for c in _starts(width, size, cover)]


class HubbleTiles:
    """Tiles of the Hubble eXtreme Deep Field with seeded injected anomalies.

    The image (872 x 1000 RGB, NASA, public domain) ships inside scikit-image's wheel, so nothing is
    downloaded; it is converted to luminance. Each tile position appears ``copies`` times, every copy
    with its own noise (``noise`` times the image's background sigma, per epoch) and its own
    anomalies; the first ``anomalous_copies`` of them get 1..``max_per_tile`` anomalies, the others
    none. Every split therefore holds clean and anomalous versions of the same sky, in the share
    ``anomalous_copies / copies`` (default 1 of 2: half the tiles are clean).

    With ``reference`` each sample has two channels, as in difference imaging: channel 0 a
    reference epoch (the sky plus its own noise), channel 1 the new epoch (the sky plus other noise
    plus the anomalies). Without it, only the new epoch: a transient must then be told from a real
    star by its shape alone, which the Gaussian PSF allows only roughly.

    Args:
        tile_size: tile side in pixels (non-overlapping tiles; 64 gives 13 x 15 positions).
        num_tiles: use a seeded subset of this many tile positions (null: all of them).
        copies: versions of every tile position (>= 2).
        anomalous_copies: how many of them carry anomalies (1 .. copies - 1).
        kinds: anomaly kinds to draw from (trainlab.data.image.anomalies: transient, streak, hot_pixel, cosmic_ray).
        max_per_tile: anomalies in an anomalous tile: 1 .. this many.
        amplitude_scale: multiplies every anomaly's brightness (below 1: fainter, harder).
        noise: noise added to each epoch, in units of the image's background sigma.
        reference: two channels (reference, new epoch) instead of one.
        seed: every (seed, tile position, copy) triple draws its own noise and anomalies.
    """

    def __init__(self, tile_size: int = 64, num_tiles: Optional[int] = None, copies: int = 2,
                 anomalous_copies: int = 1, kinds: Sequence[str] = tuple(KINDS), max_per_tile: int = 2,
                 amplitude_scale: float = 1.0, noise: float = 1.0, reference: bool = True, seed: int = 3407):
        if not 8 <= tile_size <= 872:
            raise UserError(f"data.source.tile_size={tile_size} must lie in 8..872 (the image is 872 x 1000)")
        if copies < 2:
            raise UserError(f"data.source.copies={copies} must be at least 2 (clean and anomalous versions)")
        if not 1 <= anomalous_copies < copies:
            raise UserError(f"data.source.anomalous_copies={anomalous_copies} must lie in 1..{copies - 1} "
                            f"(data.source.copies - 1), so that both clean and anomalous tiles exist")
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise UserError(f"data.source.kinds={list(kinds)}: choose one or more of {', '.join(KINDS)}")
        if max_per_tile < 1:
            raise UserError(f"data.source.max_per_tile={max_per_tile} must be at least 1")
        if amplitude_scale <= 0 or noise < 0:
            raise UserError(f"data.source.amplitude_scale={amplitude_scale} must be > 0 and "
                            f"data.source.noise={noise} >= 0")
        positions = (872 // tile_size) * (1000 // tile_size)
        if num_tiles is not None and not 3 <= num_tiles <= positions:
            raise UserError(f"data.source.num_tiles={num_tiles} must lie in 3..{positions} (tiles of "
                            f"{tile_size} px in the image), or be null for all of them")
        self.tile_size, self.num_tiles = tile_size, num_tiles
        self.copies, self.anomalous_copies = copies, anomalous_copies
        self.kinds, self.max_per_tile = list(kinds), max_per_tile
        self.amplitude_scale, self.noise, self.reference, self.seed = amplitude_scale, noise, reference, seed

    def load(self) -> SkyTiles:
        from skimage.color import rgb2gray
        from skimage.data import hubble_deep_field

        sky = rgb2gray(hubble_deep_field())  # (872, 1000) float64 in [0, 1]
        sigma = robust_sigma(sky)
        tiles = cut_tiles(sky, self.tile_size)
        chosen = np.arange(len(tiles))
        if self.num_tiles is not None:
            chosen = np.sort(np.random.default_rng(self.seed).choice(len(tiles), self.num_tiles, replace=False))
        size, channels = self.tile_size, 2 if self.reference else 1
        images = np.empty((len(chosen) * self.copies, channels, size, size), dtype=np.float32)
        masks = np.zeros((len(chosen) * self.copies, size, size), dtype=bool)
        groups, names, tile_kinds = np.repeat(chosen, self.copies).astype(np.int64), [], []
        for i, (position, copy) in enumerate((p, k) for p in chosen for k in range(self.copies)):
            row, col, tile = tiles[position]
            rng = np.random.default_rng([self.seed, int(position), copy])
            epochs = tile + rng.normal(0.0, self.noise * sigma, (channels, size, size))  # independent noise
            kinds: list[str] = []
            if copy < self.anomalous_copies:
                count = int(rng.integers(1, self.max_per_tile + 1))
                flux, masks[i], kinds = inject(rng, size, self.kinds, count, sigma, self.amplitude_scale)
                epochs[-1] += flux  # the anomalies are in the new epoch only
            images[i] = epochs
            names.append(f"hubble y{row} x{col} copy{copy} {'+'.join(kinds) or 'clean'}")
            tile_kinds.append("+".join(kinds))
        channel_names = ["reference", "new epoch"] if self.reference else ["new epoch"]
        return SkyTiles("hubble", images, masks, groups, names, channel_names, self.reference, tile_kinds)
