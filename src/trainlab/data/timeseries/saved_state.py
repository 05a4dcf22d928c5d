"""What a checkpoint holds of :class:`~trainlab.data.timeseries.module.TimeSeriesDataModule` besides the scaling
statistics :class:`~trainlab.data.module.SplitDataModule` saves and checks (``STATS``): MASE's notes and the data's
fingerprint, and how a saved run's data are rebuilt from it (the settings it was trained with, its statistics)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from trainlab.data import categories


class SavedSeriesState:
    """The time-series data module's side of a checkpoint; SplitDataModule saves and checks ``self.stats``."""

    @classmethod
    def trained_settings(cls, trained: dict[str, Any], given: Collection[str]) -> dict[str, Any]:
        """``target_inputs`` of a run whose config left it to the default, for a checkpoint without the data's own
        record of it (SplitDataModule.trained_with): its model was given the past targets when its hyperparameters
        hold their channels (none in one from before past targets could be inputs); where they do not name them at
        all (a user's own task module that keeps no ``target_channels``), nothing is guessed."""
        if "target_inputs" in given or "target_channels" not in trained:
            return {}
        return {"target_inputs": bool(trained["target_channels"])}

    def fingerprint(self) -> dict[str, Any]:
        table = self.load()  # the series picked from a file of several, when one is (older checkpoints lack it)
        return {"rows": int(table.targets.shape[0]), **({"series": table.series} if table.series else {}),
                **({"frequency": table.frequency} if table.frequency else {})}  # predict.py continues it

    def score_notes(self) -> list[str]:
        return list(self.mase_notes)

    def state_dict(self) -> dict[str, Any]:
        state = {**super().state_dict(), "mase_notes": list(self.mase_notes)}  # the scale saved with it is said so
        return {**state, categories.STATE_KEY: {c: list(v) for c, v in (self.encoding or {}).items()}}

    def read_as_saved(self, state: dict[str, Any]) -> None:
        """The checkpoint's categories (none recorded: none), taken before the data are read: their category
        columns are encoded in them, never in categories read anew from the file (trainlab.run.restore)."""
        self.encoding = categories.saved(state)
        categories.read_by(self.source, self.encoding)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = categories.saved(state_dict)
        if self.table is None or saved != self.encoding:  # read in other categories (no read_as_saved): read again
            self.encoding, self.table = saved, None
            categories.read_by(self.source, saved)
        super().load_state_dict(state_dict)
        if "mase_notes" in state_dict:  # older checkpoints: what these data say
            self.mase_notes = list(state_dict["mase_notes"])

    def _restore_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.stats = stats
        if self.datasets:  # Lightning restores state after setup(): rescale with these statistics
            self.datasets = {}
            self._build_datasets()
