"""What a SLURM partition can hold, asked of ``sinfo`` and ``scontrol`` before submission, and the one line
saying which key of ``hydra/launcher=slurm`` asks for more.

``sinfo`` gives the partition's nodes (the largest one's CPUs, memory and GPUs), its time limit and whether
it is up; ``scontrol show partition`` the limits a partition sets over its nodes (``MaxCPUsPerNode``,
``MaxMemPerNode``, ``MaxMemPerCPU``, ``MaxNodes``) and whom it takes (``AllowAccounts``, ``DenyQos`` ...). A request beyond any
of them was taken by sbatch and then pended for ever, its reason ``PartitionConfig``, ``MaxMemPerLimit`` or
``PartitionDown`` in squeue, until ``pending_timeout_min`` cancelled it (an hour by default). Memory beyond ``MaxMemPerCPU`` makes SLURM
give the job more CPUs; where no node has that many, sbatch refused it at submission (its ``--test-only``
took it), with the sweep folder made. Used by
:mod:`trainlab.run.slurm_request`'s preflight check.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Partition:
    """What SLURM reports for one partition: its largest node, and the partition's own limits (None: none)."""

    name: str
    nodes: int
    cpus: int  # per node
    memory_mb: int  # per node
    gpus: int  # per node
    time_limit_min: Optional[float]  # None: no limit
    state: str = "up"  # sinfo's %a: up, down, drain, inact
    max_nodes: Optional[int] = None  # MaxNodes (per job)
    max_cpus_per_node: Optional[int] = None  # MaxCPUsPerNode
    max_mem_per_node_mb: Optional[int] = None  # MaxMemPerNode
    max_mem_per_cpu_mb: Optional[int] = None  # MaxMemPerCPU (a partition has this or MaxMemPerNode)
    # "account" / "qos" -> (allowed, or None for ALL; denied)
    access: dict[str, tuple[Optional[list[str]], list[str]]] = field(default_factory=dict)
    others_up: list[str] = field(default_factory=list)  # the other partitions that are up


def slurm_minutes(limit: str) -> Optional[float]:
    """SLURM's time format (minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]])
    in minutes; None when unlimited."""
    if limit.lower() in ("infinite", "unlimited", "n/a", ""):
        return None
    days, _, clock = limit.rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    if days or len(parts) == 3:
        hours, minutes, seconds = parts + [0.0] * (3 - len(parts))
    elif len(parts) == 2:
        hours, (minutes, seconds) = 0.0, parts
    else:
        hours, minutes, seconds = 0.0, parts[0], 0.0
    return (float(days or 0) * 24 + hours) * 60 + minutes + seconds / 60


def _gpus(gres: str) -> int:
    """GPUs in a node's GRES string (``gpu:a100:4(S:0-1),shard:8`` -> 4)."""
    total = 0
    for item in gres.split(","):
        fields = item.split("(")[0].split(":")
        if fields[0] == "gpu" and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def _limit(value: Optional[str]) -> Optional[int]:
    """A count or size of ``scontrol show partition`` (``UNLIMITED``, ``1024``, ``16000M``), None when unlimited."""
    text = (value or "").rstrip("M")
    return int(text) if text.isdigit() else None


def _names(value: Optional[str]) -> Optional[list[str]]:
    """A comma list of ``scontrol show partition`` (``ALL``, ``(null)``: anyone -> None)."""
    return None if value in (None, "", "ALL", "(null)") else value.split(",")


