"""``hydra/launcher=slurm`` before submission: what the request asks of SLURM, and whether it can run.

:func:`job_resources` fills what the config leaves open from the hardware profile (GPUs only when
``hardware`` asks for them; CPUs = its DataLoader workers + one for training), and
:func:`request_problem` (the preflight check, before any folder is made) refuses with one line a
request no node of the partition can hold, or more than the partition allows (according to ``sinfo`` and
``scontrol``: :mod:`trainlab.run.slurm_partition`; instead of SLURM's ``Invalid generic resource`` traceback
or a job pending forever), values below their minimum, and a signal warning that leaves no time to save.
Without a reachable ``sinfo`` the partition check is skipped.
Submitting, watching and requeueing: :mod:`trainlab.run.slurm`.
"""

from __future__ import annotations

import logging
import math
import subprocess
from typing import Any, Optional

from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.schemas import GPU_ACCELERATORS
from trainlab.run.slurm_partition import slurm_minutes, query_partition, resources_problem, state_problem

log = logging.getLogger(__name__)

REQUEUE_CHOICES = ("never", "timeout", "always")
EARLY_SIGNAL_S = 60  # sbatch(1): "the signal may be sent up to 60 seconds earlier than specified"
STARTUP_S = 60  # a job's Python start (imports, submitit's handler) on a busy node, with room to spare


def job_resources(params: dict[str, Any], config: DictConfig) -> dict[str, Any]:
    """``params`` with ``gpus_per_node`` and ``cpus_per_task`` filled from ``hardware`` where null:
    the hardware profile is the one home of device counts and worker counts."""
    hardware = config.get("hardware") or {}
    filled = dict(params)
    if filled.get("gpus_per_node") is None and str(hardware.get("accelerator")) in GPU_ACCELERATORS:
        devices = hardware.get("devices")
        filled["gpus_per_node"] = len(devices) if OmegaConf.is_list(devices) else \
            int(devices) if str(devices).isdigit() else 1  # "auto": one
    if filled.get("cpus_per_task") is None:
        filled["cpus_per_task"] = int(hardware.get("num_workers") or 0) + 1
    if not filled.get("gpus_per_node"):
        filled["gpus_per_node"] = None  # no --gpus-per-node at all: a CPU partition refuses even 0 GPUs
    return filled


_MEMORY_UNITS = {"k": 1 / 1024**2, "m": 1 / 1024, "g": 1, "t": 1024}


def launcher_value_hint(key: str, value: Any) -> Optional[str]:
    """The line for a launcher key given in sbatch's own format, which the typed config refuses (``timeout_min``
    is minutes, ``mem_gb`` gigabytes): the value in the key's unit, or None for other keys and values."""
    import re

    text = str(value).strip()
    if key == "timeout_min" and re.fullmatch(r"(\d+-)?\d+(:\d+){0,2}|\d+-\d+", text):
        minutes = math.ceil(slurm_minutes(text))  # a whole number: the key is an int
        return (f"hydra.launcher.timeout_min is a number of minutes, not sbatch's time format: {text} is "
                f"hydra.launcher.timeout_min={minutes}")
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt])i?b?", text, re.IGNORECASE) if key == "mem_gb" else None
    if found:
        gb = float(found.group(1)) * _MEMORY_UNITS[found.group(2).lower()]
        return f"hydra.launcher.mem_gb is a number of GB, not sbatch's --mem format: {text} is hydra.launcher.mem_gb={gb:g}"
    return None


def _signal_window(params: dict[str, Any]) -> tuple[float, float]:
    """(time limit, signal delay) in seconds; a limit of 0 means none was given."""
    return float(params.get("timeout_min") or 0) * 60, float(params.get("signal_delay_s") or 0)


def signal_problem(params: dict[str, Any]) -> Optional[str]:
    """Why the stop signal would come before the job can run at all, or None."""
    limit_s, delay_s = _signal_window(params)
    if limit_s and delay_s >= limit_s:
        return (f"hydra.launcher.signal_delay_s={delay_s:g} is not shorter than hydra.launcher.timeout_min="
                f"{params['timeout_min']} ({limit_s:g} s): the job would be told to stop as it starts; use a "
                f"signal_delay_s well below the limit (default 120) or a longer timeout_min")
    return None


