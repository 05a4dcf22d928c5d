"""When a spread is no more than float64 rounding of the values it spreads over: the one threshold of every
check for a constant column or series (:func:`trainlab.data.module.constant_columns`, the MASE scale of one
series and of many at once, the ETS baseline's fits). Plain numpy: the ETS fits, free of torch, use it too.
"""

from __future__ import annotations

import numpy as np

# relative, since an absolute threshold (1e-8) calls a series of small values (a flux of 1e-12, a rate of 1e-9)
# constant and scales it to ~0 without a word, or refuses it as a target
ROUNDING = 1e-12


def magnitudes(block: np.ndarray) -> np.ndarray:
    """``|block|`` with NaN as 0: the values whose largest :func:`beyond_rounding` compares a spread with."""
    return np.abs(np.nan_to_num(block, nan=0.0))


def beyond_rounding(spread: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """True where ``spread`` (per column or series) is more than float64 rounding of values whose largest magnitude
    is ``largest``; a NaN spread (no values, no errors) is not."""
    return np.asarray(spread) > ROUNDING * np.asarray(largest)
