"""A throwaway single-node SLURM cluster for tests and measurements of the SLURM launcher.

``with throwaway_slurm() as cluster:`` writes a ``slurm.conf`` into a new folder under the system's
temp folder (its own ports, pid files, state and spool folders, its own munge key and socket), starts
``munged``, ``slurmctld`` and ``slurmd`` in the foreground as children of this process, points
``SLURM_CONF`` at the file (so ``sbatch``, ``squeue``, submitit and Lightning find this cluster) and
yields a :class:`SlurmCluster`; on leaving, every job is cancelled, the daemons are stopped, anything
left running with this cluster's ``SLURM_CONF`` is killed, and the folder is removed.

Settings that work without systemd and cgroups (checked with Debian's slurm-wlm 22.05): process
tracking by ``/proc`` (``proctrack/linuxproc``), no task plugin, no accounting (``sacct`` answers
"accounting storage is disabled", as on clusters where it is off), one node with this machine's
CPUs and memory in one partition ``debug``. ``KillWait`` is short so that time limits and
cancellations end within seconds. A requeued job becomes eligible only after about two minutes
(SLURM's BeginTime); :meth:`SlurmCluster.release` starts it at once.

:class:`SlurmUnavailable` says why no cluster could be started (no binaries, a daemon that did not
come up), for a visible skip.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from trainlab.testing.lifetime import die_with_parent, owned_folder, prctl, remove_abandoned
from trainlab.testing.ports import free_port

PARTITION = "debug"
PREFIX = "trainlab-slurm-"  # the temp folders of the clusters
START_TIMEOUT_S = 30
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel")
CONF_TEMPLATE = """\
ClusterName={cluster}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
JobRequeue=1
PreemptMode=OFF
KillWait=5
MinJobAge=600
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
Waittime=0
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmUnavailable(RuntimeError):
    """No throwaway cluster can be started here; the message says why."""


@dataclass
class SlurmCluster:
    """A running throwaway cluster: its folder, ``slurm.conf``, the partition and the node's size."""

    folder: Path
    conf: Path
    partition: str
    cpus: int
    memory_mb: int

    def command(self, *args: str, check: bool = True, timeout: float = 30) -> str:
        """Run a SLURM client command (``squeue``, ``scontrol``, ...) against this cluster; its stdout."""
        result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "SLURM_CONF": str(self.conf)})
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def job_field(self, job_id: str, field: str) -> Optional[str]:
        """One field of ``scontrol show job`` (``JobState``, ``Restarts``, ``Reason``), None once it is gone."""
        out = self.command("scontrol", "show", "job", "-o", str(job_id), check=False)
        match = re.search(rf"\b{field}=(\S*)", out)
        return match.group(1) if match else None

    def release(self, job_id: str) -> None:
        """Make a requeued (or held back) job eligible now instead of after SLURM's two minutes."""
        self.command("scontrol", "update", f"JobId={job_id}", "StartTime=now", check=False)

    def jobs(self) -> list[str]:
        """Ids of the jobs SLURM still lists (any state)."""
        return self.command("squeue", "-h", "-o", "%i").split()

    def log(self, daemon: str = "slurmctld") -> str:
        path = self.folder / f"{daemon}.log"
        return path.read_text(errors="replace") if path.is_file() else ""


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _memory_mb() -> int:
    """The node's memory for SLURM: this machine's, less a tenth for the system."""
    with open("/proc/meminfo") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    return int(total_kb / 1024 * 0.9)


