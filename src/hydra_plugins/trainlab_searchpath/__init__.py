"""Puts <repo>/experiments on Hydra's config search path, so ``experiment=<name>`` finds
experiments/experiment/<name>.yaml from any working directory, ``--help`` included.

Hydra imports every module of the ``hydra_plugins`` namespace at start-up: keep this one light.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


def experiments_dir() -> Path:
    """TRAINLAB_ROOT (set by train.py and evaluate.py) or the checkout this file lives in."""
    root = os.environ.get("TRAINLAB_ROOT") or Path(__file__).resolve().parents[3]
    return Path(root) / "experiments"


class TrainlabExperimentsPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="trainlab-experiments", path=f"file://{experiments_dir()}")