def warn_early_signal(params: dict[str, Any]) -> None:
    """SLURM may send ``--signal`` up to 60 s before the time asked (sbatch(1)); a signal that arrives
    before Python has set its handlers ends the job without a checkpoint or a requeue."""
    limit_s, delay_s = _signal_window(params)
    if limit_s and limit_s - delay_s < EARLY_SIGNAL_S + STARTUP_S:
        log.warning("hydra.launcher.timeout_min=%g with signal_delay_s=%g leaves %g s before the stop signal, and "
                    "SLURM may send it up to %d s early: a job still starting then ends without a checkpoint or a "
                    "requeue; leave at least %d s (a longer timeout_min or a shorter signal_delay_s)",
                    float(params["timeout_min"]), delay_s, limit_s - delay_s, EARLY_SIGNAL_S, EARLY_SIGNAL_S + STARTUP_S)


# the smallest value of each count sbatch is given (it refuses less, once the sweep folder exists)
_MINIMUMS = {"timeout_min": 1, "nodes": 1, "tasks_per_node": 1, "cpus_per_task": 1, "gpus_per_node": 0,
             "signal_delay_s": 0, "max_num_timeout": 0}


def range_problem(params: dict[str, Any]) -> Optional[str]:
    """A count or size of the request below what it can be, or None."""
    for key, low in _MINIMUMS.items():
        if params.get(key) is not None and params[key] < low:
            return f"hydra.launcher.{key}={params[key]} must be at least {low}"
    for key in ("mem_gb", "pending_timeout_min"):
        if params.get(key) is not None and params[key] <= 0:
            return f"hydra.launcher.{key}={params[key]} must be more than 0 (or null: no limit)"
    poll = params.get("poll_interval_s")
    if poll is not None and poll <= 0:  # after submission: time.sleep's ValueError (< 0), or squeue asked non-stop (0)
        return f"hydra.launcher.poll_interval_s={poll:g} must be more than 0 (seconds between two looks at the jobs; e.g. 30)"
    return None


def processes_problem(params: dict[str, Any], config: DictConfig) -> Optional[str]:
    """Lightning runs one SLURM task per device on each node, and refuses a job whose ``--nodes`` or
    ``--ntasks-per-node`` differ from ``trainer.num_nodes`` and the trainer's devices: when it starts,
    after its wait in the queue. Checked here instead, or None."""
    trainer = config.get("trainer")
    if trainer is None:
        return None
    nodes, tasks = int(params.get("nodes") or 1), int(params.get("tasks_per_node") or 1)
    if int(trainer.num_nodes) != nodes:
        return (f"hydra.launcher.nodes={nodes} but trainer.num_nodes={trainer.num_nodes}: Lightning refuses a job "
                f"whose nodes differ from it; give both the same number (hydra.launcher.nodes={trainer.num_nodes})")
    devices = trainer.devices
    count = len(devices) if OmegaConf.is_list(devices) else int(devices) if str(devices).isdigit() else None
    if count is not None and count != tasks:  # "auto", -1: as many as the node has; Lightning checks
        key = "hardware.devices" if OmegaConf.is_interpolation(trainer, "devices") else "trainer.devices"
        return (f"hydra.launcher.tasks_per_node={tasks} but {key}={devices}: Lightning wants one SLURM task per "
                f"device; set hydra.launcher.tasks_per_node={count}")
    return None


