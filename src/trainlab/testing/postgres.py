"""A throwaway PostgreSQL server for tests and benchmarks of shared studies.

``with throwaway_postgres() as url:`` runs ``initdb`` in a new folder under the system's temp
folder, starts the server on 127.0.0.1 at a free port (its unix socket in that folder), creates one
database and yields ``postgresql+psycopg2://postgres@127.0.0.1:<port>/optuna``; on leaving, the server stops
and the folder is removed. Authentication is ``trust``, fsync is off: for throwaway data only.

The binaries come from Debian's layout (``/usr/lib/postgresql/<version>/bin``, newest first) or
PATH. ``initdb`` refuses to run as root: as root, every server command runs as the ``postgres``
user (``runuser -u postgres``), which owns the folder. :class:`PostgresUnavailable` says why no
server could be started (no binaries, no postgres user, a failed start), for a visible skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from trainlab.testing.ports import free_port

DATABASE = "optuna"
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
    if binaries is None or not (binaries / "pg_ctl").is_file():
        raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin "
                                  "or on PATH; install them with: apt-get install postgresql")
    as_postgres = os.geteuid() == 0
    if as_postgres and (shutil.which("runuser") is None or _uid_of("postgres") is None):
        raise PostgresUnavailable("running as root, and initdb refuses root, but there is no 'postgres' user "
                                  "(or no runuser) to run the server as")
    folder = Path(tempfile.mkdtemp(prefix="trainlab-pg-"))  # short: a unix socket path has ~100 characters
    data, port = folder / "data", free_port()
    started = False
    try:
        if as_postgres:
            os.chown(folder, _uid_of("postgres"), -1)
        _run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--no-sync"], as_postgres)
        options = f"-h 127.0.0.1 -p {port} -k {folder} -F -c max_connections=100"
        _run([str(binaries / "pg_ctl"), "start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(data),
              "-l", str(folder / "server.log"), "-o", options], as_postgres)
        started = True
        _run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DATABASE],
             as_postgres)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            subprocess.run([*(["runuser", "-u", "postgres", "--"] if as_postgres else []), str(binaries / "pg_ctl"),
                            "stop", "-w", "-m", "immediate", "-D", str(data)], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _uid_of(user: str) -> Optional[int]:
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None