def _partition_settings(name: str) -> dict[str, str]:
    """``scontrol show partition -o <name>`` as key -> value; empty where scontrol cannot say."""
    try:
        out = subprocess.run(["scontrol", "show", "partition", "-o", name], capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(item.split("=", 1) for item in out.stdout.split() if "=" in item) if out.returncode == 0 else {}


def query_partition(name: str) -> tuple[Optional[Partition], Optional[str]]:
    """The partition as SLURM sees it, or why it is not there (no such partition, or SLURM refuses to answer:
    sbatch would fail the same way, after the sweep folder exists); (None, None) when SLURM cannot be asked
    (no sinfo, a timeout): then nothing is checked."""
    if shutil.which("sinfo") is None:
        return None, None
    try:
        out = subprocess.run(["sinfo", "-h", "-p", name, "-o", "%D|%c|%m|%G|%l|%a"], capture_output=True,
                             text=True, timeout=20)
        if out.returncode != 0 or (not out.stdout.strip() and "error" in out.stderr):
            said = (out.stderr.strip().splitlines() or ["no message"])[-1].removeprefix("sinfo: ")
            return None, (f"hydra/launcher=slurm: SLURM does not answer on this machine (sinfo: {said}); submit "
                          "from a login node of the cluster, whose slurm.conf (or SLURM_CONF) names its controller")
        listed = subprocess.run(["sinfo", "-h", "-o", "%R|%a"], capture_output=True, text=True, timeout=20).stdout
        states = dict(line.split("|", 1) for line in listed.split() if "|" in line)
        if not out.stdout.strip():
            return None, (f"hydra.launcher.partition={name}: SLURM has no such partition; it has: "
                          f"{', '.join(sorted(states)) or 'none'}")
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    rows = [(line.split("|") + [""] * 6)[:6] for line in out.stdout.strip().splitlines()]
    settings = _partition_settings(name)
    return Partition(
        name=name, nodes=sum(int(r[0]) for r in rows),
        cpus=max(int(r[1].rstrip("+")) for r in rows), memory_mb=max(int(r[2].rstrip("+")) for r in rows),
        gpus=max(_gpus(r[3]) for r in rows), time_limit_min=slurm_minutes(rows[0][4]), state=rows[0][5] or "up",
        max_nodes=_limit(settings.get("MaxNodes")), max_cpus_per_node=_limit(settings.get("MaxCPUsPerNode")),
        max_mem_per_node_mb=_limit(settings.get("MaxMemPerNode")),
        max_mem_per_cpu_mb=_limit(settings.get("MaxMemPerCPU")),
        access={kind: (_names(settings.get(f"Allow{word}")), _names(settings.get(f"Deny{word}")) or [])
                for kind, word in (("account", "Accounts"), ("qos", "Qos"))},
        others_up=sorted(p.rstrip("*") for p, state in states.items() if state == "up" and p.rstrip("*") != name),
    ), None


def state_problem(params: dict[str, Any], part: Partition) -> Optional[str]:
    """A partition that is not up: SLURM starts none of its jobs (down: it queues them and waits; drain,
    inact: it takes none), as one line naming the partitions that are up; None when it is up."""
    if part.state == "up":
        return None
    elsewhere = (f"hydra.launcher.partition={part.others_up[0]} (up: {', '.join(part.others_up)})" if part.others_up
                 else "another partition once one is up (sinfo lists them)")
    wait = (", or hydra.launcher.pending_timeout_min=null to queue there and wait until it is up"
            if part.state == "down" and params.get("pending_timeout_min") is not None else "")
    return (f"hydra.launcher.partition={part.name} is {part.state} (sinfo): SLURM starts no job there "
            f"until an administrator brings it up; use {elsewhere}{wait}")


_SBATCH_MB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}


