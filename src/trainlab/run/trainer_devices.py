"""The accelerator, precision, devices, strategy and nodes the trainer will get, checked against this machine
before anything is built (the hardware profile itself: :mod:`trainlab.run.hardware`)."""

from __future__ import annotations

import os
from typing import Any, Optional

import torch
from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import UserError, did_you_mean
from trainlab.config.schemas import ACCELERATORS, GPU_ACCELERATORS, PRECISIONS
from trainlab.run import hardware
from trainlab.run.cores import usable_cores
from trainlab.run.gpus import bf16_problem, mig_note

# what a process started by a multi-node launcher finds in its environment (SLURM, torchrun, Lightning's
# own NODE_RANK/MASTER_ADDR, LSF, MPI); without any, Lightning takes this machine for node 0 of the
# trainer.num_nodes and waits for the others forever (a SIGTERM does not end that wait)
_MULTI_NODE_ENV = ("SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR", "LSB_JOBID",
                   "OMPI_COMM_WORLD_SIZE")


def check_trainer_devices(trainer: DictConfig) -> None:
    """The accelerator, precision, devices and nodes the trainer will get, against this machine, before
    anything is built.

    They interpolate the hardware profile's keys, checked by :func:`trainlab.run.hardware.apply_hardware`; an
    override of the trainer's own key would pass by that check and fail late, after the data were read
    (``trainer.accelerator=gpu``), be changed by Lightning with only a warning (``trainer.precision=16``
    on a CPU trains in bf16-mixed) or wait forever (``trainer.num_nodes=2`` on one machine). Each is named
    by the key that set it: ``hardware.*`` where the trainer interpolates it, else ``trainer.*``.
    """

    def key(name: str) -> str:
        return f"hardware.{name}" if OmegaConf.is_interpolation(trainer, name) else f"trainer.{name}"

    accelerator = str(trainer.accelerator)
    precision = "32-true" if trainer.precision is None else str(trainer.precision)  # None: Lightning's default
    if accelerator not in ACCELERATORS:
        raise UserError(f"{key('accelerator')}={accelerator!r} is not one of {', '.join(ACCELERATORS)}; the hardware "
                        "profile chooses it: leave trainer.accelerator out and pick hardware=<profile>")
    if precision not in PRECISIONS or precision == "auto":
        shown = hardware.LEGACY_PRECISIONS.get(precision, "32-true" if precision != "auto" else "auto")
        raise UserError(f"{key('precision')}={precision!r} is not one of {', '.join(p for p in PRECISIONS if p != 'auto')}; "
                        f"{hardware.old_spelling(precision)}the precision's home is the hardware profile: leave "
                        f"trainer.precision out and set hardware.precision={shown}")
    if accelerator == "auto":
        accelerator = "gpu" if hardware.cuda_usable() else "cpu"
    problem = hardware.accelerator_problem(accelerator, precision, f"{key('accelerator')}={trainer.accelerator}",
                                   key("precision"), "the hardware profile chooses the accelerator: leave "
                                   "trainer.accelerator out, and use hardware=cpu, or hardware=auto for whatever the "
                                   "machine has")
    if problem:
        raise UserError(problem)
    _check_devices(trainer.devices, accelerator, key("devices"))
    if accelerator in GPU_ACCELERATORS and bf16_problem(precision, trainer.devices, key("precision")):
        raise UserError(bf16_problem(precision, trainer.devices, key("precision")))
    _check_strategy(trainer.strategy, accelerator)
    _check_nodes(int(trainer.num_nodes))