def _wait_for(what: str, ready, daemons: dict[str, subprocess.Popen], folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return
        for name, proc in daemons.items():
            if proc.poll() is not None:
                log = folder / f"{name}.log"
                tail = log.read_text(errors="replace").strip()[-600:] if log.is_file() else ""
                raise SlurmUnavailable(f"{name} exited with status {proc.returncode}: {tail}")
        time.sleep(0.2)
    raise SlurmUnavailable(f"{what} within {START_TIMEOUT_S} s; see the logs in {folder}")


def _start_munge(folder: Path, as_root: bool) -> subprocess.Popen:
    """munged with its own key and socket in ``folder/munge`` (owned by the munge user as root)."""
    munge_dir = folder / "munge"
    munge_dir.mkdir(mode=0o700)
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    user = None
    if as_root:
        try:
            entry = pwd.getpwnam("munge")
        except KeyError:
            raise SlurmUnavailable("running as root, but there is no 'munge' user to run munged as") from None
        for path in (munge_dir, key):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        user = "munge"
    return subprocess.Popen(
        [_binary("munged"), "--foreground", "--force", f"--socket={munge_dir}/munge.socket",
         f"--key-file={key}", f"--pid-file={munge_dir}/munged.pid", f"--log-file={folder}/munged.log",
         f"--seed-file={munge_dir}/munged.seed"],
        user=user, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=_die_with_parent)


def _conf_processes(conf: Path) -> list[int]:
    """Processes started with this cluster's SLURM_CONF (jobs, their steps), other than this one."""
    marker = f"SLURM_CONF={conf}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _become_subreaper() -> None:
    """Adopt orphaned descendants (slurmd daemonizes each ``slurmstepd``): where PID 1 does not reap,
    as in containers, they would stay zombies; :func:`_reap_steps` reaps them."""
    prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


# In a daemon's child process before it runs: SIGTERM to it when the process that started it ends. A test run
# killed (``timeout``, SIGKILL) ran no clean-up, and its clusters' daemons ran on for hours.
_die_with_parent = die_with_parent(signal.SIGTERM)


def _reap_steps() -> None:
    """Reap this process's dead ``slurmstepd`` children (adopted by :func:`_become_subreaper`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid() and name.startswith("slurmstepd"):
            try:
                os.waitpid(int(entry.name), os.WNOHANG)
            except ChildProcessError:
                pass


def _stop(daemons: dict[str, subprocess.Popen]) -> None:
    for proc in reversed(list(daemons.values())):  # slurmd, slurmctld, then munged
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def throwaway_slurm(cpus: Optional[int] = None, memory_mb: Optional[int] = None) -> Iterator[SlurmCluster]:
    """Start a one-node cluster (this machine's CPUs and memory unless given), yield it, stop it.

    ``SLURM_CONF`` is set in this process's environment while the cluster runs (and restored after),
    so that every client command and every process started meanwhile finds it.
    """
    missing = missing_binaries()
    if missing:
        raise SlurmUnavailable(f"no {', '.join(missing)} on this machine; install them with: "
                               "apt-get install slurm-wlm munge")
    as_root = os.geteuid() == 0
    remove_abandoned(PREFIX)  # the folders of killed runs' clusters (their daemons ended with them)
    folder = owned_folder(PREFIX)
    folder.chmod(0o755)  # munged (another user) must reach its folder
    conf = folder / "slurm.conf"
    cluster = SlurmCluster(folder=folder, conf=conf, partition=PARTITION, cpus=cpus or os.cpu_count() or 1,
                           memory_mb=memory_mb or _memory_mb())
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    conf.write_text(CONF_TEMPLATE.format(
        cluster=f"tl{folder.name[-6:].lower().replace('_', 'x')}", host=socket.gethostname(), node=socket.gethostname(),
        ctld_port=free_port(), slurmd_port=free_port(), user=pwd.getpwuid(os.geteuid()).pw_name,
        munge_socket=folder / "munge" / "munge.socket", folder=folder, cpus=cluster.cpus,
        memory_mb=cluster.memory_mb, partition=PARTITION))
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    daemons: dict[str, subprocess.Popen] = {}
    _become_subreaper()
    try:
        daemons["munged"] = _start_munge(folder, as_root)
        _wait_for("munged did not open its socket", (folder / "munge" / "munge.socket").exists, daemons, folder)
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT,
                 "start_new_session": True, "preexec_fn": _die_with_parent}
        daemons["slurmctld"] = subprocess.Popen([_binary("slurmctld"), "-D", "-i", "-f", str(conf)], **quiet)
        daemons["slurmd"] = subprocess.Popen([_binary("slurmd"), "-D", "-f", str(conf)], **quiet)

        def node_idle() -> bool:
            out = cluster.command("sinfo", "-h", "-o", "%t", check=False, timeout=10).split()
            return bool(out) and all(state.rstrip("*") in ("idle", "mix", "alloc") for state in out)

        _wait_for("the node did not become idle", node_idle, daemons, folder)
        yield cluster
    finally:
        if daemons.get("slurmctld") and daemons["slurmctld"].poll() is None:
            subprocess.run([_binary("scancel"), "--full", "--partition", PARTITION], capture_output=True, timeout=30,
                           env={**os.environ, "SLURM_CONF": str(conf)})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and cluster.command("squeue", "-h", "-t", "R,CG", "-o", "%i",
                                                                  check=False, timeout=10).strip():
                time.sleep(0.5)
        _stop(daemons)
        for pid in _conf_processes(conf):  # steps that outlived their daemons
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        _reap_steps()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        shutil.rmtree(folder, ignore_errors=True)