def sbatch_mb(value: Any) -> Optional[float]:
    """sbatch's memory format (``4096``, ``4G``, ``500M``; MB without a unit) in MB; None when not given or not
    in that format (sbatch says so itself)."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)b?", str(value or "").strip(), re.IGNORECASE)
    return float(found.group(1)) * _SBATCH_MB[found.group(2).lower() or "m"] if found else None


def _memory_per_cpu_problem(params: dict[str, Any], part: Partition, cpus: int) -> Optional[str]:
    """Memory per CPU beyond the partition's ``MaxMemPerCPU``, which SLURM meets by giving the job more CPUs, when
    no node has that many, as one line with the most memory that fits; None otherwise."""
    most = part.max_mem_per_cpu_mb
    per_cpu = sbatch_mb(params.get("mem_per_cpu"))
    if not most or (per_cpu is None and not params.get("mem_gb")):
        return None
    cpu_cap = min(part.cpus, part.max_cpus_per_node or part.cpus)
    if per_cpu is not None:  # --mem-per-cpu: each CPU asked becomes ceil(per_cpu / most) CPUs
        needed, key, fits = cpus * math.ceil(per_cpu / most), f"mem_per_cpu={params['mem_per_cpu']}", f"mem_per_cpu={most}M"
    else:  # --mem: the node's memory over MaxMemPerCPU, in CPUs
        mem_mb = float(params["mem_gb"]) * 1024
        per_cpu, needed, key = mem_mb / cpus, math.ceil(mem_mb / most), f"mem_gb={params['mem_gb']}"
        fits = f"mem_gb={math.floor(most * cpu_cap / 1024) or most / 1024:g}"
    if needed <= cpu_cap:
        return None
    return (f"hydra.launcher.{key} is {per_cpu:.0f} MB per CPU over {cpus} CPU(s), and the partition allows "
            f"{most} MB per CPU (MaxMemPerCPU): SLURM would give the job {needed} CPUs, its nodes have at "
            f"most {cpu_cap}; ask at most hydra.launcher.{fits}")


def resources_problem(params: dict[str, Any], part: Partition) -> Optional[str]:
    """What of the request does not fit the partition, as one line naming the keys, or None."""
    tasks = int(params.get("tasks_per_node") or 1)
    cpus = int(params.get("cpus_per_task") or 1) * tasks
    gpus = int(params.get("gpus_per_node") or 0)
    mem_mb = float(params.get("mem_gb") or 0) * 1024
    nodes = int(params.get("nodes") or 1)
    problems = []
    if nodes > part.nodes:
        problems.append(f"hydra.launcher.nodes={params['nodes']} but the partition has {part.nodes} node(s)")
    elif part.max_nodes is not None and nodes > part.max_nodes:
        problems.append(f"hydra.launcher.nodes={params['nodes']} but the partition allows {part.max_nodes} per job "
                        "(MaxNodes)")
    if cpus > part.cpus:
        problems.append(f"hydra.launcher.cpus_per_task x tasks_per_node = {cpus} CPUs but its nodes have at most "
                        f"{part.cpus}")
    elif part.max_cpus_per_node is not None and cpus > part.max_cpus_per_node:
        problems.append(f"hydra.launcher.cpus_per_task x tasks_per_node = {cpus} CPUs but the partition allows "
                        f"{part.max_cpus_per_node} per node (MaxCPUsPerNode)")
    if mem_mb > part.memory_mb:
        problems.append(f"hydra.launcher.mem_gb={params['mem_gb']} but its nodes have at most "
                        f"{part.memory_mb / 1024:.1f} GB")
    elif part.max_mem_per_node_mb is not None and mem_mb > part.max_mem_per_node_mb:
        problems.append(f"hydra.launcher.mem_gb={params['mem_gb']} but the partition allows "
                        f"{part.max_mem_per_node_mb / 1024:g} GB per node (MaxMemPerNode)")
    per_cpu_mb = sbatch_mb(params.get("mem_per_cpu"))
    if per_cpu_mb is not None and per_cpu_mb * cpus > part.memory_mb:
        problems.append(f"hydra.launcher.mem_per_cpu={params['mem_per_cpu']} x {cpus} CPU(s) but its nodes have at "
                        f"most {part.memory_mb / 1024:.1f} GB")
    memory_per_cpu = _memory_per_cpu_problem(params, part, cpus)
    if memory_per_cpu:
        problems.append(memory_per_cpu)
    if gpus > part.gpus:
        problems.append(f"hydra.launcher.gpus_per_node={gpus} (hardware.devices of a GPU profile, unless set) "
                        f"but its nodes have {part.gpus or 'no'} GPU(s)")
    if part.time_limit_min is not None and float(params.get("timeout_min") or 0) > part.time_limit_min:
        problems.append(f"hydra.launcher.timeout_min={params['timeout_min']} but the partition's limit is "
                        f"{part.time_limit_min:g} min")
    for kind, (allowed, denied) in part.access.items():
        given = params.get(kind)
        if given and ((allowed is not None and str(given) not in allowed) or str(given) in denied):
            takes = f"takes {kind} {', '.join(allowed)} only" if allowed is not None else f"refuses {kind} {given}"
            problems.append(f"hydra.launcher.{kind}={given} but the partition {takes}")
    if not problems:
        return None
    return f"the job does not fit partition {part.name}: " + "; ".join(problems)
