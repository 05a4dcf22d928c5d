"""Train one model: ``python train.py model=lstm hardware=cpu`` (``--help`` lists every option).

Assembly only: compose (Hydra) -> apply hardware -> seed -> instantiate -> fit -> test -> return
the monitored metric. The steps are ``trainlab.run.jobs.train`` (which ``trainlab.train`` runs from
Python too); the pieces live in src/trainlab, and conf/README.md maps config groups to them.
"""

from __future__ import annotations

from trainlab.config.command_line import in_a_hydra_job, run_command_line
from trainlab.config.quiet_stop import stop_quietly_until_training

if __name__ == "__main__":  # first: Ctrl-C or SIGTERM while the rest imports is one line, not a traceback
    stop_quietly_until_training()

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from trainlab.run.root import claim_root  # noqa: E402

ROOT = claim_root(__file__)  # this folder is the repository, for this process and its children

from trainlab.config.schemas import register_configs  # noqa: E402
from trainlab.run.jobs import train, train_job  # noqa: E402, F401 - train(cfg): a composed config's run, from Python

register_configs()


@hydra.main(version_base="1.3", config_path=str(ROOT / "conf"), config_name="train")
def main(cfg: DictConfig) -> float:
    # main(cfg) from Python: a UserError, RunStopped or Ctrl-C is raised to the caller (in_a_hydra_job)
    return train_job(cfg, exits=in_a_hydra_job())["objective"]


if __name__ == "__main__":
    run_command_line(main, config_name="train")