def request_problem(launcher: DictConfig, config: DictConfig) -> Optional[str]:
    """Why the launcher's request (with :func:`job_resources` filled in) cannot run on its partition,
    or None (it fits, or SLURM cannot be asked from here). For the preflight check, before any folder."""
    given = OmegaConf.to_container(launcher, resolve=True)
    params = job_resources(given, config)
    if given.get("gpus_per_node") == 0 and not params.get("gres") and not params.get("gpus_per_task") and \
            str((config.get("hardware") or {}).get("accelerator")) in GPU_ACCELERATORS:
        return ("hydra.launcher.gpus_per_node=0 but the hardware profile trains on GPUs (hardware.accelerator="
                f"{config.hardware.accelerator}): the job would start without one and fail; leave gpus_per_node out "
                "(it follows hardware.devices), or use hardware=cpu")
    if params.get("requeue") not in REQUEUE_CHOICES:
        return f"hydra.launcher.requeue={params.get('requeue')} must be one of {', '.join(REQUEUE_CHOICES)}"
    problem = (range_problem(params) or processes_problem(params, config) or signal_problem(params)
               or targets_problem(config))
    if problem:
        return problem
    partition, missing = query_partition(str(params.get("partition")))
    if missing or partition is None:  # no answer from SLURM: sbatch cannot be asked either
        return missing
    return state_problem(params, partition) or resources_problem(params, partition) or sbatch_problem(params)


def submitit_request_problem(launcher: DictConfig) -> Optional[str]:
    """hydra/launcher=submitit_slurm (hydra-submitit-launcher's own, its keys as given): an unknown partition
    or a job sbatch refuses, before the sweep folder is made; None when it would be taken or SLURM cannot be
    asked."""
    params = OmegaConf.to_container(launcher, resolve=True)
    partition, missing = query_partition(str(params.get("partition")))
    return missing or (state_problem(params, partition) or sbatch_problem(params) if partition is not None else None)


# keys of the launchers' configs that are no sbatch option (ours, and Hydra's _target_)
NOT_SBATCH = ("_target_", "requeue", "pending_timeout_min", "poll_interval_s")


def slurm_executor(params: dict[str, Any], requeue: str = "timeout", folder: Optional[str] = None) -> Any:
    """submitit's SLURM executor for the request ``params`` (the launcher's keys, :func:`job_resources`
    filled), in ``folder`` (default: its ``submitit_folder``): the one that submits the jobs, and the one
    whose script :func:`sbatch_problem` asks sbatch about."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = {key: value for key, value in params.items() if key not in NOT_SBATCH}
    max_timeouts = params.pop("max_num_timeout", 0)
    submitit_folder = params.pop("submitit_folder")
    executor = submitit.AutoExecutor(folder=folder or submitit_folder, cluster="slurm",
                                     slurm_max_num_timeout=max_timeouts if requeue != "never" else 0)
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{key if key in shared else f"slurm_{key}": value for key, value in params.items()})
    return executor


# words of sbatch's refusal -> the launcher keys that make the options it is about
SBATCH_REFUSALS = (
    ("feature", ("constraint",)),
    ("generic resource", ("gres", "gpus_per_node", "gpus_per_task")),
    ("gres", ("gres", "gpus_per_node", "gpus_per_task")),
    ("account", ("account",)),
    ("qos", ("qos",)),
    ("partition", ("partition",)),
    ("time limit", ("timeout_min",)),
    ("--time", ("timeout_min",)),
    ("memory", ("mem_gb", "mem_per_cpu", "mem_per_gpu")),
    ("--mem", ("mem_gb", "mem_per_cpu", "mem_per_gpu")),
    ("cpu count", ("cpus_per_task", "tasks_per_node", "mem_gb", "mem_per_cpu")),  # memory over MaxMemPerCPU too
    ("node configuration", ("constraint", "cpus_per_task", "mem_gb", "gpus_per_node", "tasks_per_node", "nodes")),
    ("node count", ("nodes",)),
    ("node name", ("nodelist", "exclude")),
    ("nodelist", ("nodelist", "exclude")),
    ("dependency", ("dependency",)),
    ("reservation", ("additional_parameters",)),
)


# sbatch's words when SLURM's controller did not answer: nothing about the job, so no launcher key is named
CONTROLLER_SILENT = ("Socket timed out", "Unable to contact slurm controller", "Zero Bytes were transmitted",
                     "Slurm backup controller in standby", "Connection refused")


def _refused_keys(reason: str, params: dict[str, Any]) -> list[str]:
    """``hydra.launcher.<key>=<value>`` for the keys given that make the options sbatch's ``reason`` is about."""
    words = reason.lower()
    keys = [key for found, keys in SBATCH_REFUSALS if found in words for key in keys]
    extra = params.get("additional_parameters") or {}
    named = [f"hydra.launcher.additional_parameters.{key}={value}" for key, value in extra.items()
             if any(part in words for part in str(key).lower().replace("_", "-").split("-") if len(part) > 3)]
    given = [f"hydra.launcher.{key}={params[key]}" for key in dict.fromkeys(keys)
             if key != "additional_parameters" and params.get(key) not in (None, "", {})]
    return given + named


