"""The graph family's split: stars assigned to train / val / test at random per class (stratified),
from a seed; a class too small for some split, or an empty split, is refused."""

from __future__ import annotations

import numpy as np

from trainlab.config.errors import UserError

SPLITS = ("train", "val", "test")


def stratified_split(labels: np.ndarray, class_names: list[str], name: str, val_fraction: float,
                     test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Boolean masks per split, stratified by class, from ``seed`` (``name``: the catalogue, for messages)."""
    rng = np.random.default_rng(seed)
    split_of = np.zeros(len(labels), dtype=np.int64)  # 0 train, 1 val, 2 test
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        split_of[members[:n_test]] = 2
        split_of[members[n_test : n_test + n_val]] = 1
    masks = {split: split_of == i for i, split in enumerate(SPLITS)}
    for c in np.unique(labels):  # a class missing from a split has no scores there (recall, AUROC ...)
        absent = [split for split, mask in masks.items() if not (mask & (labels == c)).any()]
        if absent:
            label = class_names[c] if c < len(class_names) else c
            raise UserError(f"class '{label}' of '{name}' has {int((labels == c).sum())} star(s), too few "
                            f"for the {' and '.join(absent)} split(s) to hold one (val_fraction="
                            f"{val_fraction}, test_fraction={test_fraction}); add stars of that class, "
                            "merge it into another, or drop its rows")
    for split, mask in masks.items():
        if not mask.any():
            raise UserError(f"the {split} split of '{name}' holds no star ({len(labels)} stars, "
                            f"val_fraction={val_fraction}, test_fraction={test_fraction}); "
                            "use a larger catalogue or other fractions")
    return masks
