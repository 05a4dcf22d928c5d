"""A TCP port on 127.0.0.1 that nothing listens on, for a throwaway server (PostgreSQL, SLURM's daemons,
an MLflow server in the tests)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the system hands out as free now (bound to port 0, then released): free for the server started
    next, unless another process takes it first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
