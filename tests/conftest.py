"""Shared fixtures: compose the real configs in-process, with outputs under a temp folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRAINLAB_ROOT", str(ROOT))
sys.path.insert(0, str(ROOT))

if os.environ.get("PYTEST_XDIST_WORKER"):  # make test: TEST_WORKERS processes share the cores
    import torch

    # one thread each: torch's threads meet at the end of every operation, and on cores the other
    # workers hold that wait is most of a step (README, "A busy machine: one thread")
    torch.set_num_threads(1)

import train as train_script  # noqa: E402 - registers the schemas
from tests.families import FAMILIES, QUIET, TIMESERIES  # noqa: E402

# Small and quick, still the real pipeline (tests/families.py holds each family's small run).
TINY_ANY_DATA = [*TIMESERIES.small_model, "trainer.max_epochs=2", *QUIET]  # any series: data=file too
TINY = [*TIMESERIES.small_data, *TINY_ANY_DATA]

# Each model option with the data its family trains on (by default) and overrides that keep a run
# of that family small; models not listed are time-series ones on the default series.
FAMILY_DATA = {case.model: case.data for case in FAMILIES.values() if case is not TIMESERIES}
SMALL_DATA = {case.data: case.small_data for case in FAMILIES.values()}


def family_overrides(model: str) -> list[str]:
    """``model=<model>`` with its family's data, made small (for runs over every model option)."""
    data = FAMILY_DATA.get(model, "synthetic")
    return [f"model={model}", f"data={data}", *SMALL_DATA[data]]


def data_options(family: str) -> list[str]:
    """Options of the data group of a family ("timeseries", "graph", "image")."""
    from trainlab.config.families import options_of

    return options_of("data", family)


@pytest.fixture(autouse=True)
def idle_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    """A load average of 0 in-process: the warning about cores other work holds
    (trainlab.run.cores.busy_cores) would otherwise come and go with this machine's load in tests that
    list a run's warnings; the tests of that warning set their own."""
    if hasattr(os, "getloadavg"):
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Iterator[Callable[..., DictConfig]]:
    """compose_cfg(overrides, config_name="train") -> a config whose run folder is inside tmp_path."""
    made: list[int] = []

    def _compose(overrides: list[str] = (), config_name: str = "train") -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
        run_dir = tmp_path / f"run{len(made)}"
        made.append(1)
        with open_dict(cfg):
            cfg.paths.log_dir = str(tmp_path / "outputs")
            cfg.paths.output_dir = str(run_dir)
            cfg.hydra.runtime.output_dir = str(run_dir)
            cfg.hydra.job.num = 0
        # as Hydra's run_job does: the composed task config, unresolved, in <run>/.hydra/config.yaml
        (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), run_dir / ".hydra" / "config.yaml")
        HydraConfig.instance().set_config(cfg)
        return cfg

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def run_train() -> Callable[..., dict[str, float]]:
    return train_script.train


# A test that needs a real engine (a SLURM cluster, a PostgreSQL server) skips where none can be
# started, with the reason; under CI=true such a skip fails the run: a skipped engine is not a pass.
ENGINE_SKIP = "engine unavailable: "


def skip_engine(reason: str) -> None:
    """Skip the calling test for want of an engine (turned into a failure under CI=true)."""
    pytest.skip(ENGINE_SKIP + reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
    if str(reason).startswith(f"Skipped: {ENGINE_SKIP}") or str(reason).startswith(ENGINE_SKIP):
        if os.environ.get("CI", "").lower() == "true":
            report.outcome = "failed"
            report.longrepr = f"CI=true and this test was skipped ({reason}); CI must run it (.ci/run installs the engines)"


def deny_reading(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """open() refuses ``path`` as chmod 000 would for a user other than root (the suite may run as root,
    which reads any file); every other file opens as before."""
    import builtins
    import io

    real = builtins.open

    def refused(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refused)
    monkeypatch.setattr(io, "open", refused)


def config_options(group: str) -> list[str]:
    """Every option of a config group, read from its folder (the experiment group from experiments/)."""
    folder = ROOT / ("experiments/experiment" if group == "experiment" else f"conf/{group}")
    return sorted(p.stem for p in folder.glob("*.yaml"))
