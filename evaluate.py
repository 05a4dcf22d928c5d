"""Evaluate a finished run: ``python evaluate.py ckpt_path=<.ckpt file or run directory>``.

Rebuilds data and model from the run's saved config, restores the checkpoint (weights and whatever
the data module fit at training time), tests on the chosen split, times inference and writes into
outputs/eval/runs/<date>_<time>_<suffix>/: metrics.json, report.json, report.md and the model
family's plots (src/trainlab/evaluation/<family>.py). The steps are ``trainlab.run.jobs.evaluate``
(which ``trainlab.evaluate`` runs from Python too).
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
from trainlab.run.jobs import evaluate, evaluate_job  # noqa: E402, F401 - evaluate(cfg) from Python

register_configs()


@hydra.main(version_base="1.3", config_path=str(ROOT / "conf"), config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate_job(cfg, exits=in_a_hydra_job())


if __name__ == "__main__":
    run_command_line(main, config_name="eval")
