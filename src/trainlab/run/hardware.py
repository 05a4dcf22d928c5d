"""Apply a hardware profile (conf/hardware) to torch before anything is built, checked against this machine
(what the trainer gets from it is checked in :mod:`trainlab.run.trainer_devices`)."""

from __future__ import annotations

import copy
import logging
import os
import re
from typing import Any, Optional

import torch
from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import UserError
from trainlab.config.schemas import ACCELERATORS, GPU_ACCELERATORS, MATMUL_PRECISIONS, PRECISIONS
from trainlab.run.cores import CpuLimit, affinity_cores, busy_cores, cpu_limit, too_many_workers, usable_cores
from trainlab.run.gpus import auto_precision, memory_problem, names_a_gpu, nvml_gpu_uuids
from trainlab.run.host_memory import keep_host_memory
from trainlab.run.process import silence_for_the_run

log = logging.getLogger(__name__)

# Lightning's older spellings of a precision (it takes them with a deprecation warning), with today's
LEGACY_PRECISIONS = {"16": "16-mixed", "bf16": "bf16-mixed", "32": "32-true", "64": "64-true", "half": "16-true",
                     "bf16-half": "bf16-true", "double": "64-true"}


def cuda_usable() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def cpu_has_bf16() -> bool:
    """Whether oneDNN computes bfloat16 natively on this CPU (AVX512-BF16 or AMX).

    bf16 autocast on a CPU without it ends inside oneDNN's RNN kernels (the LSTM's forward) with an
    error, as seen on such machines; with it, bf16-mixed trains the LSTM (checked here on an EPYC with
    avx512_bf16). The flag is torch's own probe (no public API yet; torch's inductor uses it too).
    """
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and probe is not None and probe())


def _auto_precision(devices: Any) -> str:
    """bf16 where every GPU of the run has it natively (Ampere and newer), fp16 where one is older, fp32 on CPU
    (:func:`trainlab.run.gpus.auto_precision`)."""
    return auto_precision(devices) if cuda_usable() else "32-true"


def _check_choice(hw: DictConfig, key: str, allowed: tuple[str, ...]) -> None:
    value = hw[key]
    if value not in allowed:
        raise UserError(
            f"hardware.{key}={value!r} is not one of {', '.join(allowed)}; "
            f"{old_spelling(value)}pick one of those (profile '{hw.name}')"
        )


def old_spelling(precision: Any) -> str:
    new = LEGACY_PRECISIONS.get(str(precision))
    return f"it is Lightning's old spelling of {new}: " if new else ""


def accelerator_problem(accelerator: str, precision: str, who: str, precision_key: str, fix: str) -> Optional[str]:
    """Why ``accelerator`` with ``precision`` cannot run on this machine, or None. ``who`` names the
    setting that chose the accelerator (``hardware=a100``, ``trainer.accelerator=gpu``), ``precision_key``
    the one of the precision; ``fix`` says what to do where the accelerator is missing."""
    if accelerator in GPU_ACCELERATORS and not cuda_usable():
        return (f"{who} needs an NVIDIA GPU with CUDA, but torch sees none on this machine (torch {torch.__version__}, "
                f"torch.cuda.is_available() is False{_hidden_gpus()}); {fix}{_on_a_login_node()}")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        return f"{who} needs an Apple-silicon GPU (MPS), which torch does not find on this machine; {fix}"
    if accelerator == "cpu" and precision in ("16-mixed", "16-true"):
        also = " (or bf16-mixed: this CPU computes bfloat16 natively)" if cpu_has_bf16() else ""
        return f"{precision_key}={precision} runs on GPUs only; on the CPU use 32-true{also}"
    if accelerator == "cpu" and precision.startswith("bf16") and not cpu_has_bf16():
        return (f"{precision_key}={precision}: this CPU has no native bfloat16 (oneDNN's LSTM kernels fail "
                f"without it, and emulated bf16 is slower than fp32); use {precision_key}=32-true")
    return None


