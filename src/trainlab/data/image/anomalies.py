"""Anomalies injected into sky tiles, each returning the flux it adds and the pixels it covers.

Brightness is in units of ``sigma``, the image's background noise (HubbleTiles: 1.4826 times the
median absolute deviation of the whole image), so a setting means the same signal-to-noise on any image. Every function draws from the ``rng`` it is given and nothing else,
so a (seed, tile, copy) triple always yields the same anomaly.

Kinds (what a survey pipeline has to tell apart from real sources):

- ``transient``: a new point source (supernova, flare) blurred by a Gaussian PSF; mask: within
  2 PSF sigmas of its centre.
- ``streak``: a satellite or aircraft trail, a straight line across the tile with a Gaussian
  cross-section; mask: within 2 sigmas of the line (at least the line's own pixel).
- ``hot_pixel``: 1-4 single bright pixels (detector defects), sharper than any PSF.
- ``cosmic_ray``: a short track of bright pixels from a particle hit, 2-12 pixels long, 1 wide.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Injection = tuple[np.ndarray, np.ndarray]  # (flux (H, W) float64, mask (H, W) bool)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:size, 0:size].astype(np.float64)  # (row, column) coordinates


def transient(rng: np.random.Generator, size: int, sigma: float, scale: float) -> Injection:
    psf = rng.uniform(0.8, 2.0)  # Gaussian PSF sigma, pixels
    peak = rng.uniform(4.0, 20.0) * sigma * scale
    r0, c0 = rng.uniform(2, size - 3, 2)
    rows, cols = _grid(size)
    dist2 = (rows - r0) ** 2 + (cols - c0) ** 2
    flux = peak * np.exp(-dist2 / (2 * psf**2))
    mask = dist2 <= (2 * psf) ** 2
    return flux, mask


def streak(rng: np.random.Generator, size: int, sigma: float, scale: float) -> Injection:
    width = rng.uniform(0.6, 1.5)  # sigma of the cross-section, pixels
    peak = rng.uniform(3.0, 12.0) * sigma * scale
    angle = rng.uniform(0, np.pi)
    # a line through a point near the centre, so that it crosses the tile
    r0, c0 = rng.uniform(size * 0.25, size * 0.75, 2)
    rows, cols = _grid(size)
    dist = np.abs(-(rows - r0) * np.cos(angle) + (cols - c0) * np.sin(angle))  # distance to the line
    flux = peak * np.exp(-(dist**2) / (2 * width**2))
    mask = dist <= max(2 * width, 0.71)  # 0.71 > half the pixel diagonal: the line's own pixels
    return flux, mask


def hot_pixel(rng: np.random.Generator, size: int, sigma: float, scale: float) -> Injection:
    count = int(rng.integers(1, 5))
    flux = np.zeros((size, size))
    rows, cols = rng.integers(0, size, count), rng.integers(0, size, count)
    flux[rows, cols] = rng.uniform(10.0, 50.0, count) * sigma * scale
    return flux, flux > 0


def cosmic_ray(rng: np.random.Generator, size: int, sigma: float, scale: float) -> Injection:
    length = rng.uniform(2.0, 12.0)
    angle = rng.uniform(0, 2 * np.pi)
    r0, c0 = rng.uniform(0, size - 1, 2)
    steps = np.linspace(0.0, length, int(np.ceil(length)) * 2 + 1)  # half-pixel steps: no gaps
    rows = np.clip(np.round(r0 + steps * np.sin(angle)), 0, size - 1).astype(int)
    cols = np.clip(np.round(c0 + steps * np.cos(angle)), 0, size - 1).astype(int)
    flux = np.zeros((size, size))
    flux[rows, cols] = rng.uniform(8.0, 40.0) * sigma * scale * rng.uniform(0.6, 1.0, len(rows))
    return flux, flux > 0


KINDS: dict[str, Callable[[np.random.Generator, int, float, float], Injection]] = {
    "transient": transient,
    "streak": streak,
    "hot_pixel": hot_pixel,
    "cosmic_ray": cosmic_ray,
}


def inject(rng: np.random.Generator, size: int, kinds: list[str], count: int, sigma: float,
           scale: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``count`` anomalies of kinds drawn uniformly from ``kinds`` into one (size, size) tile.

    Returns the added flux (H, W), the union of their masks (H, W) bool and the kinds drawn.
    """
    flux, mask, drawn = np.zeros((size, size)), np.zeros((size, size), dtype=bool), []
    for _ in range(count):
        kind = kinds[int(rng.integers(len(kinds)))]
        f, m = KINDS[kind](rng, size, sigma, scale)
        flux += f
        mask |= m
        drawn.append(kind)
    return flux, mask, drawn
