"""What code a run ran, for its records: the checkout's git commit, whether the checkout differed from it,
and the versions of the packages that change a run's numbers (training_summary.json, through
:class:`trainlab.callbacks.records.RunRecords`).
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import Optional

import trainlab


def _git(root: Path, *args: str) -> Optional[str]:
    """What ``git <args>`` prints in ``root``, or None where git or a checkout is missing."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: Path) -> Optional[str]:
    return (_git(root, "rev-parse", "HEAD") or "").strip() or None


def git_dirty(root: Path) -> Optional[bool]:
    """Whether the checkout differs from its commit (changed, staged or new files that git does not
    ignore): the commit alone does not say which code ran. None outside a git checkout."""
    status = _git(root, "status", "--porcelain")
    return None if status is None else bool(status.strip())


# packages whose version changes a run's numbers, recorded when the run imported them (module: distribution)
RECORDED_PACKAGES = {"numpy": "numpy", "torchmetrics": "torchmetrics", "torch_geometric": "torch-geometric",
                     "hydra": "hydra-core", "omegaconf": "omegaconf", "optuna": "optuna"}


def package_versions() -> dict[str, str]:
    """Versions of python, torch, lightning, trainlab and the :data:`RECORDED_PACKAGES` this process imported."""
    import lightning
    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "lightning": lightning.__version__, "trainlab": trainlab.__version__}
    for module, dist in RECORDED_PACKAGES.items():
        if module in sys.modules:
            try:
                versions[module] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                versions[module] = getattr(sys.modules[module], "__version__", "unknown")
    return versions