def _check_strategy(strategy: Any, accelerator: str) -> None:
    """A strategy name Lightning knows, on an accelerator it runs on (Lightning said so only after the data
    were read)."""
    if not isinstance(strategy, str) or strategy == "auto":
        return
    from lightning.pytorch.strategies import StrategyRegistry

    known = StrategyRegistry.available_strategies()
    if strategy not in known:
        hint = did_you_mean(strategy, known) or "e.g. ddp"
        raise UserError(f"trainer.strategy={strategy!r} is not a strategy Lightning knows; {hint} (trainer=ddp, "
                        "or trainer=ddp_sim for DDP on CPU processes)")
    if accelerator not in GPU_ACCELERATORS and strategy.startswith(("fsdp", "deepspeed")):
        raise UserError(f"trainer.strategy={strategy} shards the model over GPUs, and the run is on the {accelerator}; "
                        "use a GPU profile (hardware=a100 ...) on a machine with GPUs, or trainer=ddp_sim for DDP "
                        "on CPU processes")
    if "xla" in strategy or "tpu" in strategy:
        raise UserError(f"trainer.strategy={strategy} runs on TPUs, which this project does not set up; use "
                        "trainer=ddp (GPUs) or trainer=ddp_sim (CPU processes)")


def device_request(devices: Any, key: str) -> tuple[Optional[int], Optional[list[int]]]:
    """(count, ids) of a ``devices`` value as Lightning reads it: 2, -1, "2", "0,1", [0, 1]; (None, None) for auto."""
    shape = f"{key}={devices!r} must be a number of devices (1 or more; -1 for all), auto, or a list of GPU ids ([0,1])"
    if isinstance(devices, str) and devices.strip() == "auto":
        return None, None
    try:
        if OmegaConf.is_list(devices) or isinstance(devices, (list, tuple)):
            ids = [int(i) for i in devices]
        elif isinstance(devices, str) and "," in devices:
            ids = [int(i) for i in devices.split(",") if i.strip()]
        elif isinstance(devices, (int, str)) and not isinstance(devices, bool):
            count = int(devices)
            if count == 0 or count < -1:
                raise UserError(shape)
            return count, None
        else:
            raise UserError(shape)
    except ValueError:
        raise UserError(shape) from None
    if not ids or min(ids) < 0:
        raise UserError(shape)
    return None, ids


def _check_devices(devices: Any, accelerator: str, key: str) -> None:
    count, ids = device_request(devices, key)
    if accelerator == "cpu":
        cores = max(usable_cores(), 2)  # two processes anywhere: trainer=ddp_sim tries DDP on any machine
        if ids is not None or count == -1:
            raise UserError(f"{key}={devices} names GPUs, but the run is on the CPU; for GPUs use a GPU profile "
                            "(hardware=a100 ...) on a machine that has them, or give a number of CPU processes")
        if count is not None and count > cores:
            raise UserError(f"{key}={count} on the CPU starts {count} training processes (DDP over gloo), more than the "
                            f"{cores} CPU core(s) this process may use; give at most {cores}, or train on GPUs: a GPU "
                            "profile (hardware=a100 ...) on a machine that has them")
    elif accelerator in GPU_ACCELERATORS:
        available = torch.cuda.device_count()
        if (ids is not None and max(ids) >= available) or (count is not None and count > available):
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            seen = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
            raise UserError(f"{key}={devices} but torch sees {available} GPU(s) on this machine{seen}, numbered from 0"
                            f"{mig_note()}; give at most {available}, or -1 for all of them")


def _check_nodes(num_nodes: int) -> None:
    """``trainer.num_nodes`` > 1 needs a launcher that started this process on every node."""
    if num_nodes <= 1:
        return
    allocated = os.environ.get("SLURM_NNODES")
    if allocated is not None and int(allocated) != num_nodes:
        raise UserError(f"trainer.num_nodes={num_nodes} but this SLURM job has {allocated} node(s) (SLURM_NNODES); ask "
                        f"for {num_nodes} (hydra.launcher.nodes={num_nodes}, sbatch --nodes={num_nodes}), or set "
                        f"trainer.num_nodes={allocated}")
    if not any(name in os.environ for name in _MULTI_NODE_ENV):
        raise UserError(f"trainer.num_nodes={num_nodes}, but no multi-node launcher started this process (no SLURM "
                        "job or NODE_RANK/MASTER_ADDR), so it would wait forever for the other nodes; run "
                        f"it as SLURM jobs over {num_nodes} nodes (-m hydra/launcher=slurm hydra.launcher.nodes="
                        f"{num_nodes}), or set trainer.num_nodes=1 on one machine")