def _hidden_gpus() -> str:
    """``CUDA_VISIBLE_DEVICES`` as set, when torch sees no GPU and the variable is why: an empty value, or one
    whose first entry is no device (-1; CUDA reads the list up to the first invalid entry), or one whose first
    entry names none of the GPUs NVML finds here (``4,5`` on a 2-GPU machine, a UUID of another node's GPU:
    another machine's or job's ids). Where it names one of them (a SLURM job's ``0``), torch is why, not the
    variable: its build or the driver. ``""`` where NVML finds no GPU: the machine has none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    first = (visible or "").split(",")[0].strip()
    if visible is None:
        return ""
    gpus = nvml_gpu_uuids()
    if not gpus:  # '' or -1 too: on a machine without GPUs it hid none, and unsetting it changed nothing
        return ""
    if first.isdigit() or first.startswith(("GPU-", "MIG-")):
        if names_a_gpu(first, gpus):
            return f"; NVML finds {len(gpus)} GPU(s) here, so torch is why: {_torch_without_cuda()}"
        return (f"; CUDA_VISIBLE_DEVICES='{visible}' names no GPU of this machine, which has {len(gpus)} "
                f"(nvidia-smi -L lists them): unset it, or list some of 0 to {len(gpus) - 1}")
    return f"; CUDA_VISIBLE_DEVICES='{visible}' hides GPUs from torch: unset it, or list the GPUs to use (0,1)"


def _torch_without_cuda() -> str:
    """Why torch finds none of the GPUs NVML finds: its build."""
    if torch.version.cuda is None:
        return "it is a CPU-only build (torch.version.cuda is None); install a CUDA build of torch"
    return (f"it is built for CUDA {torch.version.cuda}, which this NVIDIA driver may be too old for (nvidia-smi "
            "shows the newest CUDA the driver runs)")


def _on_a_login_node() -> str:
    """Where sbatch is at hand outside a job (a cluster's login node), the GPUs are a job away."""
    import shutil

    if shutil.which("sbatch") is None or "SLURM_JOB_ID" in os.environ:
        return ""
    return ("; on a SLURM login node, run it as a job on a GPU partition: python train.py -m hydra/launcher=slurm "
            "hydra.launcher.partition=<gpu partition> <your overrides>")


def _check_sizes(hw: DictConfig) -> None:
    """Counts and budgets of the profile that torch or the data loaders would take without a word."""
    cores = usable_cores()
    if hw.num_threads is not None and not 1 <= hw.num_threads <= cores:
        raise UserError(f"hardware.num_threads={hw.num_threads} must be 1 to {cores}, the CPU cores this process may "
                        "use (more threads than cores wait on each other); or null for torch's default")
    if hw.num_workers < 0:
        raise UserError(f"hardware.num_workers={hw.num_workers} must be 0 or more")
    if too_many_workers(hw.num_workers):  # said once here, not by torch at every loader
        log.warning(too_many_workers(hw.num_workers))
        silence_for_the_run(r"This DataLoader will create \d+ worker processes")
    for key in ("memory_gb", "max_nodes_per_graph", "prefetch_factor"):
        if hw[key] is not None and hw[key] <= 0:
            raise UserError(f"hardware.{key}={hw[key]} must be more than 0, or null (no limit, or the default)")
    if hw.host_memory_keep_mb is not None and hw.host_memory_keep_mb < 1:
        raise UserError(f"hardware.host_memory_keep_mb={hw.host_memory_keep_mb} must be 1 or more "
                        "(or null: glibc's defaults)")
    if hw.num_workers == 0:
        for key in _given_on_the_command_line(("prefetch_factor", "persistent_workers")):
            if hw[key]:  # the profiles' own values are theirs to carry; one typed here would do nothing
                raise UserError(f"hardware.{key}={hw[key]} is a setting of DataLoader worker processes, but "
                                "hardware.num_workers=0 loads the data in the training process; add "
                                f"hardware.num_workers=<n> (e.g. 2), or leave hardware.{key} out")


def _check_thread_variable(value: Optional[str], num_threads: Optional[int]) -> None:
    """``OMP_NUM_THREADS`` that OpenMP cannot read (``abc``, ``0``) is ignored with a line of libgomp's that
    names no fix; say what torch uses instead and the setting that chooses it (nothing once
    ``hardware.num_threads`` has chosen them: the variable no longer matters). ``value``: the variable as
    the run found it, read before :func:`set_process_flags` writes the threads it chose there (under a
    CPU quota an unreadable value was replaced without a word)."""
    if num_threads is None and value is not None and not _omp_threads_given(value):
        log.warning("OMP_NUM_THREADS=%s is not a number of threads, so OpenMP ignores it and torch uses %d; unset it, "
                    "or choose them with hardware.num_threads=<n>", value, torch.get_num_threads())


def _given_on_the_command_line(keys: tuple[str, ...]) -> list[str]:
    """Those of the ``hardware.<key>`` that the command line sets (Hydra's task overrides)."""
    from trainlab.config.invocation import task_overrides

    given = [o.lstrip("+~").split("=", 1)[0] for o in task_overrides()]
    return [key for key in keys if f"hardware.{key}" in given]


def apply_hardware(profile: DictConfig) -> DictConfig:
    """Check the profile against this machine, set torch flags, and return a copy of the profile with
    its ``auto`` values resolved (the profile given is left as it is).

    Stops with a UserError, before any work, when the profile needs a GPU that is not usable here.
    """
    hw = copy.deepcopy(profile)
    _check_choice(hw, "accelerator", ACCELERATORS)
    _check_choice(hw, "precision", PRECISIONS)
    _check_choice(hw, "float32_matmul_precision", MATMUL_PRECISIONS)
    if hw.accelerator == "auto":
        hw.accelerator = "gpu" if cuda_usable() else "cpu"
        if hw.accelerator == "cpu" and _hidden_gpus():
            log.warning("hardware.accelerator=auto takes the CPU: torch sees no GPU%s", _hidden_gpus())
        elif hw.accelerator == "cpu" and torch.backends.mps.is_available():  # a Mac: auto takes NVIDIA GPUs only
            log.warning("hardware.accelerator=auto takes the CPU: it picks NVIDIA GPUs only; this machine's Apple GPU "
                        "(MPS) trains with hardware.accelerator=mps (with hardware.precision=32-true)")
    if hw.accelerator == "cpu" and hw.pin_memory:  # pinned host memory only speeds up copies to a GPU
        if _given_on_the_command_line(("pin_memory",)):
            log.warning("hardware.pin_memory=true does nothing on the CPU (it speeds up copies to a GPU); left off")
        hw.pin_memory = False
    if hw.precision == "auto":
        hw.precision = _auto_precision(hw.devices) if hw.accelerator != "cpu" else "32-true"
    # cpu and auto never ask for a device themselves: there hardware.accelerator was set on top of the profile
    who = f"hardware.accelerator={hw.accelerator}" if hw.name in ("cpu", "auto") else f"hardware={hw.name}"
    problem = accelerator_problem(hw.accelerator, hw.precision, who, "hardware.precision",
                                   "use hardware=cpu, or hardware=auto to take whatever the machine has")
    if problem:
        raise UserError(problem)
    _check_sizes(hw)
    if hw.accelerator in GPU_ACCELERATORS and memory_problem(hw.memory_gb, hw.devices):
        log.warning(memory_problem(hw.memory_gb, hw.devices))

    if hw.accelerator in GPU_ACCELERATORS and hw.allow_tf32 != (hw.float32_matmul_precision != "highest"):
        log.warning("hardware.allow_tf32=%s with hardware.float32_matmul_precision=%s: CUDA matmuls follow the "
                    "matmul precision (%s), allow_tf32 cuDNN's convolutions; set both alike (highest with false, "
                    "high or medium with true)", hw.allow_tf32, hw.float32_matmul_precision,
                    "TF32 allowed" if hw.float32_matmul_precision != "highest" else "exact float32")
    if hw.accelerator == "cpu" and hw.float32_matmul_precision == "medium":
        # torch lets oneDNN run float32 matmuls in bfloat16 there, which no other line of the run shows
        log.warning("hardware.float32_matmul_precision=medium on the CPU: torch runs float32 matmuls in bfloat16 "
                    "on CPUs with AMX or avx512_bf16 (a 512x512 matmul's largest error 0.25, against 6e-5 at high); set "
                    "hardware.float32_matmul_precision=highest (or high) for float32 matmuls")
    quota_note = _quota_note(hw)
    thread_variable = os.environ.get("OMP_NUM_THREADS")
    host_memory = set_process_flags(hw)
    _check_thread_variable(thread_variable, hw.num_threads)
    if hw.num_threads is None and (busy := busy_cores(torch.get_num_threads())):
        log.warning(busy)
    log.info(
        "hardware=%s: accelerator=%s precision=%s matmul=%s tf32=%s cudnn.benchmark=%s threads=%d%s host memory: %s",
        hw.name, hw.accelerator, hw.precision, hw.float32_matmul_precision, hw.allow_tf32,
        hw.cudnn_benchmark, torch.get_num_threads(), quota_note, host_memory,
    )
    return hw


def set_process_flags(hw: DictConfig) -> str:
    """Set the profile's per-process settings (torch flags, threads, glibc's malloc) in this process;
    returns what :func:`trainlab.run.host_memory.keep_host_memory` did. :func:`apply_hardware` calls it after
    its checks, a spawned rank (:mod:`trainlab.run.spawned`) again in its own interpreter."""
    # the matmul precision last: torch >= 2.9 keeps one setting for CUDA matmuls that both calls write, and
    # after allow_tf32 had the last word (medium, then allow_tf32=True: rtx4070_mobile) its own
    # get_float32_matmul_precision() raised, which Lightning calls when it sets up an Ampere or newer GPU
    torch.backends.cuda.matmul.allow_tf32 = bool(hw.allow_tf32)
    torch.backends.cudnn.allow_tf32 = bool(hw.allow_tf32)
    torch.set_float32_matmul_precision(hw.float32_matmul_precision)
    torch.backends.cudnn.benchmark = bool(hw.cudnn_benchmark)
    threads = hw.num_threads if hw.num_threads is not None else _default_threads(_processes(hw.devices))
    if threads is not None:
        torch.set_num_threads(int(threads))
        # Lightning's DDP launchers set every rank's threads to the affinity's cores / ranks unless this is
        # set (lightning.fabric.utilities.distributed._set_num_threads_if_needed): rank 0 trained on 32
        # threads with hardware.num_threads=1 on 64 cores, and the ranks it starts read it from here; given
        # back with the run's other settings (trainlab.run.process.settings_kept)
        os.environ["OMP_NUM_THREADS"] = str(int(threads))
    return keep_host_memory(hw.host_memory_keep_mb)


def _processes(devices: Any) -> int:
    """Training processes on this machine for ``hardware.devices`` (one per device; 1 where it says no number)."""
    if OmegaConf.is_list(devices) or isinstance(devices, (list, tuple)):
        return max(len(devices), 1)
    return int(devices) if isinstance(devices, int) and devices > 0 else 1


def _default_threads(processes: int = 1) -> Optional[int]:
    """torch's own thread count where ``hardware.num_threads`` is null, lowered to the CPUs the cgroup's quota or
    the SLURM job allots, shared by this machine's ``processes`` (:mod:`trainlab.run.cores`): torch counts the
    cores of the process's affinity, 64 in a container limited to 2 CPUs on a 64-core host, whose 64 threads are
    then throttled to two CPUs' time. None leaves torch's count: no limit below it, or ``OMP_NUM_THREADS`` set
    to a number (the user's choice, which torch took)."""
    limit = cpu_limit()
    if limit is None or _omp_threads_given():
        return None
    share = max(1, limit.cpus // _sharing(processes, limit))
    return share if share < torch.get_num_threads() else None


def _sharing(processes: int, limit: CpuLimit) -> int:
    """The training processes that share the CPUs of ``limit``: all of this machine's, except where srun started
    each in a task of its own (SLURM_NTASKS above 1) and the limit is the task's CPUs, which are its alone."""
    tasks = os.environ.get("SLURM_NTASKS", "1")
    return 1 if limit.per_task and tasks.isdigit() and int(tasks) > 1 else processes


def _quota_note(hw: DictConfig) -> str:
    """Where the CPUs allotted choose torch's threads (:func:`_default_threads`), the words that say so (asked
    before :func:`set_process_flags` sets ``OMP_NUM_THREADS``)."""
    processes = _processes(hw.devices)
    if hw.num_threads is not None or _default_threads(processes) is None:
        return ""
    limit = cpu_limit()
    return (f" ({limit.source} over {_sharing(processes, limit)} training process(es); its affinity has "
            f"{affinity_cores()} cores)")


def _omp_threads_given(value: Optional[str] = None) -> bool:
    """Whether ``value`` (default: ``OMP_NUM_THREADS`` now) is a number of threads that OpenMP reads (``4``, ``4,2``)."""
    value = os.environ.get("OMP_NUM_THREADS", "") if value is None else value
    return re.fullmatch(r"[1-9]\d*(,[1-9]\d*)*", value.strip()) is not None