def sbatch_problem(params: dict[str, Any]) -> Optional[str]:
    """What sbatch says of the job script submitit would submit for ``params``, asked with ``sbatch
    --test-only`` (nothing is queued), as one line naming the keys it is about; None when sbatch takes it
    or cannot be asked. What ``sinfo`` cannot tell (a node feature, a GRES name, an account or a qos SLURM
    does not know) was refused at submission, with the sweep folder made and the job's files in it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="trainlab-sbatch-") as folder:
        slurm = slurm_executor(params, folder=folder)._executor
        # submitit's own script (a private method, the one its submission writes): sbatch checks what would go
        script = slurm._make_submission_file_text(slurm._submitit_command_str, "test-only")
        try:
            out = subprocess.run(["sbatch", "--test-only"], input=script, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
    if out.returncode == 0:
        return None
    said = (out.stderr + out.stdout).strip() or f"exit status {out.returncode}"
    reason, culprit = sbatch_refusal(said, params)
    if culprit is None:  # no answer about the job: no key to blame
        return (f"sbatch could not ask SLURM's controller about the job: {reason} (asked with sbatch --test-only; "
                "nothing was submitted); start it again once the controller answers (squeue shows whether it does)")
    return f"sbatch refuses the job: {reason} (asked with sbatch --test-only; nothing was submitted); {culprit}"


def sbatch_refusal(said: str, params: dict[str, Any]) -> tuple[str, Optional[str]]:
    """sbatch's refusal ``said`` (its stderr) as (its last line, what to change: the keys behind any of its lines,
    or the advice to fix the one it names); what to change is None when the controller did not answer."""
    lines = [line.strip() for line in said.splitlines() if line.strip()] or ["no message"]
    for prefix in ("sbatch: ", "error: ", "fatal: ", "allocation failure: ", "Batch job submission failed: "):
        lines = [line.removeprefix(prefix) for line in lines]
    reason = lines[-1].rstrip(".")
    if any(words in reason for words in CONTROLLER_SILENT):
        return reason, None
    keys = _refused_keys(" ".join(lines), params)  # 'CPU count per node can not be satisfied' comes first
    return reason, (f"it comes from {' or '.join(keys)}: change or remove it" if keys
                    else "hydra.launcher.* keys become sbatch's options: fix the one it names")


def targets_problem(config: DictConfig) -> Optional[str]:
    """Why a ``_target_`` of the jobs' config does not import here (a misspelt class, a user's own package
    not on PYTHONPATH, an error inside their module), or None: every job would fail on it, each after
    its wait in the queue."""
    from trainlab.config.errors import UserError
    from trainlab.config.instantiate import import_target

    for key, path in _targets(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])):
        try:
            import_target(path, key)
        except UserError as exc:
            return f"{exc} (checked before submitting: every SLURM job would fail on it, after its wait in the queue)"
    return None


def _targets(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(key, ``_target_``) of every node under ``node`` that names a class or function."""
    if isinstance(node, ListConfig):
        return [t for i, item in enumerate(node) for t in _targets(item, f"{prefix}[{i}]")]
    if not isinstance(node, DictConfig):
        return []
    found = [(prefix, node._target_)] if isinstance(node.get("_target_"), str) else []
    return found + [t for key in node if key != "_target_" for t in _targets(node._get_node(key), f"{prefix}.{key}".lstrip("."))]
