"""A throwaway PostgreSQL server for tests and benchmarks of shared studies.

``with throwaway_postgres() as url:`` runs ``initdb`` in a new folder under the system's temp
folder, starts the server on 127.0.0.1 at a free port (its unix socket in that folder), creates one
database and yields ``postgresql+psycopg2://postgres@127.0.0.1:<port>/optuna``; on leaving, the server stops
and the folder is removed. Authentication is ``trust``, fsync is off: for throwaway data only.

The server is this process's child, in the foreground, and ends with it however it ends
(:mod:`trainlab.testing.lifetime`): started by ``pg_ctl`` (a daemon), it ran on after a test run was killed.
The folder such a run left is removed by the next start.

The binaries come from Debian's layout (``/usr/lib/postgresql/<version>/bin``, newest first) or
PATH. ``initdb`` refuses to run as root: as root, every server command runs as the ``postgres``
user (``runuser -u postgres``), which owns the folder. :class:`PostgresUnavailable` says why no
server could be started (no binaries, no postgres user, a failed start), for a visible skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from trainlab.testing.lifetime import die_with_parent, owned_folder, remove_abandoned
from trainlab.testing.ports import free_port

DATABASE = "optuna"
PREFIX = "trainlab-pg-"  # the temp folders of the servers
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """No throwaway server can be started here; the message says why."""


def bin_dir() -> Optional[Path]:
    """The folder of ``initdb`` and ``pg_ctl``: the newest Debian version, else PATH's; None if absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _run(command: list[str], as_postgres: bool) -> None:
    if as_postgres:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if result.returncode != 0:
        raise PostgresUnavailable(f"{Path(command[4 if as_postgres else 0]).name} failed "
                                  f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[-500:]}")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a server, yield its database's SQLAlchemy URL, stop it and remove its files."""
    binaries = bin_dir()
    if binaries is None or not (binaries / "postgres").is_file():
        raise PostgresUnavailable("no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin "
                                  "or on PATH; install them with: apt-get install postgresql")
    as_postgres = os.geteuid() == 0
    if as_postgres and (shutil.which("runuser") is None or _uid_of("postgres") is None):
        raise PostgresUnavailable("running as root, and initdb refuses root, but there is no 'postgres' user "
                                  "(or no runuser) to run the server as")
    remove_abandoned(PREFIX)  # what killed runs left
    folder = owned_folder(PREFIX)  # short: a unix socket path has ~100 characters
    data, port = folder / "data", free_port()
    server: Optional[subprocess.Popen] = None
    try:
        user = {}
        if as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(folder, entry.pw_uid, -1)
            user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        _run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--no-sync"], as_postgres)
        with open(folder / "server.log", "wb") as server_log:
            # SIGQUIT when this process ends: an immediate shutdown (nothing here is worth a checkpoint)
            server = subprocess.Popen([str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                                       "-k", str(folder), "-F", "-c", "max_connections=100"],
                                      stdin=subprocess.DEVNULL, stdout=server_log, stderr=subprocess.STDOUT,
                                      start_new_session=True, preexec_fn=die_with_parent(signal.SIGQUIT), **user)
        _wait_until_ready(binaries, port, server, folder)
        _run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DATABASE],
             as_postgres)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # a fast shutdown: its clients are disconnected
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_ready(binaries: Path, port: int, server: subprocess.Popen, folder: Path) -> None:
    """Until the server accepts connections (pg_isready); a server that ended or did not answer in time raises."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log = (folder / "server.log").read_text(errors="replace").strip()[-500:]
            raise PostgresUnavailable(f"the server ended at its start (exit {server.returncode}): {log}")
        ready = subprocess.run([str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
                               capture_output=True, timeout=30)
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise PostgresUnavailable(f"the server did not accept connections within {START_TIMEOUT_S} s")


def _uid_of(user: str) -> Optional[int]:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None
