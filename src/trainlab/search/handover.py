"""What the sweeper hands a trial's job, in one structure: :class:`TrialHandover`.

A Hydra job receives nothing but overrides, so the hand-over travels as one of them: the root key
``optuna_trial`` of conf/train.yaml (null outside a sweep). The sweeper builds it in one place
(:meth:`trainlab.search.sweep.OptunaSearch.launch_overrides`), the job reads it back with
:meth:`TrialHandover.from_config`. It carries everything the job needs and cannot find by itself:

- ``storage``, ``study_name``, ``trial_id``: where the study is and which trial this job is (the job
  reopens the study in its own process; the trial's *id*, not its number, is what rebuilds it);
- ``pruner``: the pruner's config node (``_target_`` + arguments). Optuna does not store the pruner
  with the study, so every process builds its own, from this node, with :meth:`build_pruner`, the
  one function that builds a pruner (the sweeper checks the node with it before any trial).
- ``sweeper``: ``<host>:<pid>`` of the sweep process that launched the job: a job in another process
  stops when that one is gone (:func:`trainlab.search.trial.stop_with_the_sweep`).

Light on purpose (no optuna, no torch at import): train.py imports it, through
:mod:`trainlab.search.trial`, before Hydra starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

KEY = "optuna_trial"  # the root config key the hand-over travels in


class TrialFailed(RuntimeError):
    """A trial's run cannot give a usable objective (a NaN loss, a bad parameter combination)."""


class TrialOutOfSpace(TrialFailed):
    """A trial's run met a full (or read-only) disk: the sweep records it and stops, as every next trial
    would meet it. ``remedy``: what frees the disk (trainlab.run.durable.DiskFull's)."""

    def __init__(self, what: str, remedy: str = "free some space on {where}"):
        super().__init__(what, remedy)  # both in args: a worker process pickles it back to the sweep

    def __str__(self) -> str:
        return self.args[0]

    @property
    def remedy(self) -> str:
        return self.args[1]


@dataclass(frozen=True)
class TrialHandover:
    """One trial, as its job receives it.

    Args:
        storage: the study's storage as :func:`trainlab.search.shared.storage_url` spells it.
        study_name: the study's name in that storage.
        trial_id: the storage's id of the trial (not its number: ids start at 1 in sqlite, at 0 in
            journal storage, and count every study of a shared database).
        pruner: the pruner's config node as a plain mapping, or None for no pruning.
        sweeper: ``<host>:<pid>`` of the sweep process that launched the job (None: not known).
    """

    storage: str
    study_name: str
    trial_id: int
    pruner: Optional[dict[str, Any]] = None
    sweeper: Optional[str] = None

    def as_override(self, key: str = KEY) -> str:
        """``optuna_trial={storage:...,study_name:...,trial_id:...,pruner:{...}}`` in Hydra's grammar."""
        from trainlab.config.composition import grammar_value

        return f"{key}={grammar_value(asdict(self))}"

    @classmethod
    def from_config(cls, node: Any) -> Optional["TrialHandover"]:
        """The hand-over a job was started with (``cfg.optuna_trial``), or None outside a sweep."""
        if not node:
            return None
        from omegaconf import DictConfig, OmegaConf

        values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
        return cls(storage=str(values["storage"]), study_name=str(values["study_name"]),
                   trial_id=int(values["trial_id"]), pruner=values.get("pruner") or None,
                   sweeper=values.get("sweeper") or None)

    def build_pruner(self) -> Any:
        """The pruner this trial is judged by (``optuna.pruners.NopPruner`` when there is none)."""
        return build_pruner(self.pruner)


def build_pruner(node: Optional[Any]) -> Any:
    """The one way a pruner is built, in the sweeper and in every job (``NopPruner`` for no node)."""
    import optuna

    return instantiate_node(node, "hydra.sweeper.pruner") if node else optuna.pruners.NopPruner()


def instantiate_node(node: Any, key: str, **kwargs: Any) -> Any:
    """Instantiate a sampler or pruner node; a bad argument becomes a UserError naming ``key``.

    (Not trainlab.config.instantiate.build: that module imports lightning, seconds the sweeper does not need.)
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from trainlab.config.errors import UserError

    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        hint = (f"; choose it with {key.replace('.', '/', 2)}=<name>, which brings only its own keys"
                if isinstance(cause, TypeError) else "")
        raise UserError(f"{key} ({node['_target_']}): {cause}{hint}") from None
