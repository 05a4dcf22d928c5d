"""What a rank that Lightning starts as a fresh interpreter must set up itself.

With ``trainer.strategy=ddp_spawn`` (and other strategies on the spawn or forkserver start method)
every rank, rank 0 included, runs in a new Python process that receives the pickled trainer and runs
neither Hydra nor ``prepare``: without this its log lines reached neither train.log nor the console,
and the hardware profile's torch flags, threads and malloc settings were those of a bare process.
:class:`SpawnedRankSetup` travels inside the trainer (one callback) and sets both up again when it is
unpickled there, before Lightning connects the ranks, so their lines ("Initializing distributed ...")
are kept too. The ``ddp`` strategy starts its ranks by running the script again, with Hydra: nothing
to do there.
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
from omegaconf import DictConfig

from trainlab.run.console import LogSetup
from trainlab.run.hardware import set_process_flags


def spawns_ranks(trainer: pl.Trainer) -> bool:
    """Whether the trainer's ranks start as fresh interpreters. Lightning's multiprocessing launcher
    keeps its start method in a private attribute (no public way to ask); read here only."""
    return getattr(trainer.strategy.launcher, "_start_method", None) in ("spawn", "forkserver")


class SpawnedRankSetup(pl.Callback):
    """The main process's logging and hardware profile, set up again in each spawned rank.

    Args:
        hardware: the concrete hardware profile (``prepare``'s ``cfg.hardware``).
    """

    def __init__(self, hardware: DictConfig):
        self.logs = LogSetup.of_this_process()
        self.hardware = hardware
        self.main_pid = os.getpid()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if os.getpid() == self.main_pid:  # a copy in the main process, set up already
            return
        self.logs.apply()
        set_process_flags(self.hardware)  # also OMP_NUM_THREADS, which the launcher then keeps
