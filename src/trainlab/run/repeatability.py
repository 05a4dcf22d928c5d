"""What a run's seed repeats, said where the run cannot promise it: on the CPU the same command and seed
repeat a run bit for bit (README, Resume and evaluate); on a GPU, without deterministic kernels, only closely."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from trainlab.config.schemas import GPU_ACCELERATORS

log = logging.getLogger(__name__)


def gpu_repeat_note(cfg: DictConfig) -> str | None:
    """The line for a GPU run whose trainer may pick kernels that add in a varying order, None otherwise.

    cuDNN's benchmark times several convolution algorithms per run and keeps the fastest, and some CUDA
    kernels (atomic adds: a graph's neighbour aggregation, index_add, embedding gradients) sum in the order
    threads finish (PyTorch's "Reproducibility" notes); ``trainer.deterministic=true`` makes Lightning ask torch
    for deterministic kernels, where an op without one raises (``warn``: it only warns)."""
    if str(cfg.hardware.accelerator) not in GPU_ACCELERATORS or cfg.trainer.get("deterministic"):
        return None
    benchmark = " hardware.cudnn_benchmark=false" if cfg.hardware.get("cudnn_benchmark") else ""
    return (f"on the GPU the same seed repeats this run closely, not bit for bit (cuDNN's benchmark and CUDA kernels "
            f"that add in a varying order); trainer.deterministic=true{benchmark} asks for repeatable kernels, "
            "at some speed ('warn' instead of true: an op without a repeatable kernel warns instead of failing)")


def say_gpu_repeat(cfg: DictConfig) -> None:
    note = gpu_repeat_note(cfg)
    if note:
        log.info(note)
