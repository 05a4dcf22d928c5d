"""A catalogue's category columns as node features: a column of text among the features (a survey's name, a
spectral type ``G2V``, a ``source`` flag) or integer codes named in ``data.source.categorical_columns`` is one 0/1
feature per category (:mod:`trainlab.data.categories`), named ``survey=SDSS``.

The categories are the values of the training stars only (the stars whose features the scaling and the imputation
are fit on); a value only validation or test stars hold, or a new catalogue given to ``evaluate.py`` or
``predict.py``, is none of them (each of its column's features 0), said once; an empty cell likewise. The 0/1
features are left unscaled. The encoding is part of the checkpoint's data state (``categories``); a checkpoint
from before records none.

:class:`NodeCategories` is a part of :class:`~trainlab.data.graph.module.StarGraphDataModule`: it reads the module's
``load()``, ``_split_masks()``, ``advising``, ``graph`` and ``raw_features``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np

from trainlab.data import categories

log = logging.getLogger(__name__)


class NodeCategories:
    """The category features of :class:`~trainlab.data.graph.module.StarGraphDataModule`."""

    # category column -> its categories: a checkpoint's (read_as_saved, load_state_dict), else the training stars'
    encoding: Optional[categories.Encoding] = None

    def category_inputs(self) -> list[str]:
        """The 0/1 features of the category columns, column by column: ``survey=2MASS``, ``survey=SDSS``, ..."""
        return categories.input_names(self._encoding())

    def _encoding(self) -> categories.Encoding:
        """The encoding in use: a saved run's, else fit on the training stars (refusing a column of more than
        :data:`trainlab.data.categories.MAX_CATEGORIES` values there, or of none)."""
        if self.encoding is None:
            table = self.load()
            self.encoding = categories.fit(table.categories or {}, self._split_masks()["train"], f"'{table.name}'",
                                           table.feature_names, unit="star")
            if self.encoding and self.advising:
                log.info("category column(s) one-hot encoded in the training stars' categories, one 0/1 feature each "
                         "(left unscaled): %s", "; ".join(f"{c} ({len(v)}: {', '.join(v[:5])}{', ...' * (len(v) > 5)})"
                                                          for c, v in self.encoding.items()))
        return self.encoding

    def _category_block(self) -> np.ndarray:
        """(stars, category features) 0/1 in the encoding in use; a value of none of its categories (or an empty
        cell) all 0, the unseen values said once. A catalogue whose category columns are not the encoding's (a
        column of text the run was trained without, one it had as categories held as numbers) is refused."""
        table = self.load()
        columns, where = table.categories or {}, f"'{table.name}'"
        categories.check_columns(columns, self._encoding(), where, table.feature_names)
        if not columns:
            return np.zeros((len(table.labels), 0))
        return categories.encode(columns, self.encoding, where, lambda i: f"{table.id_name} {table.ids[i]}", "star")

    def read_as_saved(self, state: dict[str, Any]) -> None:
        """The checkpoint's categories (none recorded: none), taken before the catalogue is read: its category
        columns are encoded in them, never in categories fit anew on its stars (trainlab.run.restore, a resume)."""
        self.encoding = categories.saved(state)
        categories.read_by(self.source, self.encoding)

    def _load_categories(self, state: dict[str, Any], start: int) -> None:
        """The checkpoint's encoding; a graph built in others gets its category features (columns ``start`` on of
        ``raw_features``) again in these."""
        saved = categories.saved(state)
        if self.graph is None or saved == self.encoding:
            self.encoding = saved
            return
        old = len(categories.input_names(self.encoding or {}))
        self.encoding = saved
        raw = self.raw_features
        self.raw_features = np.concatenate([raw[:, :start], self._category_block(), raw[:, start + old:]], axis=1)
