"""What the processes of a multi-process (DDP) run decide together, so that a stop on one is a stop on all.

Every rank of a DDP run meets the others in collectives (the gradients' all-reduce in every backward,
barriers around checkpoints). A rank that stops alone leaves the others waiting in the next one, and
itself waits in the barrier of ``trainer.save_checkpoint`` on its way out: a NaN loss on one rank, or
an exception there, left both processes waiting forever, with nothing printed (gloo's collectives have
no timeout short of Lightning's 30 minutes). Two answers:

- a check every rank makes at the same step (the training loss's finiteness) gathers every rank's
  finding (:func:`first_finding`) and all of them raise the same :class:`EveryRankError`;
- an exception that only one rank raised (:func:`alone`) takes no collective on its way out, so the
  rank ends, its connections close and the others' next collective fails instead of waiting.

A stop every rank agreed on is said once, by rank 0 (:func:`leave_together`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Optional

import lightning.pytorch as pl
import torch

from trainlab.config.errors import UserError


class EveryRankError(UserError):
    """A UserError every rank of the run raised at the same step, after agreeing through a collective;
    its way out may meet the other ranks in a collective again (the on-exception checkpoint's barrier)."""


def alone(trainer: pl.Trainer, exception: BaseException) -> bool:
    """Whether ``exception`` may have stopped this rank only, while others of the run train on: then no
    collective is safe on its way out. One process: never. Ctrl-C reaches every process of the terminal's
    group, and Lightning's own answer to it meets the others in the checkpoint's barrier; a signal stops
    every rank at the same step (:class:`trainlab.callbacks.training.StopOnSignal`)."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    # Lightning raises SIGTERMException on every rank at the same step (it broadcasts rank 0's flag)
    if getattr(exception, "every_rank", False):  # raised on every rank after they agreed (a signal's stop)
        return False
    return trainer.world_size > 1 and not isinstance(exception, (EveryRankError, KeyboardInterrupt, SIGTERMException))


def first_finding(trainer: pl.Trainer, found: Optional[Sequence[float]], width: int) -> Optional[tuple[int, list[float]]]:
    """(rank, values) of the first finding across the run's ranks, or None when no rank found anything.

    ``found`` is this rank's finding (``width`` numbers, the first the position it is ordered by, e.g.
    the global step) or None. Every rank must call this at the same point: it is a collective (one
    all-gather of ``width + 1`` numbers), so the check costs one message per rank where it is made."""
    if trainer.world_size == 1:
        return (0, list(found)) if found is not None else None
    mine = torch.zeros(width + 1, dtype=torch.float64, device=trainer.strategy.root_device)
    if found is not None:
        mine[0] = 1
        mine[1:] = torch.tensor([float(v) for v in found], dtype=torch.float64)
    every = trainer.strategy.all_gather(mine).reshape(trainer.world_size, width + 1).cpu()  # (ranks, 1 + width)
    ranks = [r for r in range(trainer.world_size) if every[r, 0] == 1]
    if not ranks:
        return None
    first = min(ranks, key=lambda r: (float(every[r, 1]), r))
    return first, every[first, 1:].tolist()


class RankGone(UserError):
    """This rank's collective failed because another process of the run had ended: that process's own error
    (or its silence: the OOM killer) is the cause. Exit status 1, not a refusal's 2: the cause may be a bug."""

    exit_status = 1


# what a collective raises once a peer process has gone (gloo's TCP pairs; NCCL's communicator)
PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "remote process exited",
             "communicator was aborted")


def peer_gone(trainer: pl.Trainer, exception: BaseException) -> Optional[RankGone]:
    """The one line for a rank whose collective failed because another rank had ended (its error, printed by
    that rank, says why), instead of gloo's traceback on every other rank; None for any other exception."""
    if trainer.world_size == 1 or not isinstance(exception, RuntimeError):  # gloo's and NCCL's errors are; a
        return None  # BrokenPipeError (an OSError: stdout piped into a 'head' that ended) is this process's own
    text = str(exception)
    found = next((fragment for fragment in PEER_GONE if fragment in text), None)
    if found is None:
        return None
    backend = getattr(trainer.strategy, "process_group_backend", None) or "its collective"
    return RankGone(f"[rank {trainer.global_rank}] another process of this {trainer.world_size}-process run ended, so "
                    f"this one stopped too ({backend}: {found}); the error that process printed, above, says why "
                    "(none: it was killed, e.g. out of memory)")


def on_rank(trainer: pl.Trainer, rank: int) -> str:
    """`` in process <rank> of <n>`` in a multi-process run (a message then says which one), else ``""``."""
    return f" in process {rank} of {trainer.world_size}" if trainer.world_size > 1 else ""


def leave_together(trainer: pl.Trainer, exception: BaseException) -> None:
    """How a rank leaves once every rank raised ``exception``: rank 0 says it, the others stay quiet
    (``exception.quiet``: the same line once per process said nothing more) and wait for their launcher
    (:func:`wait_for_launcher`)."""
    if trainer.global_rank == 0:
        return
    exception.quiet = True
    if launched_here(trainer):
        wait_for_launcher()


def launched_here(trainer: pl.Trainer) -> bool:
    """Whether Lightning's own launcher started this rank, from its node's rank 0 (its parent process);
    SLURM and torchrun start every rank themselves."""
    from lightning.fabric.plugins.environments import LightningEnvironment

    return trainer.local_rank > 0 and type(trainer.strategy.cluster_environment) is LightningEnvironment


def wait_for_launcher() -> None:
    """Wait until this rank's parent, the node's rank 0 that launched it, has ended. That launcher watches
    its ranks and SIGKILLs itself and them once one exits with an error (Lightning's process observer,
    every 5 s): a rank that left first cut its line and records short (exit 137, nothing printed)."""
    parent, deadline = os.getppid(), time.monotonic() + PARENT_WAIT_S
    while os.getppid() == parent and time.monotonic() < deadline:  # re-parented once the launcher has ended
        time.sleep(0.05)


PARENT_WAIT_S = 60  # what its launcher takes at most to write records and end, once training has stopped


def check_ranks_can_start(trainer: pl.Trainer, strategy: str) -> None:
    """Refuse a multi-process run whose ranks Lightning would start by running the script again, in a job
    of a multirun (``-m``: a sweep, a list of runs). Lightning starts them with the command line as it was
    typed, ``-m`` and all: each rank ran the whole multirun again (under ``hparams_search=optuna`` a study
    of its own, sampling its own hyperparameters for the ranks of one trial), and the next job of the
    process found the first one's ranks gone and waited. SLURM and torchrun start ranks themselves."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    # the launcher that runs the script again; Lightning names it private, but exports it (and tests it so)
    from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher

    launcher = getattr(trainer.strategy, "launcher", None)
    if (trainer.world_size == 1 or not isinstance(launcher, _SubprocessScriptLauncher)
            or trainer.strategy.cluster_environment.creates_processes_externally):
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise UserError(f"trainer.strategy={strategy} over {trainer.world_size} processes cannot "
                        "run as a job of a multirun (-m): Lightning starts the other ranks by running the whole command "
                        "line again, -m included, so each rank would run the multirun (a sweep: its own study and "
                        "hyperparameters); give each job one process (trainer.devices=1; parallel jobs with "
                        "hydra/launcher=joblib), then train the chosen settings with DDP as a single run")
