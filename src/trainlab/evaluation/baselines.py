"""Baselines beside a model's score: one contract for every family.

A data module that can judge a model against simple predictors defines

    def baselines(self, split: str) -> Baselines

(the graph family: a features-only MLP and the majority class; a time-series module can return
its naive forecasts the same way). Scores are computed on exactly the samples of ``split`` the
model is tested on. Where they go:

- the end of every training run (:class:`trainlab.callbacks.records.RunRecords`, after the test):
  one log line such as ``test accuracy: GNN 0.918 | features only 0.850 | majority class 0.700``,
  ending ``-> majority class does as well or better`` when a baseline's score is not below the
  model's, then the data module's ``caution`` (a warning) when the metric itself misleads (a split that
  is 99% one class, where accuracy rewards the majority class);
  a ``baselines`` entry in ``training_summary.json`` (:meth:`Baselines.summary`) and
  ``<split>/<metric>_baseline_<name>`` to every logger;
- ``evaluate.py``'s report (each family's ``artifacts``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Baselines:
    """Scores of simple predictors on one split, in the model's own metric.

    split: "val" or "test"; metric: the metric's name within the split (``accuracy``, ``rmse``),
    logged by the model as ``<split>/<metric>``; scores: baseline name -> score, in the order
    shown; higher_is_better: the metric's direction; details: anything else worth recording
    (how a baseline was trained, how many samples it saw); caution: one line on how not to read the
    metric on this split (logged as a warning after the line), None when nothing misleads.
    """

    split: str
    metric: str
    scores: dict[str, float]
    higher_is_better: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    caution: Optional[str] = None

    @property
    def key(self) -> str:
        """The model's metric key these scores compare with (``test/accuracy``)."""
        return f"{self.split}/{self.metric}"

    def line(self, model_name: str, model_score: Optional[float]) -> str:
        """``test accuracy: GNN 0.918 | features only 0.850 | majority class 0.700``; the model and its best
        baseline with as many more decimals as tell them apart (0.8504 against 0.8496 read 0.850 and 0.850)."""
        shown = {name: "undefined" if math.isnan(value) else f"{value:.3f}" for name, value in self.scores.items()}
        model_text = ("n/a" if model_score is None else "undefined" if math.isnan(model_score)
                      else f"{model_score:.3f}")
        if self._scored(model_score) and self.scores and self._scored(self.scores[self._best()]):
            best = self._best()
            model_text, shown[best] = apart(model_score, self.scores[best], 3, "f")
        parts = [f"{model_name} {model_text}"] + [f"{name} {text}" for name, text in shown.items()]
        line = f"{self.split} {self.metric}: " + " | ".join(parts)
        beaten = self.winner(model_score)
        return line if beaten is None else f"{line} -> {beaten} does as well or better"

    def winner(self, model_score: Optional[float]) -> Optional[str]:
        """The best baseline when it scores at least as well as the model (None: the model wins, or has
        no score)."""
        if not self._scored(model_score) or not self.scores or not self._scored(self.scores[self._best()]):
            return None  # no verdict beside a score that is undefined (NaN) on this split
        best = self._best()
        ties_or_wins = self.scores[best] >= model_score if self.higher_is_better else self.scores[best] <= model_score
        return best if ties_or_wins else None

    def _best(self) -> str:
        """The name of the best-scoring baseline (there is at least one); an undefined (NaN) score is never best."""
        scored = {name: value for name, value in self.scores.items() if self._scored(value)} or self.scores
        return (max if self.higher_is_better else min)(scored, key=scored.get)

    @staticmethod
    def _scored(value: Optional[float]) -> bool:
        """Whether ``value`` is a score: not missing, not NaN (undefined on the split, trainlab.metrics.undefined)."""
        return value is not None and not math.isnan(value)

    def summary(self, model_name: str, model_score: Optional[float]) -> dict[str, Any]:
        """What training_summary.json and evaluate.py's report record."""
        return {"metric": self.key, "higher_is_better": self.higher_is_better, "model": model_name,
                "model_score": model_score, "scores": dict(self.scores), "details": dict(self.details),
                "line": self.line(model_name, model_score), "caution": self.caution}

    def logged(self) -> dict[str, float]:
        """Logger keys: ``test/accuracy_baseline_features_only``."""
        return {f"{self.key}_baseline_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}": float(value)
                for name, value in self.scores.items()}


def apart(a: float, b: float, digits: int = 4, kind: str = "g") -> tuple[str, str]:
    """``a`` and ``b`` with ``digits`` (significant for ``g``, decimals for ``f``), or as many more as tell them
    apart (up to 10): a near tie written as two equal numbers beside a verdict read as a mistake."""
    while f"{a:.{digits}{kind}}" == f"{b:.{digits}{kind}}" and a != b and digits < 10:
        digits += 1
    return f"{a:.{digits}{kind}}", f"{b:.{digits}{kind}}"


def baselines_of(datamodule: Any, split: str) -> Optional[Baselines]:
    """The data module's baselines on ``split``, or None when it has no ``baselines`` hook."""
    hook = getattr(datamodule, "baselines", None)
    return hook(split) if callable(hook) else None


def model_name(module: Any) -> str:
    """How a model is named beside its baselines: its net's class (``GNN``, ``LSTM``)."""
    return type(getattr(module, "net", module)).__name__
