"""Puts <repo>/experiments on Hydra's config search path, so ``experiment=<name>`` finds
experiments/experiment/<name>.yaml from any working directory, ``--help`` included.

Hydra imports every module of the ``hydra_plugins`` namespace at start-up: keep this one light.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


def experiments_dir() -> Path:
    """<repository>/experiments, the repository found as everywhere else (trainlab.run.root)."""
    from trainlab.run.root import repo_root

    return repo_root() / "experiments"


class TrainlabExperimentsPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from trainlab.config.errors import UserError

        try:
            folder = experiments_dir()
        except UserError:  # no checkout to be found: another Hydra app in an environment with trainlab installed
            return
        search_path.append(provider="trainlab-experiments", path=f"file://{folder}")
