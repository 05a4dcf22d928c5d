"""Forecast past the end of the data: ``python predict.py ckpt_path=<.ckpt file or run directory> horizon=<steps>``.

Rebuilds data and model from the run's saved config, restores the checkpoint (weights and the data's
scaling), forecasts ``horizon`` steps after the end of every series of the data (the run's file, or a
newer one: ``+data.source.path=<file>``) and writes into outputs/predict/runs/<date>_<time>_<suffix>/:
forecast.csv, forecast.png and forecast.json (a model that reads inputs besides its targets and calendar past the data's
end: their values in ``future=<file>``); an image run, ``images=<folder>``, the anomaly maps of
sky images without masks; a graph run, ``catalogue=<file>``, the classes of the stars of a catalogue without
labels. The steps are ``trainlab.run.jobs.predict`` (which ``trainlab.predict`` runs from Python too).
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
from trainlab.run.jobs import predict, predict_job  # noqa: E402, F401 - predict(cfg) from Python

register_configs()


@hydra.main(version_base="1.3", config_path=str(ROOT / "conf"), config_name="predict")
def main(cfg: DictConfig) -> None:
    predict_job(cfg, exits=in_a_hydra_job())


if __name__ == "__main__":
    run_command_line(main, config_name="predict")
