"""What every family must do, written once and run for each entry of tests/families.py: its presets
run, a resumed run equals an uninterrupted one, its records are written, its model refuses the data of
another family, and its search space names real keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import config_options
from tests.families import FAMILIES, QUIET, FamilyCase
from trainlab.config.errors import UserError
from trainlab.config.families import family_of

CASES = [pytest.param(case, id=name) for name, case in FAMILIES.items()]


def _family_of_preset(compose_cfg, experiment: str) -> FamilyCase:
    cfg = compose_cfg([f"experiment={experiment}"])
    assert family_of(cfg.model._target_) == family_of(cfg.data._target_), experiment
    return FAMILIES[family_of(cfg.model._target_)]


@pytest.mark.parametrize("experiment", [  # gaia_classifier's catalogue build took 31 s: slow (make test under 10 min)
    pytest.param(e, marks=pytest.mark.slow) if e == "gaia_classifier" else e for e in config_options("experiment")])
def test_fast_dev_run_of_every_preset(compose_cfg, run_train, experiment):
    case = _family_of_preset(compose_cfg, experiment)
    metrics = run_train(compose_cfg([f"experiment={experiment}", "debug=fdr", *QUIET]))
    assert torch.isfinite(torch.tensor(metrics["objective"]))
    expected = {f"{stage}/{key}" for stage in ("val", "test") for key in ("loss", *case.metrics)}
    assert expected <= set(metrics), sorted(expected - set(metrics))
    assert all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if k.startswith(("val/", "test/")))


@pytest.mark.slow  # 18 s for the three families (make test kept under 10 min)
@pytest.mark.parametrize("case", CASES)
def test_resume_equals_uninterrupted(compose_cfg, run_train, case):
    """Stop after k epochs and resume to n == n epochs straight (bit for bit on CPU: metrics and weights): shuffling,
    sampling, augmentation and dropout all come from (seed, epoch), not from the global RNG."""
    common = [*case.tiny(), *case.resume, "callbacks.early_stopping=null"]
    stop, total = case.resume_epochs
    straight_cfg = compose_cfg([*common, f"trainer.max_epochs={total}"])
    straight = run_train(straight_cfg)
    first = compose_cfg([*common, f"trainer.max_epochs={stop}"])
    run_train(first)
    # from the file for one family, from the run directory (its last.ckpt) for the others: both ways
    run_dir = Path(first.paths.output_dir)
    source = run_dir / "checkpoints" / "last.ckpt" if case.name == "timeseries" else run_dir
    resumed_cfg = compose_cfg([*common, f"trainer.max_epochs={total}", f"ckpt_path={source}"])
    resumed = run_train(resumed_cfg)
    for key in case.resume_keys:  # bit for bit: a resumed time-series run was off in the 8th digit (data scaled anew)
        assert resumed[key] == straight[key], key
    weights = [torch.load(Path(c.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
               for c in (straight_cfg, resumed_cfg)]
    assert [k for k in weights[0] if not torch.equal(weights[0][k], weights[1][k])] == []


@pytest.mark.slow  # a training run and two evaluations per family
@pytest.mark.parametrize("case", CASES)
def test_evaluate_twice_gives_the_runs_own_test_line_bit_for_bit(compose_cfg, run_train, case):
    """evaluate.py on a run, twice, with the hardware the run tested on: both reports hold training's test
    metrics exactly (README, Resume and evaluate; a time-series run's data were scaled with float32 statistics
    in training and float64 ones from the checkpoint until the statistics were fit in float64)."""
    import evaluate as evaluate_script

    cfg = compose_cfg([*case.tiny(), *case.resume, "logger=none", "trainer.max_epochs=1"])
    trained = {k: v for k, v in run_train(cfg).items() if k.startswith("test/")}
    own_hardware = [o for o in case.resume if o.startswith("hardware.")]  # graph: ego nets of 200 nodes
    reports = [evaluate_script.evaluate(compose_cfg([f"ckpt_path={cfg.paths.output_dir}", "hardware.num_threads=1",
                                                     *own_hardware], config_name="eval"))["metrics"] for _ in range(2)]
    assert reports[0] == reports[1]
    shared = [k for k in trained if k in reports[0]]
    assert {k: reports[0][k] for k in shared} == {k: trained[k] for k in shared}
    assert {f"test/{key}" for key in ("loss", *case.metrics)} <= set(reports[0])


@pytest.mark.parametrize("case", CASES)
def test_a_resumed_runs_first_loader_draws_the_order_of_its_epoch(compose_cfg, case):
    """Lightning makes the first training iterator before it calls set_epoch, and keeps it for a resumed run's
    first epoch; loader workers take their indices when it is made, so a run resumed at epoch 3 with
    hardware.num_workers=2 trained epoch 3 in epoch 0's order (test_faults.py: the resume with workers)."""
    from types import SimpleNamespace

    from trainlab.data.sampling import EpochSeededSampler
    from trainlab.run.pipeline import build_data

    datamodule = build_data(compose_cfg([*case.tiny(), *case.resume]))  # graph: sampled ego nets, in an order
    datamodule.setup("fit")
    restored = SimpleNamespace(current=SimpleNamespace(processed=3))  # the fit loop a checkpoint restored
    datamodule.trainer = SimpleNamespace(fit_loop=SimpleNamespace(epoch_progress=restored))
    sampler = datamodule.train_dataloader().sampler
    assert isinstance(sampler, EpochSeededSampler) and sampler.epoch == 3


