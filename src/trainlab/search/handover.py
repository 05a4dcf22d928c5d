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
- ``gpu_shared``: set where trials run at once on shared GPUs: the job's energy meter and GPU monitor
  are told (:class:`trainlab.callbacks.nvml.SharedGpu`), the board's figures not being the trial's.

Light on purpose (no optuna, no torch at import): train.py imports it, through
:mod:`trainlab.search.trial`, before Hydra starts.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

KEY = "optuna_trial"  # the root config key the hand-over travels in
# a process's start time from /proc is rounded to the boot second, and that clock drifts from the wall clock
PID_CLOCK_SLACK_S = 5.0


def sweep_process() -> str:
    """``<host>:<pid>`` of this process, as a trial's owner (its ``sweeper`` user attribute) and a job's
    hand-over name the sweep process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def sweep_process_gone(who: str, running_since: Optional[float] = None) -> Optional[str]:
    """Whether the sweep process ``who`` (``<host>:<pid>``) is known to have ended: None while it runs or
    cannot be checked (another host, another user's process); ``""`` when no process has its pid; a note
    saying so when the pid now belongs to a process started after ``running_since`` (seconds since the
    epoch, when the sweep process was known to run): a sweep killed hard frees its pid for later ones."""
    host, _, pid = str(who).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return ""
    except PermissionError:
        return None
    if running_since is not None and _started_at(int(pid)) > running_since + PID_CLOCK_SLACK_S:
        return f" (pid {pid} is now another process's)"
    return None


def _started_at(pid: int) -> float:
    """When process ``pid`` started (seconds since the epoch; 0 where /proc cannot say)."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return 0.0
    return boot + ticks / os.sysconf("SC_CLK_TCK")


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
        gpu_shared: where the sweep runs trials at once on shared GPUs, the words that say so (None: not).
    """

    storage: str
    study_name: str
    trial_id: int
    pruner: Optional[dict[str, Any]] = None
    sweeper: Optional[str] = None
    gpu_shared: Optional[str] = None

    def as_override(self, key: str = KEY) -> str:
        """``optuna_trial={storage:...,study_name:...,trial_id:...,pruner:{...}}`` in Hydra's grammar."""
        from trainlab.config.spelling import grammar_value

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
                   sweeper=values.get("sweeper") or None, gpu_shared=values.get("gpu_shared") or None)

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
