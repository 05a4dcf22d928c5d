"""What a star graph's classifier is judged against: the majority class and the features-only MLP
on the same split and features (``Baselines``, the hook of :mod:`trainlab.evaluation.baselines`),
with a caution when the split's accuracies mislead (few stars, one class dominant).

:class:`GraphBaselines` is a part of :class:`~trainlab.data.graph.module.StarGraphDataModule`: it
reads the module's ``graph`` (with its split masks), ``class_names``, ``class_weights``, ``seed``,
``table``, ``missing_counts()`` and ``setup()``.
"""

from __future__ import annotations

from typing import Optional

import torch

from trainlab.evaluation.baselines import Baselines


class GraphBaselines:
    """The baselines of :class:`~trainlab.data.graph.module.StarGraphDataModule`."""

    IMBALANCED = 0.9  # a class this share of a split or more: accuracy misleads (Baselines.caution)
    FEW_STARS = 50  # fewer stars in a split: one of them moves accuracy by over 2 points (Baselines.caution)

    def majority_class(self) -> int:
        """The most frequent class among the training stars."""
        self.setup()
        return int(torch.bincount(self.graph.y[self.graph.train_mask]).argmax())

    def train_class_counts(self) -> torch.Tensor:
        """(classes,) training stars per class (what ``model.class_weights=balanced`` weighs by)."""
        self.setup()
        return torch.bincount(self.graph.y[self.graph.train_mask], minlength=len(self.class_names))

    def majority_accuracy(self, split: str = "test") -> float:
        """Accuracy of calling every star of ``split`` the training majority class."""
        self.setup()
        y = self.graph.y[self.graph[f"{split}_mask"]]
        return float((y == self.majority_class()).float().mean())

    def features_only(self):
        """The features-only baseline (:mod:`trainlab.models.features_only`), fitted once: an MLP on
        the same split and the same imputed, scaled features, without the graph, weighing the classes by
        ``class_weights`` as the model does (refitted when they change)."""
        weights = None if self.class_weights is None else self.class_weights.cpu()
        if self._features_only is not None and not _same(self._features_only.class_weights, weights):
            self._features_only = None
        if self._features_only is None:
            from trainlab.models.features_only import fit_features_only

            self.setup()
            g = self.graph
            self._features_only = fit_features_only(g.x, g.y, g.train_mask, g.val_mask, len(self.class_names),
                                                    seed=self.seed, class_weights=weights)
        return self._features_only

    def baselines(self, split: str = "test") -> Baselines:
        """Accuracy of the features-only MLP and of the majority class on the stars of ``split``
        (the hook of :mod:`trainlab.evaluation.baselines`)."""
        self.setup()
        mask = self.graph[f"{split}_mask"]
        features_only = self.features_only()
        y = self.graph.y[mask]
        predicted = features_only.predict(self.graph.x[mask]).argmax(dim=1)
        scores = {"features only": float((predicted == y).float().mean()),
                  "majority class": self.majority_accuracy(split)}
        return Baselines(split, "accuracy", scores, details={
            f"{split}_stars": int(mask.sum()), "majority_class": self.class_names[self.majority_class()],
            "features_only": features_only.facts(), "class_weights": features_only.weights_list(),
            "missing_values": self.missing_counts(),
            "left_out": dict(self.table.left_out)}, caution=self._caution(split, y, predicted))

    def _caution(self, split: str, y: torch.Tensor, features_only: torch.Tensor) -> Optional[str]:
        """How not to read the split's accuracies, when they mislead: few stars, one class dominant."""
        parts = [text for text in (self._few_stars_caution(split, len(y)),
                                   self._imbalance_caution(split, y, features_only)) if text]
        return "; ".join(parts) or None

    def _few_stars_caution(self, split: str, stars: int) -> Optional[str]:
        """Below ``FEW_STARS`` stars one star moves accuracy by more than 2 points: 1.000 on 5 stars is no
        evidence that one model beats another."""
        if stars >= self.FEW_STARS:
            return None
        return (f"the {split} split holds {stars} star(s): one star moves accuracy by {1 / stars:.3f}, so differences "
                f"of that size are chance; use a larger catalogue (or a larger data.{split}_fraction)")

    def _imbalance_caution(self, split: str, y: torch.Tensor, features_only: torch.Tensor) -> Optional[str]:
        """When one class holds ``IMBALANCED`` or more of the split's stars, accuracy rewards calling every
        star that class: the line to read instead, with the baselines' balanced accuracy (mean recall per
        class: the majority class scores 1 / classes on it, whatever the balance)."""
        counts = torch.bincount(y, minlength=len(self.class_names))
        share = float(counts.max()) / len(y)
        if share < self.IMBALANCED:
            return None
        present = counts > 0
        recall = torch.bincount(y[features_only == y], minlength=len(counts))[present] / counts[present]
        majority = self.class_names[self.majority_class()]
        return (f"the {split} stars are {share:.1%} '{self.class_names[int(counts.argmax())]}': accuracy rewards calling "
                f"every star '{majority}' and says little; judge by {split}/balanced_accuracy (majority class "
                f"{1 / int(present.sum()):.3f}, features only {float(recall.mean()):.3f}), {split}/f1_macro and "
                f"{split}/auprc")


def _same(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))