@pytest.mark.parametrize("case", CASES)
def test_run_records(compose_cfg, run_train, case):
    """Every family writes the same records, with its own validation metrics in them."""
    cfg = compose_cfg([*case.tiny(), "logger=none"])
    metrics = run_train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    records = [json.loads(line) for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]
    own = {f"val/{key}" for key in case.metrics}
    for r in records:
        assert {"train/loss_epoch", "val/loss", "seconds", "samples_per_second", *own} <= set(r)
    summary = json.loads((run_dir / "training_summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["params_total"] > 0
    # what repeating the run takes: its seed (beside resolved_config.yaml), the packages, the code's commit and state
    assert summary["seed"] == cfg.seed and {"numpy", "torchmetrics", "hydra", "omegaconf"} <= set(summary["versions"])
    assert "git_commit" in summary and summary["git_dirty"] in (True, False, None)
    assert summary["threads"] == 1  # hardware.num_threads=1 (QUIET); with null, the machine's count
    for key in case.metrics:
        assert summary["test"][f"test/{key}"] == pytest.approx(metrics[f"test/{key}"]), key
    assert (run_dir / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("case", CASES)
def test_model_refuses_data_of_another_family(compose_cfg, run_train, case):
    other, fitting = case.other_data
    with pytest.raises(UserError, match=rf"model={case.model} is an? {case.name} model, but data={other} is "
                                        rf"\w+ data; use {fitting}"):
        run_train(compose_cfg([f"model={case.model}", f"data={other}", *QUIET]))


@pytest.mark.parametrize("case", CASES)
def test_search_space_names_real_keys(compose_cfg, case):
    from trainlab.search.space import check_keys, parse_space

    cfg = compose_cfg(["hparams_search=optuna", f"model={case.model}", f"data={case.data}"])
    space, _ = parse_space(cfg.hydra.sweeper.params, None, [])
    assert set(case.search_keys) <= set(space)
    check_keys(cfg, space)


@pytest.mark.parametrize("case", CASES)
def test_data_restored_from_a_checkpoint_says_its_lines_once(compose_cfg, case, caplog):
    """Resume and evaluate restore the checkpoint's statistics after setup(), which rebuilds the datasets
    (image, time series): their summary line ("tiles: train ...") was printed twice."""
    import logging

    from trainlab.run.pipeline import build_data

    datamodule = build_data(compose_cfg(case.tiny()))
    with caplog.at_level(logging.INFO, logger="trainlab.data"):
        datamodule.setup("fit")
        datamodule.load_state_dict(datamodule.state_dict())
        datamodule.setup("fit")
    said = [r.getMessage() for r in caplog.records if r.name.startswith("trainlab.data")]
    assert said and not [line for line in said if said.count(line) > 1]


def _tensors(batch) -> list[torch.Tensor]:
    """The tensors of a batch: (inputs, targets) of windows or tiles, a graph's features and labels."""
    if isinstance(batch, torch.Tensor):
        return [batch]
    if isinstance(batch, (tuple, list)):
        return [t for item in batch for t in _tensors(item)]
    return [batch.x, batch.y]


@pytest.mark.parametrize("case", CASES)
def test_statistics_restored_from_a_checkpoint_scale_the_data_bit_for_bit_alike(compose_cfg, case):
    """Resume and evaluate scale the data with the checkpoint's statistics, which it keeps as float64 lists:
    the series' means were fit in float32 (the data's own dtype), so the restored ones scaled each value
    differently in its last bit, and a resumed run ended off the run never stopped in the 8th digit
    (val/loss 0.19176356 against 0.19176354 after 2 epochs + 2), as did evaluate.py off training's test line."""
    from trainlab.run.pipeline import build_data

    cfg = compose_cfg(case.tiny())
    fitted, restored = build_data(cfg), build_data(cfg)
    fitted.setup("fit")
    restored.load_state_dict(fitted.state_dict())
    restored.setup("fit")
    for loader in ("train_dataloader", "val_dataloader"):
        ours, theirs = (_tensors(next(iter(getattr(dm, loader)()))) for dm in (fitted, restored))
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs)), loader


@pytest.mark.parametrize("group", ["model", "data"])
def test_the_family_read_from_the_source_is_the_imported_classes(group):
    """Sweeps read trainlab's own family tags from the source (no torch in the planning process):
    for every option, what the source says is what the class says once imported."""
    from trainlab.config.families import _UNREAD, _declared_family, option_target
    from trainlab.config.instantiate import import_target

    read = 0
    for option in config_options(group):
        target = option_target(group, option)
        if target is None:
            continue
        declared = _declared_family(target)
        if declared is not _UNREAD:
            read += 1
            assert declared == import_target(target, group).family, option
    assert read >= 3, "no option's family was read from its source"


def test_family_tags_are_read_one_parse_at_a_time(monkeypatch):
    """Trials in threads (a hand-written study.optimize(n_jobs=2)) read the tags at once: Python 3.11's
    ast.parse in two threads can fail with "AST constructor recursion depth mismatch" (the benchmark's
    peer loop met it), so the source is parsed under one lock."""
    import ast
    import threading
    import time

    from trainlab.config.families import _declared_family

    parse, inside, most = ast.parse, [0], [0]

    def slow_parse(*args, **kwargs):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.02)  # lets another thread in, were there no lock
        try:
            return parse(*args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(ast, "parse", slow_parse)
    threads = [threading.Thread(target=_declared_family, args=("trainlab.models.timeseries.RegressionModule",))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


def test_a_users_class_and_an_inherited_tag_are_imported_to_read_their_family(tmp_path, monkeypatch):
    from trainlab.config.families import _UNREAD, _declared_family, family_of

    (tmp_path / "users_nets.py").write_text(
        "from trainlab.models.timeseries import RegressionModule\n"
        "class Mine(RegressionModule):\n    family = 'graph'\n"
        "class Inherits(RegressionModule):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _declared_family("users_nets.Mine") is _UNREAD
    assert family_of("users_nets.Mine") == "graph" and family_of("users_nets.Inherits") == "timeseries"
    assert _declared_family("trainlab.models.task.TaskModule") is _UNREAD  # family = "" is no family's


def test_planning_a_sweep_imports_neither_torch_nor_lightning():
    """The sweep's own process composes, checks every trial's model and data and counts GPUs without
    torch (1-2 s of imports, and Lightning's 3 more), which only its trials need."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from trainlab.config.families import family_mismatch\n"
            "from trainlab.search.plan import plan_sweep\n"
            "from trainlab.search.gpu_slots import visible_gpu_count\n"
            "assert family_mismatch('trainlab.models.timeseries.RegressionModule',"
            " 'trainlab.data.graph.module.StarGraphDataModule', 'lstm', 'gaia')\n"
            "import pynvml\n"
            "try:\n    pynvml.nvmlInit()\n"  # a machine with a driver asks torch, by design
            "except pynvml.NVMLError:\n    assert visible_gpu_count() == 0\n"
            "print(sorted(m for m in ('torch', 'lightning', 'torchmetrics') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
