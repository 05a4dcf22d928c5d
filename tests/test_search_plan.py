"""Search, round two, without training: a real search file's plan run by OptunaSearch with a stand-in
launcher whose "job" scores the overrides it gets. Enqueued configurations, warm starts, one GPU per
slot (faked device count), staged search, stage 2 from an earlier sweep, two objectives, refine.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from omegaconf import OmegaConf
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState, create_trial

from tests.conftest import config_options
from trainlab.config.errors import UserError
from trainlab.run.root import repo_root
from trainlab.search import gpu_slots
from trainlab.search import plan as plan_module
from trainlab.search.analyze import importances
from trainlab.search.handover import TrialHandover
from trainlab.search.plan import plan_sweep
from trainlab.search.shared import is_copied, open_storage
from trainlab.search.space import parse_space
from trainlab.search.sweep import OptunaSearch

SEED_SPACE = ["hparams_search=optuna", "hydra/sweeper/pruner=nop", "hydra.sweeper.sampler.seed=5"]


def score(params: dict[str, Any]) -> float:
    """A made-up objective with its optimum at 4 layers, 112 units, lr 3e-4 (batch size hardly matters)."""
    return ((params.get("model.net.num_layers", 2) - 4) ** 2 + ((params.get("model.net.hidden_size", 64) - 112) / 16) ** 2
            + (math.log10(params.get("optimizer.lr", 1e-3)) - math.log10(3e-4)) ** 2)


class StandIn:
    """A launcher: each job's value is :func:`score` of its overrides; records what it was given."""

    def __init__(self, facts: dict[str, float] | None = None):
        self.jobs: list[list[str]] = []
        self.facts = facts or {}

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        (overrides,) = jobs
        self.jobs.append(overrides)
        parsed = {o.key_or_group.lstrip("+"): o.value() for o in OverridesParser.create().parse_overrides(overrides)}
        handover = TrialHandover.from_config(parsed.pop("optuna_trial"))
        params = parsed
        if self.facts:  # what a job records on its trial (OptunaPruning.on_train_end)
            study = optuna.load_study(study_name=handover.study_name, storage=open_storage(handover.storage))
            trial = optuna.trial.Trial(study, handover.trial_id)
            for key, value in self.facts.items():
                trial.set_user_attr(key, value * (1 + params.get("model.net.num_layers", 1)))
        job = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
        job.return_value = score(params)
        return [job]


def search_for(compose_cfg, tmp_path: Path, overrides: list[str], launcher: Any = None) -> OptunaSearch:
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    launcher = launcher or StandIn()
    return OptunaSearch(plan_sweep(cfg.hydra.sweeper, cfg, [], launcher), launcher, config=cfg)


def params_of(overrides: list[str], key: str) -> str:
    return next(o.split("=", 1)[1] for o in overrides if o.startswith(key + "="))


# -- enqueue ---------------------------------------------------------------------------------------------
def test_enqueued_configurations_run_first_and_count_towards_n_trials(compose_cfg, tmp_path):
    search = search_for(compose_cfg, tmp_path, [
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.enqueue=[{model.net.num_layers:4,optimizer.lr:0.0003},{model.net.hidden_size:112}]"])
    search.run()
    trials = search.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4  # two enqueued + two sampled = n_trials
    assert trials[0].params["model.net.num_layers"] == 4 and trials[0].params["optimizer.lr"] == 0.0003
    assert trials[1].params["model.net.hidden_size"] == 112
    assert params_of(search.launcher.jobs[0], "model.net.num_layers") == "4"  # and the job got them
    again = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=5",  # continued: not enqueued twice
                                               "hydra.sweeper.enqueue=[{model.net.num_layers:4,optimizer.lr:0.0003}]"])
    again.run()
    assert len(again.study.trials) == 5 and again.study.trials[4].params != trials[0].params


def test_enqueue_outside_the_space_is_refused(compose_cfg, tmp_path):
    with pytest.raises(UserError, match=r"hydra.sweeper.enqueue\[0\].model.net.num_layers=9 is outside"):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.enqueue=[{model.net.num_layers:9}]"])
    with pytest.raises(UserError, match=r"hydra.sweeper.enqueue\[0\].model.net.dropout is not a searched parameter"):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.enqueue=[{model.net.dropout:0.1}]"])
    with pytest.raises(UserError, match=r"enqueue\[0\].model.net.hidden_sise is not a searched parameter; searched: "
                                        r".*; did you mean model.net.hidden_size\?$"):  # stages named it, enqueue not
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.enqueue=[{model.net.hidden_sise:64}]"])
    # off the step grid or not whole: Optuna would sample another value instead, with a Python warning only
    with pytest.raises(UserError, match=r"enqueue\[0\].model.net.hidden_size=33 is not on its search grid 32..128 "
                                        r"step 16; the nearest values are 32 and 48"):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.enqueue=[{model.net.hidden_size:33}]"])
    with pytest.raises(UserError, match=r"enqueue\[0\].model.net.num_layers=2.5 is not a whole number"):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.enqueue=[{model.net.num_layers:2.5}]"])
    with pytest.raises(UserError, match=r"enqueue\[0\].data.batch_size=48 is not one of its choices \[16, 32, 64\]"):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.enqueue=[{data.batch_size:48}]"])
    with pytest.raises(UserError, match=r"hydra.sweeper.enqueue has 2 configurations, but hydra.sweeper.n_trials=1 "
                                        r"\(they count towards it\): raise n_trials to 2"):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=1",
                                           "hydra.sweeper.enqueue=[{data.batch_size:16},{data.batch_size:32}]"])


# -- warm start ------------------------------------------------------------------------------------------
def earlier_sweep(folder: Path, space: dict, n: int = 30) -> Path:
    """A finished sweep folder (optuna.db, study named after the folder) with n scored random trials."""
    folder.mkdir(parents=True)
    study = optuna.create_study(storage=f"sqlite:///{folder}/optuna.db", study_name=folder.name)
    rng = random.Random(1)
    for _ in range(n):
        params = {k: (d.choices[rng.randrange(len(d.choices))] if hasattr(d, "choices") else
                      (rng.randrange(d.low, d.high + 1, d.step) if isinstance(d.low, int) else
                       10 ** rng.uniform(math.log10(d.low), math.log10(d.high)))) for k, d in space.items()}
        study.add_trial(create_trial(params=params, distributions=space, value=score(params), user_attrs={"run_dir": "x"}))
    return folder


def layers_near_optimum(search: OptunaSearch) -> int:
    return sum(t.params["model.net.num_layers"] in (3, 4, 5) for t in search.study.trials if not is_copied(t))


def test_a_warm_started_study_starts_from_the_earlier_trials(compose_cfg, tmp_path):
    cfg = compose_cfg(SEED_SPACE)
    space, _ = parse_space(cfg.hydra.sweeper.params, None, [])
    source = earlier_sweep(tmp_path / "earlier", space)
    warm = search_for(compose_cfg, tmp_path / "warm", ["hydra.sweeper.n_trials=6", f"hydra.sweeper.warm_start={source}"])
    warm.run()
    trials = warm.study.trials
    copied = [t for t in trials if is_copied(t)]
    assert len(copied) == 30 and all(t.user_attrs["copied_from"].startswith("earlier#") for t in copied)
    assert sum(not is_copied(t) for t in trials) == 6  # copies do not count towards n_trials
    # The sampler sees them: with 30 finished trials TPE is past its 10 random start-up trials at once
    # and draws near the earlier optimum; a cold study with the same seed starts with random draws.
    cold = search_for(compose_cfg, tmp_path / "cold", ["hydra.sweeper.n_trials=6"])
    cold.run()
    assert layers_near_optimum(warm) == 6 and layers_near_optimum(cold) < 6
    results = yaml.safe_load((tmp_path / "warm" / "sweep" / "optimization_results.yaml").read_text())
    assert results["trials"]["copied"] == 30 and results["trials"]["complete"] == 6
    assert not is_copied(warm.study.trials[results["best_trial"]])  # the best is one that ran here


def test_a_warm_start_from_another_space_is_refused(compose_cfg, tmp_path):
    source = earlier_sweep(tmp_path / "earlier", {"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}, n=3)
    with pytest.raises(UserError, match="optimizer.lr was searched over .* there and is .* here"):
        search_for(compose_cfg, tmp_path, [f"hydra.sweeper.warm_start={source}"])


def test_a_warm_start_from_a_sweep_without_a_finished_trial_is_refused(compose_cfg, tmp_path):
    """It started the new study from nothing, with a log line that 0 trials were copied."""
    source = finished_sweep(tmp_path / "failed", value=None)
    with pytest.raises(UserError, match=f"hydra.sweeper.warm_start={source}: its study has no finished trial \\(complete "
                                        "or pruned\\) to start from \\(1 fail\\); continue that sweep first"):
        search_for(compose_cfg, tmp_path / "warm", [f"hydra.sweeper.warm_start={source}"])
    assert not (tmp_path / "warm" / "sweep").exists()


def test_a_warm_start_beside_fix_top_of_is_checked_against_the_space_left_before_anything_is_written(compose_cfg,
                                                                                                     tmp_path):
    """Checked against the whole space, it passed the plan and was refused once the study was made: an optuna.db
    was left in the new sweep folder, and the refusal blamed the command line."""
    cfg = compose_cfg(SEED_SPACE)
    space, _ = parse_space(cfg.hydra.sweeper.params, None, [])
    source = earlier_sweep(tmp_path / "earlier", space)
    with pytest.raises(UserError, match=r"was searched there and is not here .*\(hydra.sweeper.fix_top_of fixes \S+: "
                                        r"a warm start needs a sweep that searched only the parameters left"):
        search_for(compose_cfg, tmp_path / "new", [f"hydra.sweeper.fix_top_of={source}", "hydra.sweeper.fix_top=1",
                                                   f"hydra.sweeper.warm_start={source}"])
    assert not (tmp_path / "new" / "sweep").exists()


def test_a_warm_start_from_a_sweep_of_another_metric_is_refused(compose_cfg, tmp_path):
    search_for(compose_cfg, tmp_path / "rmse", ["optimized_metric=val/rmse", "hydra.sweeper.n_trials=2"]).run()
    with pytest.raises(UserError, match=re.escape(f"hydra.sweeper.warm_start={tmp_path / 'rmse' / 'sweep'}: its trials' "
                                                  "values are val/rmse, this sweep ranks by val/loss")):
        search_for(compose_cfg, tmp_path, [f"hydra.sweeper.warm_start={tmp_path / 'rmse' / 'sweep'}"])


def test_a_warm_start_missing_a_searched_parameter_is_refused_before_anything_is_written(compose_cfg, tmp_path):
    """Its trials searched data.batch_size, fixed here: they were dropped one by one ('0 copied')."""
    cfg = compose_cfg(SEED_SPACE)
    space, _ = parse_space(cfg.hydra.sweeper.params, None, [])
    source = earlier_sweep(tmp_path / "earlier", space, n=3)
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", f"hydra.sweeper.warm_start={source}"])
    with pytest.raises(UserError, match="data.batch_size was searched there and is not here"):
        plan_sweep(cfg.hydra.sweeper, cfg, ["data.batch_size=32"], StandIn())
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", f"hydra.sweeper.warm_start={tmp_path}"])
    with pytest.raises(UserError, match=re.escape(f"hydra.sweeper.warm_start={tmp_path}: it holds 1 sweep folder(s), "
                                                  f"not a study of its own; give one of them (the latest by name first: "
                                                  f"{source})")):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={source}", f"hydra.sweeper.warm_start={source}"])
    with pytest.raises(UserError, match="is this sweep's own folder: its trials are in the study already"):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())  # they were copied into it a second time
    assert not (tmp_path / "sweep").exists()


# -- one GPU per slot --------------------------------------------------------------------------------------
def one_model_gpus(monkeypatch, count: int) -> None:
    """torch.cuda answers for ``count`` GPUs of one model (tests/gpu_fakes.py)."""
    from tests.gpu_fakes import Board, FakeMachine

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    FakeMachine([Board(f"GPU-{i:04d}", "NVIDIA A100-SXM4-40GB") for i in range(count)]).install(monkeypatch)


@pytest.mark.parametrize("gpus,slots,expected", [
    (4, 4, [["hardware.devices=[0]"], ["hardware.devices=[1]"], ["hardware.devices=[2]"], ["hardware.devices=[3]"]]),
    (2, 3, [["hardware.devices=[0]"], ["hardware.devices=[1]"], ["hardware.devices=[0]"]]),
    (1, 2, [[], []]),  # a laptop: both slots share its one GPU
    (0, 2, [[], []]),
])
def test_slot_i_trains_on_gpu_i_mod_k(compose_cfg, tmp_path, monkeypatch, gpus, slots, expected):
    monkeypatch.setattr(gpu_slots, "visible_gpu_count", lambda: gpus)
    one_model_gpus(monkeypatch, gpus)
    search = search_for(compose_cfg, tmp_path, ["hardware=a100", f"hydra.sweeper.n_jobs={slots}"])
    assert search.plan.slot_overrides == expected
    trial = search.study.ask()
    trial.suggest_int("model.net.num_layers", 1, 5)
    last = search.launch_overrides(trial, slots - 1)
    assert ("hardware.devices" in " ".join(last)) == bool(expected[-1])
    assert last[-1].startswith("optuna_trial={") and "trial_id:" in last[-1]


def test_no_gpus_are_assigned_on_the_cpu_or_when_the_devices_are_given(compose_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_slots, "visible_gpu_count", lambda: 4)
    one_model_gpus(monkeypatch, 4)
    assert search_for(compose_cfg, tmp_path, ["hardware=cpu", "hydra.sweeper.n_jobs=2"]).plan.slot_overrides == [[], []]
    given = search_for(compose_cfg, tmp_path, ["hardware=a100", "hydra.sweeper.n_jobs=2", "hardware.devices=2"])
    assert given.plan.slot_overrides == [[], []]


def test_slurm_jobs_keep_their_own_allocations_cpus_and_gpus(compose_cfg, tmp_path, monkeypatch):
    """Neither this (login) machine's GPUs nor its cores are divided among SLURM jobs: each job gets
    its own from the scheduler (hydra/launcher=slurm is a subclass of submitit's SlurmLauncher)."""
    from hydra_plugins.trainlab_slurm_launcher import TrainlabSlurmLauncher

    monkeypatch.setattr(gpu_slots, "visible_gpu_count", lambda: 4)
    one_model_gpus(monkeypatch, 4)
    slurm = StandIn()
    slurm.__class__ = type("OnSlurm", (StandIn, TrainlabSlurmLauncher), {})
    search = search_for(compose_cfg, tmp_path, ["hardware=a100", "hydra.sweeper.n_jobs=4"], launcher=slurm)
    assert search.plan.slot_overrides == [[], [], [], []]
    assert not [f for f in search.plan.fixed if f.startswith("hardware.num_threads=")]
    local = search_for(compose_cfg, tmp_path / "local", ["hardware=a100", "hydra.sweeper.n_jobs=4"])
    assert local.plan.slot_overrides[1] == ["hardware.devices=[1]"]
    assert [f for f in local.plan.fixed if f.startswith("hardware.num_threads=")]


@pytest.mark.parametrize("pool,cores,n_jobs,slots", [(-1, 2, 64, 2), (-1, 16, 4, 4), (3, 2, 4, 3), (-2, 8, 8, 7)])
def test_slots_beyond_the_joblib_pool_are_not_opened(compose_cfg, tmp_path, monkeypatch, caplog, pool, cores, n_jobs,
                                                     slots):
    """hydra.sweeper.n_jobs=64 on 2 cores: joblib's pool (hydra.launcher.n_jobs=-1: one worker per core)
    runs 2 jobs at once; 62 more slots would hold asked trials waiting for a worker. Said in a warning."""
    monkeypatch.setattr(plan_module, "_joblib_cores", lambda: cores)
    joblib_like = StandIn()
    joblib_like.__class__ = type("JoblibLauncher", (StandIn,), {})
    joblib_like.joblib = {"n_jobs": pool}
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        search = search_for(compose_cfg, tmp_path, [f"hydra.sweeper.n_jobs={n_jobs}"], launcher=joblib_like)
    assert search.plan.slots == slots
    assert (f"hydra.sweeper.n_jobs={n_jobs}, but the joblib launcher runs at most {slots} job(s)" in caplog.text) == (
        slots < n_jobs)


@pytest.mark.parametrize("cap,slots", [(2, 2), (256, 4)])
def test_slots_beyond_the_slurm_array_parallelism_are_not_opened(compose_cfg, tmp_path, caplog, cap, slots):
    """Each trial is an sbatch array of one job, so submitit's --array=...%<array_parallelism> capped
    nothing: hydra.launcher.array_parallelism=2 with hydra.sweeper.n_jobs=4 ran 4 SLURM jobs at once."""
    from hydra_plugins.trainlab_slurm_launcher import TrainlabSlurmLauncher

    slurm = StandIn()
    slurm.__class__ = type("OnSlurm", (StandIn, TrainlabSlurmLauncher), {})
    slurm.params = {"array_parallelism": cap}
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        search = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_jobs=4"], launcher=slurm)
    assert search.plan.slots == slots
    assert ("hydra.sweeper.n_jobs=4, but hydra.launcher.array_parallelism=2 caps the SLURM jobs that run at once: "
            "2 trials run at once" in caplog.text) == (slots < 4)


def test_more_slots_than_trials_or_cores_are_said(compose_cfg, tmp_path, monkeypatch, caplog):
    """Slots beyond n_trials would only divide the threads further; beyond the cores they share them."""
    monkeypatch.setattr(plan_module, "machine_cores", lambda: 2)
    with caplog.at_level("INFO", logger="trainlab.search.plan"):
        search = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_jobs=8", "hydra.sweeper.n_trials=3"])
    assert search.plan.slots == 3
    assert "hydra.sweeper.n_jobs=8 for 3 trials: 3 slots" in caplog.text
    assert ("hydra.sweeper.n_jobs=3: 3 trials at once on 2 cores: they share the cores, and each takes longer "
            "(hydra.sweeper.n_jobs=2 gives each a core)") in caplog.text


@pytest.mark.parametrize("launcher, n_jobs, said", [
    ("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", 4,
     "hydra/launcher=joblib hydra.launcher.n_jobs=4 for 3 jobs: 3 jobs at once on 2 cores: they share the cores, and "
     "each takes longer (hydra.launcher.n_jobs=2 gives each a core)"),
    ("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", 2, None),
    ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher", 4,
     "hydra/launcher=submitit_local, which starts all 3 jobs at once: 3 jobs at once on 2 cores: they share the cores, "
     "and each takes longer (hydra/launcher=joblib hydra.launcher.n_jobs=2 gives each a core)")])
def test_a_multiruns_jobs_beyond_the_cores_are_said_alike_by_every_local_launcher(monkeypatch, launcher, n_jobs, said):
    """train.py -m seed=1,2,3 hydra/launcher=joblib hydra.launcher.n_jobs=4 on 2 cores ran 3 jobs at once on 2 cores
    without a word; a sweep's trials under submitit_local were warned about. Now one warning, worded alike."""
    from omegaconf import OmegaConf

    from trainlab.run import cores

    monkeypatch.setattr(cores, "usable_cores", lambda: 2)
    config = OmegaConf.create({"hardware": {"accelerator": "cpu"}, "hydra": {
        "launcher": {"_target_": launcher, "n_jobs": n_jobs},
        "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"},
        "overrides": {"task": ["seed=1,2,3", "model=lstm"]}}})
    assert cores.multirun_crowding(config) == said


@pytest.mark.parametrize("task, params, batch, jobs", [
    (["model=lstm"], {"seed": "1,2,3"}, None, 3),  # a config's own sweep (hydra.sweeper.params)
    (["optimizer.lr=0.1,0.01"], {"seed": "1,2,3"}, None, 6),  # both, multiplied
    (["seed=1,2,3,4"], {"seed": "1,2,3,5,6"}, None, 4),  # the command line's in place of the config's, as Hydra takes it
    (["model=glob([lstm,cnn,tcn])"], {}, None, 3),  # a glob over a group's options
    (["model=glob(*,exclude=[gnn,unet])"], {}, None, 4),
    (["seed=range(0,8)"], {}, 3, 3),  # hydra.sweeper.max_batch_size: a batch is launched at a time
])
def test_a_multiruns_jobs_are_counted_as_hydra_makes_them(monkeypatch, task, params, batch, jobs):
    """The crowding warning counted only the command line's comma lists: a config's hydra.sweeper.params and a glob
    sweep (model=glob(*)) made one job each, and 3 jobs at once on 2 cores went without a word."""
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from tests.conftest import ROOT
    from trainlab.run import cores

    monkeypatch.setattr(cores, "usable_cores", lambda: 2)
    config = OmegaConf.create({"hardware": {"accelerator": "cpu"}, "hydra": {
        "launcher": {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"},
        "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "params": params,
                    "max_batch_size": batch},
        "overrides": {"task": task}}})
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):  # as in a run: its config loader
        said = cores.multirun_crowding(config)
    assert said == (f"hydra/launcher=submitit_local, which starts all {jobs} jobs at once: {jobs} jobs at once on 2 "
                    "cores: they share the cores, and each takes longer (hydra/launcher=joblib hydra.launcher.n_jobs=2 "
                    "gives each a core)")


def test_slots_keep_to_the_gpus_cuda_visible_devices_gives(compose_cfg, tmp_path, monkeypatch):
    """A SLURM job given GPUs 4 and 5 (CUDA_VISIBLE_DEVICES=4,5) on a 6-GPU node: the slots train on
    cuda:0 and cuda:1, which are boards 4 and 5, and the energy meter reads those."""
    import sys

    from tests.gpu_fakes import Board, FakeMachine, cuda_trainer
    from trainlab.callbacks.nvml import open_nvml

    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    boards = [Board(f"GPU-{i}{i}{i}{i}-0000") for i in range(6)]
    nvml = FakeMachine(boards).install(monkeypatch)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert gpu_slots.visible_gpu_count() == 2
    search = search_for(compose_cfg, tmp_path, ["hardware=a100", "hydra.sweeper.n_jobs=2"])
    assert search.plan.slot_overrides == [["hardware.devices=[0]"], ["hardware.devices=[1]"]]
    assert open_nvml(cuda_trainer(1))[1] == [boards[5].uuid]  # hardware.devices=[1] -> cuda:1


def test_slots_on_gpus_of_different_models_train_in_one_precision(compose_cfg, tmp_path, monkeypatch, caplog):
    """hardware=auto on an A100 and a T4: each trial resolved auto by its slot's GPU, bf16-mixed on the A100 and
    16-mixed on the T4, and the study compared trials trained in two precisions. Now every trial gets what
    both have, with a line saying so, and a warning that the slots' GPUs differ."""
    import sys

    from tests.gpu_fakes import Board, FakeMachine

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    machine = FakeMachine([Board("GPU-aaaa", "NVIDIA A100-SXM4-40GB"), Board("GPU-bbbb", "Tesla T4", major=7, minor=5)])
    monkeypatch.setitem(sys.modules, "pynvml", machine.install(monkeypatch))
    with caplog.at_level("INFO", logger="trainlab.search.plan"):
        search = search_for(compose_cfg, tmp_path, ["hardware=auto", "hydra.sweeper.n_jobs=2"])
    assert search.plan.slot_overrides == [["hardware.devices=[0]", "hardware.precision=16-mixed"],
                                          ["hardware.devices=[1]", "hardware.precision=16-mixed"]]
    assert ("the slots train on GPUs of different models (cuda:0 (NVIDIA A100-SXM4-40GB, compute capability 8.0), "
            "cuda:1 (Tesla T4, compute capability 7.5))") in caplog.text
    pinned = search_for(compose_cfg, tmp_path / "pinned", ["hardware=auto", "hardware.precision=32-true",
                                                           "hydra.sweeper.n_jobs=2"])
    assert pinned.plan.slot_overrides == [["hardware.devices=[0]"], ["hardware.devices=[1]"]]


@pytest.mark.parametrize("gpus, n_jobs, shared", [(1, 2, "2 trials at once on 1 GPU(s)"), (2, 2, None),
                                                   (2, 3, "3 trials at once on 2 GPU(s)"), (0, 2, None)])
def test_trials_at_once_on_shared_gpus_tell_their_meters(compose_cfg, tmp_path, monkeypatch, caplog, gpus, n_jobs, shared):
    """A laptop's one GPU under hydra.sweeper.n_jobs=2 (README's example): each trial's energy meter read the
    board's counter, both trials' energy, as its own. The hand-over now says the GPU is shared."""
    from trainlab.search.handover import TrialHandover

    monkeypatch.setattr(gpu_slots, "visible_gpu_count", lambda: gpus)
    one_model_gpus(monkeypatch, gpus)
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        search = search_for(compose_cfg, tmp_path, ["hardware=rtx4070_mobile", f"hydra.sweeper.n_jobs={n_jobs}"])
    assert search.plan.gpu_shared == shared
    assert (f"{shared}: they share GPUs, so a trial's energy is not measured" in caplog.text) == (shared is not None)
    trial = search.study.ask()
    trial.suggest_int("model.net.num_layers", 1, 5)
    handover = search.launch_overrides(trial, 0)[-1].split("=", 1)[1]
    node = OverridesParser.create().parse_override(f"x={handover}").value()
    assert TrialHandover.from_config(OmegaConf.create(node)).gpu_shared == shared
    from trainlab.callbacks.nvml import SharedGpu
    from trainlab.search.trial import optuna_trial

    with optuna_trial(OmegaConf.create({"optuna_trial": node, "optimized_metric": "val/loss"})) as callbacks:
        assert [c.why for c in callbacks if isinstance(c, SharedGpu)] == ([shared] if shared else [])


@pytest.mark.parametrize("devices, gpus", [("[0]", 2), ("2", 4), ("[0,1]", 4)])
def test_trials_given_the_same_gpus_share_them(compose_cfg, tmp_path, monkeypatch, devices, gpus):
    """hardware.devices=[0] with two slots on two GPUs: no slot gets a GPU of its own, so both trials train on
    cuda:0 (as both DDP trials of hardware.devices=2 train on cuda:0 and cuda:1 of four), and each energy meter
    read the other trial's joules as its own: the count of GPUs against the devices per trial said they fit."""
    monkeypatch.setattr(gpu_slots, "visible_gpu_count", lambda: gpus)
    one_model_gpus(monkeypatch, gpus)
    search = search_for(compose_cfg, tmp_path, ["hardware=a100", f"hardware.devices={devices}", "hydra.sweeper.n_jobs=2"])
    assert search.plan.slot_overrides == [[], []]
    assert search.plan.gpu_shared == f"2 trials at once on {gpus} GPU(s), each on hardware.devices={devices.replace(',', ', ')}"


# -- staged search ---------------------------------------------------------------------------------------
def test_a_staged_search_fixes_each_stages_best_and_runs_it_first_in_the_next(compose_cfg, tmp_path, caplog):
    from trainlab.search.stages import run_stages

    cfg = compose_cfg(["hparams_search=staged", "hydra/sweeper/pruner=nop", "hydra.sweeper.stage_trials=[4,3]",
                       f"hydra.sweep.dir={tmp_path / 'my sweep'}"])
    sweep = tmp_path / "my sweep"
    launcher = StandIn()
    with caplog.at_level("INFO", logger="trainlab.search.stages"):
        run_stages(cfg.hydra.sweeper, cfg, [], launcher)
    # its closing line's folder is one word for the shell, as a plain sweep's 'next:' line's (it split at the space)
    assert caplog.messages[-1].endswith(f"make refine SWEEP='{sweep / '2_optimisation'}'")
    record = yaml.safe_load((sweep / "stages.yaml").read_text())["stages"]
    first, second = record
    assert first["searched"] == ["model.net.hidden_size", "model.net.num_layers"] and first["fixed"] == {}
    assert second["searched"] == ["optimizer.lr", "data.batch_size"]
    best = first["best_params"]
    assert {k: v["value"] for k, v in second["fixed"].items()} == best
    assert all(v["why"].startswith("best of stage 1 (architecture)") for v in second["fixed"].values())
    stage2_jobs = launcher.jobs[4:]
    assert len(launcher.jobs) == 7 and len(stage2_jobs) == 3
    for job in stage2_jobs:  # every stage-2 job runs with stage 1's best architecture
        assert params_of(job, "model.net.hidden_size") == str(best["model.net.hidden_size"])
        assert params_of(job, "model.net.num_layers") == str(best["model.net.num_layers"])
    # first in stage 2: stage 1's best as it ran (lr and batch size at their defaults)
    assert second["enqueued_first"] == {"optimizer.lr": cfg.optimizer.lr, "data.batch_size": cfg.data.batch_size}
    assert params_of(stage2_jobs[0], "optimizer.lr") == str(cfg.optimizer.lr)
    assert (sweep / "2_optimisation" / "optuna.db").is_file()
    for job in launcher.jobs[:4]:  # stage 1: stage 2's parameters at their defaults (not passed)
        assert not [o for o in job if o.startswith(("optimizer.lr=", "data.batch_size="))]


class EachBetter(StandIn):
    """Every job scores better than the one before: more trials always move the best."""

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        (job,) = super().launch(jobs, initial_job_idx)
        job.return_value = -float(len(self.jobs))
        return [job]


def run_staged(compose_cfg, sweep_dir, launcher, trials: str) -> None:
    """hparams_search=staged without a pruner, its stages' trials ``trials`` (``[2,1]``), into ``sweep_dir``."""
    from trainlab.search.stages import run_stages

    cfg = compose_cfg(["hparams_search=staged", "hydra/sweeper/pruner=nop", f"hydra.sweeper.stage_trials={trials}",
                       f"hydra.sweep.dir={sweep_dir}"])
    run_stages(cfg.hydra.sweeper, cfg, [], launcher)


def test_a_continued_staged_search_whose_earlier_best_moved_is_refused(compose_cfg, tmp_path, capsys):
    """Stage 2's trials ran with stage 1's best; more stage-1 trials moved it: stage 2 would mix both
    (and stages.yaml would name values its best trial never ran with)."""

    def staged(trials: str) -> None:
        run_staged(compose_cfg, tmp_path / "sweep", launcher, trials)

    launcher = EachBetter()
    staged("[2,2]")
    staged("[2,3]")  # only the last stage grows: allowed
    assert len(launcher.jobs) == 5
    with pytest.raises(SystemExit):
        staged("[4,3]")
    assert "error: stage 2 (optimisation) ran its trials with the earlier stages' best as it was, and that best has " \
           "moved (model.net." in capsys.readouterr().err
    assert len(launcher.jobs) == 7  # stage 1's two new trials ran and are kept; stage 2 ran none


@pytest.mark.parametrize("storage", ["journal:{}/study.journal", "sqlite:///{}/study.db"])
def test_a_study_that_cannot_be_opened_leaves_no_empty_sweep_folder(compose_cfg, tmp_path, capsys, storage):
    """A study file in a folder that does not exist is refused before the sweep folder is made; a sqlite one
    was found only after five tries to open it ('unable to open database file')."""
    from trainlab.search.stages import run_stages

    given = storage.format(tmp_path / "nowhere")
    cfg = compose_cfg(["hparams_search=staged", f"hydra.sweep.dir={tmp_path / 'sweep'}", f"hydra.sweeper.storage={given}"])
    with pytest.raises(SystemExit):
        run_stages(cfg.hydra.sweeper, cfg, [], StandIn())
    assert (f"error: hydra.sweeper.storage={given}: the folder '{tmp_path / 'nowhere'}' does not exist; create it "
            f"(mkdir -p '{tmp_path / 'nowhere'}'), or name a file in another folder") in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_stages_must_cover_the_space_once(compose_cfg, tmp_path):
    from trainlab.search.stages import run_stages

    cfg = compose_cfg(["hparams_search=staged", "hydra.sweeper.stages=[{name:a,params:[optimizer.lr]}]",
                       f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    with pytest.raises(SystemExit):
        run_stages(cfg.hydra.sweeper, cfg, [], StandIn())


@pytest.mark.parametrize("overrides,message", [
    (["hydra.sweeper.n_trials=40"], "hydra.sweeper.n_trials=40, but hydra.sweeper.stage_trials=[10, 10] adds up to 20: "
                                    "each stage runs its own count; give hydra.sweeper.stage_trials=[20,20] instead"),
    (["hydra.sweeper.n_trials=5", "hydra.sweeper.stage_trials=[2,2]"], "give hydra.sweeper.stage_trials=[3,2]"),
    (["hydra.sweeper.stage_trials=[0,10]"], "hydra.sweeper.stage_trials[0]=0 must be 1 or more: a stage needs a finished "
                                            "trial, whose best the next stage fixes"),
    # a stage's entry as written: a key read by nothing, params as one string, no mapping, a name with a /
    (["hydra.sweeper.stage_trials=null", "hydra.sweeper.stages=[{name:a,param:[model.net.hidden_size]}]"],
     "hydra.sweeper.stages[0]: param is not a key of a stage, which takes name and params"),
    (["hydra.sweeper.stages=[{name:a,params:[model.net.hidden_size,model.net.num_layers],trials:5},"
      "{name:b,params:[optimizer.lr,data.batch_size]}]"], "a stage's trials are given by hydra.sweeper.stage_trials"),
    (["hydra.sweeper.stage_trials=null", "hydra.sweeper.stages=[{name:a,params:optimizer.lr}]"],
     "hydra.sweeper.stages[0].params='optimizer.lr' must be a list of searched keys, e.g. [optimizer.lr]"),
    (["hydra.sweeper.stages=[model.net.hidden_size,optimizer.lr]"],
     "hydra.sweeper.stages[0]='model.net.hidden_size' must be a mapping {name: <name>, params: [<searched keys>]}"),
    (["hydra.sweeper.stages=[{name:'x/y',params:[model.net.hidden_size,model.net.num_layers]},"
      "{name:b,params:[optimizer.lr,data.batch_size]}]"], "hydra.sweeper.stages[0].name='x/y' names the stage's folder"),
    # refused after the plan: the sweep folder it made is removed again
    (["hydra.sweeper.stage_trials=[10]"], "hydra.sweeper.stage_trials has 1 entries for 2 stages; give one count per"),
])
def test_stages_that_cannot_run_as_written_are_refused_before_anything_runs(compose_cfg, tmp_path, capsys,
                                                                            overrides, message):
    """n_trials=40 ran the search file's 10 + 10 trials without a word; a stage's misspelt key was read by
    nothing, its params as one string letter by letter."""
    from trainlab.search.stages import run_stages

    cfg = compose_cfg(["hparams_search=staged", f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    launcher = StandIn()
    with pytest.raises(SystemExit):
        run_stages(cfg.hydra.sweeper, cfg, [], launcher)
    assert message in capsys.readouterr().err
    assert not launcher.jobs and not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("key,hint", [
    ("model.net.hidden_size", "(model.net.hidden_size is a key of model=lstm; for another model give stages of its own"),
    ("model.net.num_layer", "; did you mean model.net.num_layers?"),
])
def test_a_stages_key_outside_the_space_says_whose_it_is(key, hint):
    """hparams_search=staged model=cnn: its stages name the LSTM's keys."""
    from trainlab.search.stages import stage_groups

    conf = {"stages": [{"name": "a", "params": [key]}]}
    with pytest.raises(UserError, match=re.escape(hint)):
        stage_groups(conf, ["model.net.hidden_channels", "model.net.num_layers"], 4)


def test_stage_two_from_an_earlier_sweep_fixes_its_top_k_by_importance(compose_cfg, tmp_path):
    cfg = compose_cfg(SEED_SPACE)
    space, _ = parse_space(cfg.hydra.sweeper.params, None, [])
    source = earlier_sweep(tmp_path / "earlier", space, n=40)
    earlier = optuna.load_study(study_name="earlier", storage=f"sqlite:///{source}/optuna.db")
    ranked = list(optuna.importance.get_param_importances(
        earlier, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)))
    search = search_for(compose_cfg, tmp_path, [f"hydra.sweeper.fix_top_of={source}", "hydra.sweeper.fix_top=2",
                                                "hydra.sweeper.n_trials=1"])
    top = ranked[:2]
    assert set(search.plan.space) == set(space) - set(top)
    for key in top:
        assert f"{key}={earlier.best_trial.params[key]}" in search.plan.fixed
    search.run()
    (first,) = search.study.trials  # runs first: the earlier best's values of the rest
    assert first.params == {k: v for k, v in earlier.best_trial.params.items() if k not in top}


# -- two objectives --------------------------------------------------------------------------------------
def test_stage_two_through_the_sweeper_keys_is_refused_in_their_names(compose_cfg, tmp_path):
    """hydra.sweeper.fix_top=0 was refused as 'TOP=0' (make stage2's variable), and a missing or unfinished
    fix_top_of folder without naming the key."""
    cfg = compose_cfg(SEED_SPACE)
    space, _ = parse_space(cfg.hydra.sweeper.params, None, [])
    source = earlier_sweep(tmp_path / "earlier", space)
    with pytest.raises(UserError, match=re.escape(f"hydra.sweeper.fix_top_of={source}: hydra.sweeper.fix_top=0: the "
                                                  "sweep searched 4 parameters (")) as refused:
        search_for(compose_cfg, tmp_path / "a", [f"hydra.sweeper.fix_top_of={source}", "hydra.sweeper.fix_top=0"])
    assert "stage 2 searches at least one; fix 1..3 of them (hydra.sweeper.fix_top=3)" in str(refused.value)
    top = max(importances(optuna.load_study(study_name="earlier", storage=f"sqlite:///{source}/optuna.db")).items(),
              key=lambda kv: kv[1])[0]
    with pytest.raises(UserError, match=re.escape(f"hydra.sweeper.enqueue[0].{top} is fixed by hydra.sweeper.fix_top_of")):
        search_for(compose_cfg, tmp_path / "c", [f"hydra.sweeper.fix_top_of={source}", "hydra.sweeper.fix_top=1",
                                                 f"hydra.sweeper.enqueue=[{{{top}:{space[top].low}}}]"])
    with pytest.raises(UserError, match=re.escape(f"hydra.sweeper.fix_top_of={tmp_path / 'nowhere'}: ")):
        search_for(compose_cfg, tmp_path / "b", [f"hydra.sweeper.fix_top_of={tmp_path / 'nowhere'}"])
    assert not any((tmp_path / name / "sweep").exists() for name in "abc")


def test_a_two_objective_search_writes_its_front_and_plot_and_picks_by_the_rule(compose_cfg, tmp_path, caplog):
    from trainlab.search.analyze import report
    from trainlab.search.front import pick
    from trainlab.search.trials import best_trials

    search = search_for(compose_cfg, tmp_path, ["hparams_search=optuna_two_objectives", "hydra.sweeper.n_trials=8"],
                        StandIn(facts={"fit_seconds": 10.0}))
    with caplog.at_level("INFO", logger="trainlab.search.sweep"):
        search.run()
    sweep_dir = tmp_path / "sweep"
    # the closing line names the front, not a "best val/loss None with None"
    assert f"on the Pareto front of (val/loss, fit_seconds), no single best; make analyze SWEEP={sweep_dir}" in caplog.text
    # each trial's line names both values, and counts the front (it read 'val/loss=18.1314,60 ... best 18.1314,60')
    assert re.search(r"trial 0 complete after \d+ epochs, val/loss=[\d.]+, fit_seconds=\d+ \[.*\| 1/8 done "
                     r"\(0 pruned\), 0 failed, 1 on the front", caplog.text), caplog.text
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["objectives"] == ["objective", "fit_seconds"] and results["solutions"]
    text = report(sweep_dir)
    assert "Pareto front (" in text and (sweep_dir / "pareto_front.png").is_file()
    assert "val/loss=" in text and "objective=" not in text  # the front's trials by the metric's name
    front = best_trials(search.study)
    chosen = pick(front, search.study.directions, {"within": 0.5, "then": 1})
    best_loss = min(t.values[0] for t in front)
    close = [t for t in front if t.values[0] <= best_loss * 1.5]
    assert chosen.values[1] == min(t.values[1] for t in close)


def test_a_pruner_for_two_objectives_is_refused_when_asked_for_and_said_when_the_search_files(compose_cfg, tmp_path,
                                                                                            caplog):
    """Optuna cannot prune a study with several objectives: hydra/sweeper/pruner=median on the command line
    was reported in a warning and dropped; the search file's own pruner still is (hparams_search=optuna
    brings the median pruner to any search)."""
    with pytest.raises(UserError, match=re.escape("hydra/sweeper/pruner=median: Optuna cannot prune a study with 2 "
                                                  "objectives (there is no single value to compare trials by); drop it")):
        search_for(compose_cfg, tmp_path / "a", ["hparams_search=optuna_two_objectives", "hydra/sweeper/pruner=median"])
    assert not (tmp_path / "a" / "sweep").exists()
    cfg = compose_cfg(["hparams_search=optuna", "hydra.sweeper.direction=[minimize,minimize]",
                       "hydra.sweeper.objectives=[objective,fit_seconds]", f"hydra.sweep.dir={tmp_path / 'b'}"])
    assert plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn()).pruner is None
    assert "hydra.sweeper.pruner=optuna.pruners.MedianPruner is not used: Optuna cannot prune" in caplog.text


@pytest.mark.parametrize("sampler,target", [(None, "NSGAIISampler"), ("tpe", "TPESampler"), ("random", "RandomSampler")])
def test_a_two_objective_search_takes_any_sampler(compose_cfg, tmp_path, sampler, target):
    """It set NSGA-II's population_size on the sampler node: hydra/sweeper/sampler=tpe failed to compose
    (Key 'population_size' not in 'TPESamplerConf'); now NSGA-II's size is its option nsgaii_small."""
    cfg = compose_cfg([*SEED_SPACE, "hparams_search=optuna_two_objectives", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                       *([f"hydra/sweeper/sampler={sampler}"] if sampler else [])])
    plan = plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    built = plan.build_sampler()
    assert type(built).__name__ == target
    if sampler is None:
        assert cfg.hydra.sweeper.sampler.population_size == 10


def test_refine_of_a_two_objective_sweep_takes_the_trial_its_pick_rule_names(compose_cfg, tmp_path, monkeypatch):
    """hparams_search=optuna_two_objectives' pick (the fastest within 1 %) was ignored by make refine,
    which took the best validation loss unless --within was given."""
    from trainlab.search import refine

    search = search_for(compose_cfg, tmp_path, ["hparams_search=optuna_two_objectives", "hydra.sweeper.n_trials=2"],
                        StandIn(facts={"fit_seconds": 10.0}))
    search.run()
    rules = []
    monkeypatch.setattr(refine, "best_overrides", lambda sweep_dir, rule: rules.append(rule) or [])
    monkeypatch.setattr(refine, "call_train", lambda command: 0)
    refine.main([str(tmp_path / "sweep")])
    refine.main([str(tmp_path / "sweep"), "--within", "0.5", "--then", "1"])  # the command line's rule wins
    assert rules == [{"within": 0.01, "then": 1}, {"within": 0.5, "then": 1}]


@pytest.mark.parametrize("objectives,options,message", [
    (1, ["--epochs", "0"], "--epochs 0 (make refine's EPOCHS): retrain for 1 epoch or more"),
    (1, ["--epochs", "-1"], "--epochs -1 (make refine's EPOCHS)"),  # Lightning's 'no limit'
    (1, ["--within", "0.1"], "--within / --then pick a trial of a Pareto front, but {sweep} searched one objective"),
    (2, ["--then", "0"], "--then 0 takes the best by that objective among the trials --within of the best first "
                         "objective; give --within too"),
    # a front of one trial was taken without a look at the rule
    (2, ["--within", "0.1", "--then", "5"], "--then 5: the study has objectives 0..1"),
    (2, ["--within", "-1"], "--within -1.0 must be a fraction of 0 or more"),
    # argparse's usage and its error on two lines, naming neither make refine nor EPOCHS
    (1, ["--epochs", "abc"], "error: make refine: EPOCHS (--epochs): invalid int value: 'abc'; it takes SWEEP=<sweep "
                             "folder>, EPOCHS=..., STORAGE=... and ARGS=\"<train.py overrides>\""),
    (1, ["--bogus"], "error: make refine: unrecognized arguments: --bogus;"),
    # ARGS=hparams_search=optuna started a whole sweep instead of the one retraining
    (1, ["hparams_search=optuna"], "make refine retrains one run, and ARGS hparams_search=optuna would make it a sweep"),
])
def test_refine_options_that_would_pick_nothing_are_refused(tmp_path, monkeypatch, capsys, objectives, options, message):
    """Each was ignored (the best, or the sweep's own rule, was retrained), and --epochs -1 trained without end."""
    from trainlab.search import refine

    folder = tmp_path / "sweep"
    folder.mkdir()
    study = optuna.create_study(storage=f"sqlite:///{folder}/optuna.db", study_name="sweep",
                                directions=["minimize"] * objectives)
    dist = {"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    study.add_trial(create_trial(params={"optimizer.lr": 1e-3}, distributions=dist, values=[1.0] * objectives,
                                 user_attrs={"run_dir": "0"}))
    (folder / "0" / ".hydra").mkdir(parents=True)
    (folder / "0" / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=0.001\n")
    monkeypatch.setattr(refine, "call_train", lambda command: pytest.fail(f"launched {command}"))
    with pytest.raises(SystemExit) as exited:
        refine.main([str(folder), *options])
    assert exited.value.code == 2
    assert message.format(sweep=folder) in capsys.readouterr().err


def test_a_pick_tolerance_relative_to_a_best_of_0_says_it_is_none(caplog):
    """within=0.01 of a best loss of 0 is 0: the rule quietly became 'the best first objective'."""
    from optuna.study import StudyDirection

    from trainlab.search.front import pick

    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    front = [create_trial(params={"x": 0.1}, distributions=dist, values=v) for v in ([0.0, 10.0], [0.001, 1.0])]
    chosen = pick(front, [StudyDirection.MINIMIZE] * 2, {"within": 0.01, "then": 1})
    assert chosen.values == [0.0, 10.0]
    assert "pick within=0.01 is relative to the best first objective, which is 0: only trials that score 0" in caplog.text


def test_refine_takes_overrides_after_its_options(tmp_path, monkeypatch):
    """make refine SWEEP=<dir> EPOCHS=2 ARGS="logger=none" runs refine.py <dir> --epochs 2 logger=none."""
    from trainlab.search import refine

    run_dir = tmp_path / "sweep" / "0"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(
        ["hparams_search=optuna", "optimizer.lr=0.001", "optuna_trial={storage:x}", "trainer.max_epochs=10"]))
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/sweep/optuna.db", study_name="sweep")
    study.add_trial(create_trial(params={}, distributions={}, value=1.0, user_attrs={"run_dir": str(run_dir)}))
    calls = []
    monkeypatch.setattr(refine, "call_train", lambda command: calls.append(command) or 0)
    assert refine.main([str(tmp_path / "sweep"), "--epochs", "2", "logger=none"]) == 0
    # paths.log_dir: beside the sweep, which lies outside the repository's outputs/ (test_search_folders.py)
    # what the search file set outside hydra, as the trial had it (its epoch cap is --epochs')
    assert calls[0][2:] == ["optimizer.lr=0.001", "optimized_metric=val/loss", "optimized_mode=min",
                            f"paths.log_dir={tmp_path}", "trainer.max_epochs=2", "logger=none"]


def test_a_sweep_run_with_the_epochs_shortcut_is_refined_and_fed_to_stage2_with_other_epochs(tmp_path, monkeypatch):
    """A sweep run with epochs=1 (the shortcut for trainer.max_epochs=1): make refine kept epochs=1 beside its
    trainer.max_epochs=50, and train.py refused the pair ('epochs=1 and trainer.max_epochs=50 contradict each
    other'); so did make stage2 with ARGS=trainer.max_epochs=5, and a trial's one-run command (its resume line)
    with the search file's trainer.max_epochs=10 added."""
    from trainlab.config.rerun import one_run_overrides
    from trainlab.search import refine
    from trainlab.search.stages import stage2_command

    run_dir = tmp_path / "sweep" / "0"
    (run_dir / ".hydra").mkdir(parents=True)
    overrides = ["hparams_search=optuna", "epochs=1", "optimizer.lr=0.001", "optuna_trial={storage:x}"]
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run_dir / ".hydra" / "config.yaml").write_text("trainer:\n  max_epochs: 10\nepochs: 1\n")  # as Hydra saves it
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/sweep/optuna.db", study_name="sweep")
    study.add_trial(create_trial(params={}, distributions={}, value=1.0, user_attrs={"run_dir": str(run_dir)}))
    calls = []
    monkeypatch.setattr(refine, "call_train", lambda command: calls.append(command) or 0)
    assert refine.main([str(tmp_path / "sweep"), "--epochs", "50"]) == 0
    assert calls[0][2:] == ["optimizer.lr=0.001", "optimized_metric=val/loss", "optimized_mode=min",
                            f"paths.log_dir={tmp_path}", "trainer.max_epochs=50"]
    assert [o for o in one_run_overrides(overrides, run_dir) if o.startswith(("epochs", "trainer"))] == ["epochs=1"]
    (tmp_path / "sweep" / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {
        "hydra": [], "task": ["hparams_search=optuna", "epochs=1", "model=cnn"]}}}))
    command = stage2_command(tmp_path / "sweep", 2, ["trainer.max_epochs=5"], Path("/repo"))
    assert [o for o in command if o.startswith(("epochs", "trainer"))] == ["trainer.max_epochs=5"]
    assert "epochs=1" in stage2_command(tmp_path / "sweep", 2, [], Path("/repo"))  # its own epochs, as it ran


@pytest.mark.parametrize("search", config_options("hparams_search"))
def test_every_search_file_composes_and_plans(compose_cfg, tmp_path, search):
    cfg = compose_cfg([f"hparams_search={search}", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    plan = plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    assert set(plan.space) == {"model.net.hidden_size", "model.net.num_layers", "optimizer.lr", "data.batch_size"}
    if search == "optuna_hyperband":  # its max_resource is the epoch cap, resolved for the jobs
        assert plan.pruner["max_resource"] == cfg.trainer.max_epochs == 10
    if search == "optuna":  # the seed's median settings stay the default
        assert (plan.pruner["n_startup_trials"], plan.pruner["n_warmup_steps"]) == (5, 3)


def test_make_stage2_runs_the_earlier_sweeps_command_with_the_fixing_keys(tmp_path):
    from trainlab.search.stages import stage2_command

    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {
        "hydra": ["hydra.sweeper.n_trials=30", f"hydra.sweep.dir={tmp_path}"],
        "task": ["hparams_search=optuna_hyperband", "model=cnn"]}}}))
    command = stage2_command(tmp_path, 2, ["hydra.sweeper.n_trials=10"], Path("/repo"))
    assert command[1:] == ["/repo/train.py", "-m", "hydra.sweeper.n_trials=30", "hparams_search=optuna_hyperband",
                           "model=cnn", f"paths.log_dir={tmp_path.parent}", f"hydra.sweeper.fix_top_of={tmp_path}",
                           "hydra.sweeper.fix_top=2", "hydra.sweeper.n_trials=10"]
    # the earlier sweep's folder is not reused, the new one goes beside it; later keys win


def test_make_stage2_leaves_out_the_earlier_sweeps_enqueued_and_warm_start_trials(tmp_path):
    """Its command carried the earlier sweep's hydra.sweeper.enqueue=[...] over, whose keys are the ones stage 2
    fixes: the sweep it started was refused (hydra.sweeper.enqueue[0].optimizer.lr is fixed by
    hydra.sweeper.fix_top_of), and so was a warm start (a warm start needs a sweep that searched only the
    parameters left). Those trials ran in the earlier sweep, whose best stage 2 starts from."""
    from trainlab.search.stages import stage2_command

    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {
        "hydra": ["hydra.sweeper.n_trials=30", "hydra.sweeper.enqueue=[{optimizer.lr:0.001}]",
                  "hydra.sweeper.warm_start=/sweeps/older"],
        "task": ["hparams_search=optuna", "model=cnn"]}}}))
    command = stage2_command(tmp_path, 2, [], Path("/repo"))
    assert not [o for o in command if o.startswith(("hydra.sweeper.enqueue=", "hydra.sweeper.warm_start="))]
    assert "hydra.sweeper.n_trials=30" in command
    # given for stage 2 itself, they are kept
    command = stage2_command(tmp_path, 2, ["hydra.sweeper.enqueue=[{model.net.num_layers:2}]"], Path("/repo"))
    assert command[-1] == "hydra.sweeper.enqueue=[{model.net.num_layers:2}]"


def test_make_stage2_starts_the_command_from_the_repository_root(tmp_path, monkeypatch):
    """``python -m trainlab.search.stages <dir>`` (make stage2) runs train.py -m with the fixing keys."""
    from trainlab.run.root import repo_root
    from trainlab.search import stages

    cfg_space, _ = parse_space({"model.net.num_layers": "range(1,6)", "optimizer.lr": "tag(log,interval(1e-5,1e-3))",
                                "model.net.hidden_size": "range(32,129,16)"}, None, [])
    tmp_path = earlier_sweep(tmp_path / "sweep", cfg_space, n=15)  # enough trials to rank 3 parameters
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"hydra": [], "task": ["model=cnn"]}}}))
    calls = []
    monkeypatch.setattr("trainlab.search.refine.call_train", lambda command: calls.append(command) or 0)
    assert stages.main([str(tmp_path), "--top", "2", "hydra.sweeper.n_trials=10"]) == 0
    assert calls[0][1:4] == [str(repo_root() / "train.py"), "-m", "hparams_search=optuna"]
    assert calls[0][-2:] == ["hydra.sweeper.fix_top=2", "hydra.sweeper.n_trials=10"]


def test_the_closing_line_says_when_no_trial_completed():
    from trainlab.search.results import results_line

    line = results_line({"best_trial": None, "best_value": None, "best_params": None, "metric": "val/loss"}, Path("s"))
    assert line == "results in s: no trial completed, so there is no best; trials.csv says how each ended"
    # a sweep's own summary counts its trials: why there is no best, and what to do
    line = results_line({"best_trial": None, "metric": "val/loss", "trials": {"complete": 0, "pruned": 4, "fail": 0,
                                                                               "running": 0}}, Path("s"))
    assert line.startswith("results in s: no trial completed, so there is no best (4 pruned); every trial was pruned "
                           "before its end: continue the sweep with a longer warm-up (hydra.sweeper.pruner.n_warmup_steps)")
    line = results_line({"best_trial": None, "metric": "val/loss", "trials": {"complete": 0, "pruned": 1, "fail": 3,
                                                                               "running": 0}}, Path("s"))
    assert line.endswith("(1 pruned, 3 failed); trials.csv says why each failed (fail_reason); mend that and continue "
                         "the sweep")
    line = results_line({"best_trial": 2, "best_value": 0.1559877097606659, "metric": "val/loss",
                         "best_params": {"optimizer.lr": 0.00010945075821685156, "model.net.hidden_size": 64}}, Path("s"))
    # the line read a raw float and a Python dict: 0.1559877097606659 with {'optimizer.lr': 0.00010945075821685156, ...}
    assert line == ("results in s: best val/loss 0.155988 (trial 2) with optimizer.lr=0.0001095 "
                    "model.net.hidden_size=64")


def test_a_finished_sweep_closes_with_what_to_do_next(compose_cfg, tmp_path, monkeypatch, caplog):
    """A sweep ended on its best ('results in <dir>: best val/loss ...') and nothing named the tools that read
    it (a staged search's closing line named make refine); now the next line names make analyze and make
    refine with the sweep's folder, quoted for the shell. Without a best there is nothing to name."""
    from hydra.core.plugins import Plugins

    from trainlab.search.sweep import run_sweep

    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'my sweep'}", "hydra.sweeper.n_trials=1"])
    monkeypatch.setattr(Plugins, "instantiate_launcher", lambda self, **kwargs: StandIn())
    with caplog.at_level("INFO", logger="trainlab.search.sweep"):
        run_sweep(cfg.hydra.sweeper, hydra_context=None, task_function=None, config=cfg, arguments=[])
    sweep = f"'{tmp_path / 'my sweep'}'"
    assert caplog.messages[-1] == (f"next: make analyze SWEEP={sweep} (importances, what to change in the search; "
                                   f"analysis.txt), make refine SWEEP={sweep} EPOCHS=50 (the best configuration "
                                   "trained longer)")
    from trainlab.search.results import next_steps

    assert next_steps({"best_trial": None, "metric": "val/loss"}, tmp_path) is None
    # a Pareto front has no importances in its analysis and no single best: the line said both
    front = next_steps({"best_trial": None, "metric": "val/loss", "solutions": [{"trial": 1}, {"trial": 2}],
                        "objectives": ["objective", "fit_seconds"]}, tmp_path)
    assert front == (f"next: make analyze SWEEP={tmp_path} (the Pareto front; analysis.txt), make refine "
                     f"SWEEP={tmp_path} EPOCHS=50 (one trial of the front trained longer: the one hydra.sweeper.pick "
                     "names, else the best val/loss)")


@pytest.mark.parametrize("overrides,said", [
    ([], None),
    (["callbacks.model_checkpoint.monitor=val/rmse"],
     "callbacks.model_checkpoint.monitor=val/rmse keeps the best checkpoint by val/rmse, not by "
     "optimized_metric=val/loss; set callbacks.model_checkpoint.monitor=val/loss to keep the best by it"),
    (["callbacks=none"], "no callback of the callbacks group keeps a checkpoint by val/loss (Lightning's own keeps "
                         "the last epoch's)"),
])
def test_a_sweep_whose_checkpoints_are_not_kept_by_its_metric_says_a_trials_value_is_its_last(compose_cfg, tmp_path,
                                                                                               caplog, overrides, said):
    """A trial's value was silently its metric at the last epoch (pipeline.objective), not its best, and its
    best_checkpoint the best by another metric, or the last epoch's."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    told = [m for m in caplog.messages if m.startswith("a trial's value is its val/loss at its last epoch, not its best")]
    assert (told == []) if said is None else (said in told[0])


@pytest.mark.parametrize("kept_by, written", [("val/rmse", "val/rmse"), (None, "last epoch"), ("val/loss", "absent")])
def test_the_sweeps_results_say_which_metric_its_best_checkpoint_is_the_best_by(tmp_path, kept_by, written):
    """optimization_results.yaml paired best_value (the trial's val/loss at its last epoch, when its checkpoints are
    kept by another metric) with best_checkpoint (the best by that other metric) without a word."""
    import json

    from trainlab.run.folder import RunFolder
    from trainlab.search.results import summary

    folder = sweep_of(tmp_path / "sweep", [TrialState.COMPLETE])
    run = RunFolder(folder / "0")
    run.checkpoints.mkdir(parents=True)
    (run.checkpoints / "epoch01.ckpt").write_bytes(b"")
    run.record_best(run.checkpoints / "epoch01.ckpt")
    (run.path / "training_summary.json").write_text(json.dumps({"checkpoint": {"file": "epoch01.ckpt",
                                                                               "kept_by": kept_by}}))
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{folder}/optuna.db")
    result = summary(study, f"sqlite:///{folder}/optuna.db", "val/loss", folder)
    assert result["best_checkpoint"] == "0/checkpoints/epoch01.ckpt"
    assert result.get("best_checkpoint_kept_by", "absent") == written


class AllPruned(StandIn):
    """A launcher whose every job raises TrialPruned, as a job whose run the pruner stopped."""

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        (job,) = super().launch(jobs, initial_job_idx)
        job.status, job._return_value = JobStatus.FAILED, optuna.TrialPruned()
        return [job]


def test_a_sweep_whose_every_trial_was_pruned_exits_1_on_its_closing_line(compose_cfg, tmp_path, monkeypatch, capsys):
    """It exited 0, as one with a best: a script or CI job could not tell it gave nothing to refine (a sweep whose
    every trial failed or diverged, FAIL either way, already ended with 'error: the sweep stopped ...', exit 1)."""
    from hydra.core.plugins import Plugins

    from trainlab.search.results import no_best
    from trainlab.search.sweep import run_sweep

    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.sweeper.n_trials=3"])
    monkeypatch.setattr(Plugins, "instantiate_launcher", lambda self, **kwargs: AllPruned())
    with pytest.raises(SystemExit) as exited:
        run_sweep(cfg.hydra.sweeper, hydra_context=None, task_function=None, config=cfg, arguments=[])
    assert exited.value.code == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"error: results in {tmp_path / 'sweep'}: no trial completed, so there is no best (3 pruned); "
                           "every trial was pruned before its end: continue the sweep with a longer warm-up")
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert results["best_trial"] is None and sum(results["trials"].values()) == 3
    # trials still running in another process of a shared study may give a best: that process's part ended well
    assert not no_best({"best_trial": None, "trials": {"complete": 0, "pruned": 2, "fail": 0, "running": 1}})


# -- a space's mistakes: one line naming the entry and the fix -------------------------------------------
@pytest.mark.parametrize("params,arguments,search_space,message", [
    ({"optimizer.lr": "interval(1e-2, 1e-4)"}, [], None,
     "hydra.sweeper.params: optimizer.lr=interval(1e-2, 1e-4): the low end 0.01 is above the high end 0.0001; swap"),
    ({}, ["optimizer.lr=tag(log,interval(0,1e-3))"], None,
     "the command line: optimizer.lr=tag(log,interval(0,1e-3)): a log scale needs a low end above 0, got 0.0"),
    ({"model.net.hidden_size": "range(64, 32, 16)"}, [], None,
     "hydra.sweeper.params: model.net.hidden_size=range(64, 32, 16) holds no value"),
    ({}, ["model.net.hidden_size=glob(*)"], None, "the command line: model.net.hidden_size=glob(*) is not a sweep"),
    ({"data.batch_size": "choice(32)"}, [], None,
     "hydra.sweeper.params: data.batch_size=choice(32) has one value (32), so nothing would be searched; fix it with "
     "data.batch_size=32"),
    ({}, ["model.net.num_layers=range(2,3)"], None, "the command line: model.net.num_layers=range(2,3) has one value (2)"),
    ({}, ["optimizer.lr=interval(0.01,0.01)"], None, "has one value (0.01)"),
    ({}, [], {"optimizer.lr": {"type": "float", "low": 0.1, "high": 0.01}},
     "hydra.sweeper.search_space.optimizer.lr: the low end 0.1 is above the high end 0.01"),
    # an entry of search_space is told its own fix (it was told to drop tag(log, ...), which it has not)
    ({}, [], {"optimizer.lr": {"type": "float", "low": 0, "high": 0.01, "log": True}},
     "a log scale needs a low end above 0, got 0.0; start at a small positive value (e.g. 1e-6), or set log: false"),
    ({}, [], {"data.batch_size": {"type": "categorical", "choices": [32]}}, "has one value (32)"),
    ({}, [], {"data.batch_size": {"type": "int", "low": "a", "high": 3}}, "its ends 'a' and 3 must be numbers"),
    # a step that does not divide the range: Optuna lowered the high end with a Python warning only
    ({}, [], {"model.net.num_layers": {"type": "int", "low": 1, "high": 6, "step": 2}},
     "hydra.sweeper.search_space.model.net.num_layers: step 2 does not divide 1..6 (the last value would be 5); give "
     "high 5 or 7"),
    ({}, [], {"model.net.dropout": {"type": "float", "low": 0, "high": 1, "step": 0.3}},
     "step 0.3 does not divide 0.0..1.0 (the last value would be 0.9); give high 0.9 or 1.2"),
    ({}, [], {"model.net.dropout": {"type": "float", "low": 0, "high": 0.9, "step": -0.3}}, "step -0.3 must be above 0"),
    # one key given twice: the last one was taken without a word
    ({}, ["optimizer.lr=interval(1e-4,1e-2)", "optimizer.lr=0.01"], None,
     "optimizer.lr is given twice on the command line (optimizer.lr=interval(1e-4,1e-2) and optimizer.lr=0.01); keep one"),
    ({"optimizer.lr": "interval(1e-4,1e-2)"}, [], {"optimizer.lr": {"type": "float", "low": 0.1, "high": 0.5}},
     "hydra.sweeper.search_space.optimizer.lr and hydra.sweeper.params: optimizer.lr=interval(1e-4,1e-2) both search "
     "optimizer.lr; keep one: on the command line give 'optimizer.lr=interval(0.1, 0.5)' instead, which replaces the "
     "search file's range; in a search file that extends optuna (whose params hold the model's space, "
     "hparams_search/space/<model>.yaml), params: null searches its search_space alone"),
    # given on the command line, where the one fix offered was a search file's (params: null there)
    ({"model.net.hidden_size": "range(32, 129, 16)"}, [], {"model.net.hidden_size": {"type": "int", "low": 8, "high": 32,
                                                                                    "step": 8}},
     "keep one: on the command line give 'model.net.hidden_size=range(8, 40, 8)' instead"),
    # read by nothing, so the search ran without them: another tag, a scale on a choice, an entry's unknown key
    ({}, ["optimizer.lr=tag(lg,interval(1e-5,1e-2))"], None,
     "the command line: optimizer.lr=tag(lg,interval(1e-5,1e-2)): tag lg means nothing to the sweeper; the one tag it "
     "reads is log"),
    ({"data.batch_size": "tag(log, choice(16, 32))"}, [], None, "a choice has no scale, so tag(log, ...) would do nothing"),
    ({}, ["model.net.hidden_size=tag(log,range(8,40,8))"], None,
     "a log scale takes no step (got step 8); drop the step (a log scale over 8..32) or the log scale"),
    ({}, [], {"optimizer.lr": {"type": "float", "low": 1e-5, "high": 1e-2, "lg": True}},
     "hydra.sweeper.search_space.optimizer.lr: lg is not a key of a float entry, which takes type, low, high, step, log"),
    ({}, [], {"data.batch_size": {"type": "int", "low": 8, "high": 64, "q": 8}}, "give step instead of q"),
    ({}, [], {"data.batch_size": {"type": "categorical", "choices": [16, 32], "low": 8}},
     "low is not a key of a categorical entry, which takes type, choices"),
    ({}, [], {"optimizer.lr": {"type": "float", "low": 1e-5, "high": 1e-2, "log": "no"}},
     "hydra.sweeper.search_space.optimizer.lr.log='no' must be true or false"),
    ({}, [], {"data.batch_size": {"type": "int", "low": 8.5, "high": 64}}, "its end 8.5 is not a whole number"),
    ({}, [], {"data.batch_size": {"type": "int", "low": 8, "high": 64, "step": 2.5}}, "its step 2.5 is not a whole number"),
    ({}, [], {"data.batch_size": {"type": "int", "low": 8, "high": 64, "step": "x"}}, "its step 'x' must be a number"),
    ({}, [], {"data.batch_size": {"type": "categorical", "choices": "abc"}}, ".choices='abc' must be a list"),
    ({}, [], {"data.batch_size": [16, 32]}, "hydra.sweeper.search_space.data.batch_size=[16, 32] must be a mapping"),
    (5, [], None, "hydra.sweeper.params=5 must be a mapping parameter -> sweep"),
    # a misspelt type or key, or a type in another library's words, is told the word it likely meant
    ({}, [], {"optimizer.lr": {"type": "flaot", "low": 1e-4, "high": 1e-2}},
     "hydra.sweeper.search_space.optimizer.lr.type='flaot' is not a type of a search_space entry; did you mean "
     "float? It takes float, int or categorical"),
    ({}, [], {"data.batch_size": {"type": "categorial", "choices": [16, 32]}}, "'categorial' is not a type of a "
     "search_space entry; did you mean categorical?"),
    ({}, [], {"data.batch_size": {"type": "integer", "low": 16, "high": 32}}, "'integer' is not a type of a "
     "search_space entry; did you mean int?"),
    ({}, [], {"optimizer.lr": {"type": "interval", "low": 1e-4, "high": 1e-2}}, "did you mean float?"),
    ({}, [], {"optimizer.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}}, "did you mean float with log: true?"),
    ({}, [], {"optimizer.lr": {"type": "Float", "low": 1e-4, "high": 1e-2}}, "did you mean float?"),
    ({}, [], {"optimizer.lr": {"type": "float", "low": 1e-4, "hgih": 1e-2}},
     "hydra.sweeper.search_space.optimizer.lr: hgih is not a key of a float entry, which takes type, low, high, step, "
     "log; did you mean high?"),
    ({}, [], {"data.batch_size": {"type": "int", "low": 16, "high": 64, "stpe": 16}}, "did you mean step?"),
    ({}, [], {"data.batch_size": {"type": "categorical", "choice": [16, 32]}},
     "hydra.sweeper.search_space.data.batch_size: choice is not a key of a categorical entry, which takes type, "
     "choices; did you mean choices?"),
    ({}, [], {"optimizer.lr": {"typ": "float", "low": 1e-4, "high": 1e-2}},
     "hydra.sweeper.search_space.optimizer.lr: the entry has no type (typ is no key; did you mean type?); give type: "
     "float, int or categorical"),
    ({}, [], {"data.batch_size": {"type": "categorical", "choices": []}}, ".choices=[] must be a list of two or more"),
    ({"optimizer.lr": "tag(log, intrval(1e-4, 1e-2))"}, [], None,
     "hydra.sweeper.params: cannot parse 'optimizer.lr=tag(log, intrval(1e-4, 1e-2))': intrval() is no function of "
     "Hydra's override grammar; did you mean interval? (the sweeper reads interval(a, b), range(start, stop, step), "
     "choice(...) and tag(log, ...))"),
    ({}, [], [1, 2], "hydra.sweeper.search_space=[1, 2] must be a mapping parameter -> entry"),
])
def test_a_bad_range_is_refused_naming_the_entry_and_the_fix(params, arguments, search_space, message):
    with pytest.raises(UserError) as refused:
        parse_space(params, search_space, arguments)
    assert message in str(refused.value), str(refused.value)
    assert "\n" not in str(refused.value)  # one line


@pytest.mark.parametrize("dist", [
    optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True), optuna.distributions.FloatDistribution(0.0, 0.5),
    optuna.distributions.FloatDistribution(0.0, 0.3, step=0.1), optuna.distributions.IntDistribution(32, 128, step=16),
    optuna.distributions.IntDistribution(1, 9, log=True), optuna.distributions.CategoricalDistribution([16, "a b"]),
])
def test_a_range_written_for_the_command_line_reads_back_the_same(dist):
    """What a refusal advises typing (as_sweep) is the range it was given as a search_space entry."""
    from trainlab.search.space import as_sweep

    assert parse_space({"k": as_sweep(dist)}, None, [])[0]["k"] == dist


def test_a_log_scale_over_whole_numbers_is_searched_on_a_log_scale():
    """tag(log, range(1, 5)) searched 1..4 on a linear scale: the tag was dropped."""
    space, _ = parse_space({}, None, ["model.net.num_layers=tag(log,range(1,5))", "data.batch_size=tag(log,int(interval(8,64)))"])
    assert space["model.net.num_layers"] == optuna.distributions.IntDistribution(1, 4, log=True)
    assert space["data.batch_size"] == optuna.distributions.IntDistribution(8, 64, log=True)


def test_a_step_that_divides_its_range_is_kept():
    space, _ = parse_space({"model.net.dropout": "range(0.0, 1.0, 0.1)"},
                           {"data.batch_size": {"type": "int", "low": 16, "high": 64, "step": 16}}, [])
    assert (space["model.net.dropout"].high, space["data.batch_size"].high) == (pytest.approx(0.9), 64)


@pytest.mark.parametrize("arguments,message", [
    (["data.batch_size=choice(16,abc)"], "data.batch_size: its choices [16, 'abc'] hold 'abc', but data.batch_size=32 in "
                                         "the config is a whole number; give whole numbers only"),
    (["model.net.hidden_size=choice(32,64.5)"], "its choices [32, 64.5] hold 64.5"),
    (["model.net.num_layers=interval(1,5)"], "model.net.num_layers: its search draws fractions (1..5), but "
     "model.net.num_layers=2 in the config is a whole number; search whole numbers: model.net.num_layers=range(1, 6) "
     "or model.net.num_layers=int(interval(1, 5))"),
    (["model.net.num_layers=range(1,6,2.5)"], "draws fractions (1..3.5)"),
    (["optimizer.lr=choice(1e-3,fast)"], "optimizer.lr: its choices [0.001, 'fast'] hold 'fast', but optimizer.lr=0.001 "
                                         "in the config is a number; give numbers only"),
])
def test_a_searched_value_of_another_type_than_its_key_is_refused(compose_cfg, tmp_path, arguments, message):
    """Optuna took them; the trials that drew 'abc' or num_layers=2.7 failed one by one."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, arguments, StandIn())


def test_whole_numbers_and_numbers_for_a_fraction_are_searched(compose_cfg, tmp_path):
    """A typed schema's key keeps its declared type: debug=limit's limit_train_batches=5 takes 0.5 too."""
    cfg = compose_cfg([*SEED_SPACE, "debug=limit", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    plan = plan_sweep(cfg.hydra.sweeper, cfg, ["model.net.num_layers=int(interval(1,5))", "optimizer.lr=choice(1e-3,1)",
                                               "model.net.hidden_size=choice(32,64)",
                                               "trainer.limit_train_batches=choice(0.5,1.0)"], StandIn())
    assert isinstance(plan.space["model.net.num_layers"], optuna.distributions.IntDistribution)


def test_the_command_line_replaces_a_search_space_entry_as_it_replaces_a_params_entry(caplog):
    """optimizer.lr=0.01 was passed to every trial and then overridden by the trial's searched value.
    The replaced entry is said: the search file's range was dropped without a word."""
    with caplog.at_level("INFO", logger="trainlab.search.space"):
        space, fixed = parse_space({"data.batch_size": "choice(16,32)"},
                                   {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, ["optimizer.lr=0.01"])
        parse_space({"model.net.hidden_size": "range(32, 129, 16)"}, None, ["model.net.hidden_size=64"])
    assert list(space) == ["data.batch_size"] and fixed == ["optimizer.lr=0.01"]
    assert caplog.messages == [
        "optimizer.lr=0.01 on the command line replaces hydra.sweeper.search_space.optimizer.lr={'type': 'float', "
        "'low': 0.0001, 'high': 0.01}: fixed at that value, not searched",
        "model.net.hidden_size=64 on the command line replaces hydra.sweeper.params' model.net.hidden_size=range(32, "
        "129, 16): fixed at that value, not searched"]
    space, _ = parse_space(None, {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-2}},
                           ["optimizer.lr=choice(0.1,0.2)"])
    assert list(space["optimizer.lr"].choices) == [0.1, 0.2]
    _, fixed = parse_space(None, None, ["trainer.max_epochs=4", "trainer.max_epochs=1"])  # two values: Hydra's last
    assert fixed == ["trainer.max_epochs=1"]


@pytest.mark.parametrize("argv,message", [
    (["hparams_search=optuna", 'hydra.sweeper.params.optimizer.lr="interval(1e-4,1e-2)"'],
     "give the sweep as an override of the key itself: optimizer.lr=interval(1e-4,1e-2)"),
    (["hydra.sweeper.params.optimizer.lr=interval(1e-4,1e-2)"], "optimizer.lr=interval(1e-4,1e-2) (it replaces"),
    (["hydra.sweeper.params.seed=choice(1,2)"], "seed=choice(1,2)"),  # unquoted: Hydra takes it for its own sweep
    (["~hydra.sweeper.params.data.batch_size"], "fix it at a value instead (data.batch_size=<value>"),
])
def test_setting_a_search_files_entry_on_the_command_line_names_the_form_that_works(argv, message, monkeypatch, capsys):
    from trainlab.config.command_line import run_command_line

    monkeypatch.setattr("sys.argv", ["train.py", "-m", *argv])
    with pytest.raises(SystemExit) as exited:
        run_command_line(lambda: pytest.fail("Hydra must not start"))
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and message in line


def test_a_search_files_entry_that_hydra_takes_is_left_to_hydra():
    from trainlab.search.space import params_override_problem

    assert params_override_problem(['hydra.sweeper.params.seed="choice(1,2)"', "hydra.sweeper.params=null",
                                    "~hydra.sweeper.params.seed", "optimizer.lr=interval(1e-4,1e-2)"]) is None


def test_continuing_a_finished_study_says_how_to_run_more(compose_cfg, tmp_path, caplog):
    search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=2"]).run()
    again = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=2"])
    with caplog.at_level("INFO", logger="trainlab.search.sweep"):
        again.run()
    assert again.launcher.jobs == []
    assert ("already has 2 finished trials, and hydra.sweeper.n_trials=2 counts them: nothing to run; to run more, "
            "raise hydra.sweeper.n_trials (hydra.sweeper.n_trials=4 runs 2 more)") in caplog.text
    caplog.clear()
    fewer = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=1"])  # it said 'its 1 finished trials' of 2
    with caplog.at_level("INFO", logger="trainlab.search.sweep"):
        fewer.run()
    assert "already has 2 finished trials, and hydra.sweeper.n_trials=1 counts them" in caplog.text


def test_a_searched_key_of_another_model_names_the_models_it_belongs_to(compose_cfg):
    from trainlab.search.space import check_keys

    cfg = compose_cfg(["hparams_search=optuna", "model=cnn"])
    with pytest.raises(UserError, match=r"model.net.hidden_size is not a key of the config nor a config group: it is a "
                                        r"key of model=lstm, but model=cnn is selected; select model=lstm"):
        check_keys(cfg, ["model.net.hidden_size"])
    with pytest.raises(UserError, match=r"model.net.hiden_channels .* did you mean model.net.hidden_channels\?$"):
        check_keys(cfg, ["model.net.hiden_channels"])  # a misspelt key of the selected model keeps its hint
    # a key the other models' files hold as null (filled from the data) is theirs too: it said "did you mean
    # model.net.kernel_size?", from the sweep's own copy of options_with_key, which counted only keys holding a value
    with pytest.raises(UserError, match=r"model.net.input_size is not a key of the config nor a config group: it is a "
                                        r"key of model=lstm or model=tcn, but model=cnn is selected; select model=lstm"):
        check_keys(cfg, ["model.net.input_size"])



@pytest.mark.parametrize("arguments,message", [
    # it said "hydra.sweeper.params: model.net.hidden_size ...", a key the user had typed on the command line
    (["model=cnn", "model.net.hidden_size=interval(8,16)"],
     "the command line: model.net.hidden_size=interval(8,16): model.net.hidden_size is not a key of the config nor a "
     "config group: it is a key of model=lstm, but model=cnn is selected"),
    # it said "does not compose: In 'train': Could not find 'data/synthetc'"
    (["data=choice(synthetic,synthetc)"], "data=synthetc, one of the sweep's data choices, is not an option of the data "
                                          "group; did you mean data=synthetic? its options: catalogue, elnino, file"),
])
def test_a_searched_name_the_config_lacks_is_named_where_it_was_given(compose_cfg, tmp_path, arguments, message):
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}",
                       *[a for a in arguments if "(" not in a]])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [a for a in arguments if "(" in a], StandIn())


def finished_sweep(folder: Path, value: float | None = 1.0) -> Path:
    """A sweep folder's study (optuna.db, named after the folder) with one trial: complete with
    ``value``, or failed when it is None."""
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{folder}/optuna.db", study_name=folder.name)
    dist = {"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    study.add_trial(create_trial(params={"optimizer.lr": 1e-3}, distributions=dist, value=value,
                                 state=TrialState.COMPLETE if value is not None else TrialState.FAIL,
                                 user_attrs={"fail_reason": "boom"} if value is None else {}))
    return folder


# -- make analyze / refine / stage2 on the wrong folder: one line, exit 2, nothing launched ------------------
def sweep_clis():
    from trainlab.search import analyze, refine, stages

    return {"analyze": analyze.main, "refine": refine.main, "stage2": lambda argv: stages.main([*argv, "--top", "1"])}


@pytest.mark.parametrize("cli, module", [("analyze", "analyze"), ("refine", "refine"), ("stage2", "stages")])
def test_the_sweep_tools_without_a_folder_name_makes_sweep(capsys, cli, module):
    """make refine without SWEEP= (which the Makefile then leaves out) met argparse's usage and 'the following
    arguments are required: sweep_dir, overrides', the overrides being optional and SWEEP= not named."""
    with pytest.raises(SystemExit) as exited:
        sweep_clis()[cli]([])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"error: no sweep folder given: make {cli} SWEEP=outputs/train/multiruns/<sweep> (python -m "
                    f"trainlab.search.{module} <sweep folder>)")


@pytest.mark.parametrize("cli", ["analyze", "refine", "stage2"])
@pytest.mark.parametrize("folder,message", [
    ("nowhere", "is not a folder; give a sweep folder"),
    # a file of the sweep (its study, trials.csv: what a shell's tab completes to) was told it is no folder
    ("other/optuna.db", "{tmp}/other/optuna.db is a file of a sweep; give the sweep's folder: {tmp}/other"),
    ("plain", "holds no study (optimization_results.yaml or optuna.db)"),
    ("staged", "is a staged search, with a study per stage: give one of its stages' folders ({tmp}/staged/1_a)"),
    # sqlite made an empty optuna.db in its place, and Optuna raised KeyError: 'Record does not exist.' (a traceback)
    ("nodb", "{tmp}/nodb: its study file '{tmp}/nodb/optuna.db' does not exist (moved or removed?); put it back"),
    ("other", "{tmp}/other: study elsewhere is not in sqlite:///{tmp}/other/optuna.db"),
    # a trial's run folder, and the folder the sweeps lie in, were told they hold no study (not which folder does)
    ("other/0", "{tmp}/other/0 is the run folder of trial 0 of a sweep; give the sweep's folder: {tmp}/other"),
    ("many", "{tmp}/many holds 2 sweep folder(s), not a study of its own; give one of them (the latest by name first: "
             "{tmp}/many/2026-12-02, {tmp}/many/2026-12-01)"),
    ("log", "{tmp}/log holds 1 sweep folder(s), not a study of its own; give one of them (the latest by name first: "
            "{tmp}/log/train/multiruns/2026-12-03)"),  # paths.log_dir, the sweeps two levels below
])
def test_the_sweep_tools_refuse_a_folder_that_is_no_sweep_in_one_line(tmp_path, monkeypatch, capsys, cli, folder,
                                                                      message):
    from trainlab.search import refine

    (tmp_path / "plain").mkdir()
    finished_sweep(tmp_path / "staged" / "1_a")
    (tmp_path / "staged" / "stages.yaml").write_text("stages: []\n")
    (tmp_path / "nodb").mkdir()
    (tmp_path / "nodb" / "optimization_results.yaml").write_text("study_name: nodb\nstorage: null\n")
    finished_sweep(tmp_path / "other")
    (tmp_path / "other" / "optimization_results.yaml").write_text("study_name: elsewhere\nstorage: null\n")
    (tmp_path / "other" / "0").mkdir()
    for day in ("2026-12-01", "2026-12-02"):
        finished_sweep(tmp_path / "many" / day)
    finished_sweep(tmp_path / "log" / "train" / "multiruns" / "2026-12-03")
    monkeypatch.setattr(refine, "call_train", lambda command: pytest.fail(f"launched {command}"))
    with pytest.raises(SystemExit) as exited:
        sweep_clis()[cli]([str(tmp_path / folder)])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and message.format(tmp=tmp_path) in line
    assert not (tmp_path / "nodb" / "optuna.db").exists()


def test_a_renamed_sweep_folder_without_its_results_file_is_read_by_its_one_study(tmp_path):
    """Its study is named after the folder it was made in: looked up by the new name, Optuna raised KeyError."""
    from trainlab.search.sweep_folder import load_sweep_study

    finished_sweep(tmp_path / "before").rename(tmp_path / "after")
    assert load_sweep_study(tmp_path / "after").study_name == "before"


@pytest.mark.parametrize("cli", ["refine", "stage2"])
def test_refine_and_stage2_of_a_sweep_without_a_complete_trial_say_so(tmp_path, monkeypatch, capsys, cli):
    from trainlab.search import refine

    monkeypatch.setattr(refine, "call_train", lambda command: pytest.fail(f"launched {command}"))
    with pytest.raises(SystemExit) as exited:
        sweep_clis()[cli]([str(finished_sweep(tmp_path / "failed", value=None))])
    assert exited.value.code == 2
    assert f"error: {tmp_path / 'failed'}: no trial completed, so there is no best (1 failed)" in capsys.readouterr().err


def sweep_of(folder: Path, states: list[TrialState], running: int = 0) -> Path:
    """A sweep folder's study with a scored trial per COMPLETE, an unscored one per PRUNED / FAIL, and
    ``running`` trials still running."""
    folder.mkdir(parents=True)
    study = optuna.create_study(storage=f"sqlite:///{folder}/optuna.db", study_name=folder.name)
    dist = {"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    for i, state in enumerate(states):
        study.add_trial(create_trial(params={"optimizer.lr": 1e-3 * (1 + i)}, distributions=dist, state=state,
                                     value=1.0 + i if state == TrialState.COMPLETE else None,
                                     intermediate_values={0: 1.0} if state == TrialState.PRUNED else None,
                                     user_attrs={"run_dir": str(i)}))
    for _ in range(running):
        study.ask(dist)
    return folder


@pytest.mark.parametrize("cli", ["refine", "stage2", "analyze"])
@pytest.mark.parametrize("states,running,why", [
    ([TrialState.PRUNED] * 3, 0, "(3 pruned); every trial was pruned before its end: continue the sweep with a longer "
                                 "warm-up (hydra.sweeper.pruner.n_warmup_steps)"),
    ([TrialState.PRUNED, TrialState.FAIL], 2, "(1 pruned, 1 failed, 2 running); its running trials may still complete: "
                                             "wait for the sweep"),
])
def test_refine_and_stage2_of_a_sweep_without_a_best_say_why_and_what_to_do(tmp_path, monkeypatch, capsys, cli, states,
                                                                            running, why):
    """'continue the sweep' for a sweep still running, and 'trials.csv says how each trial ended' for one whose
    every trial the pruner stopped: the sweep's own verdict, naming the folder (refine and stage 2 said 'study sweep
    has no complete trial yet' of a sweep that had ended; analyze exited 0 with it among its recommendations)."""
    from trainlab.search import refine

    monkeypatch.setattr(refine, "call_train", lambda command: pytest.fail(f"launched {command}"))
    folder = sweep_of(tmp_path / "sweep", states, running)
    verdict = f"error: {folder}: no trial completed{' yet' if running else ''}, so there is no best {why}"
    if cli == "analyze":  # its report lists the failures, then the verdict; a sweep still running may give a best
        assert sweep_clis()[cli]([str(folder)]) == (0 if running else 1)
        err = capsys.readouterr().err
        assert (err == "") if running else err.splitlines()[-1].startswith(verdict)
        return
    with pytest.raises(SystemExit) as exited:
        sweep_clis()[cli]([str(folder)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(verdict)


def test_refine_of_a_sweep_still_running_says_its_best_may_move(tmp_path, monkeypatch, caplog):
    from trainlab.search import refine

    folder = sweep_of(tmp_path / "sweep", [TrialState.COMPLETE], running=1)
    (folder / "0" / ".hydra").mkdir(parents=True)
    (folder / "0" / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=0.001\n")
    calls = []
    monkeypatch.setattr(refine, "call_train", lambda command: calls.append(command) or 0)
    assert refine.main([str(folder)]) == 0 and "optimizer.lr=0.001" in calls[0]
    assert f"{folder}: 1 trial(s) still running (the sweep goes on, or was killed): the best so far is taken" in caplog.text


def test_the_analysis_of_a_sweep_whose_every_trial_was_pruned_says_what_to_change(tmp_path):
    from trainlab.search.analyze import report

    text = report(sweep_of(tmp_path / "pruned", [TrialState.PRUNED] * 3, running=0))
    assert ("no trial ran to its end: 3 of 3 trials were pruned, so there is no best; continue the sweep with a longer "
            "warm-up") in text


def test_refine_and_stage2_wait_for_train_py_to_answer_a_ctrl_c(tmp_path):
    """Ctrl-C reaches train.py and refine / stage2 alike (one process group): train.py says one line and
    exits 130; the tool returns that status instead of a KeyboardInterrupt traceback of its wait."""
    import signal
    import sys

    from trainlab.search.refine import call_train

    ctrl_c = signal.getsignal(signal.SIGINT)
    child = ("import os, signal, time; os.kill(os.getppid(), signal.SIGINT); time.sleep(0.3); "
             "raise SystemExit(128 + signal.SIGINT)")
    assert call_train([sys.executable, "-c", child]) == 130
    assert signal.getsignal(signal.SIGINT) is ctrl_c  # given back


def test_stage2_refuses_to_fix_no_parameter(tmp_path, monkeypatch, capsys):
    from trainlab.search import stages

    finished_sweep(tmp_path)
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"hydra": [], "task": []}}}))
    monkeypatch.setattr("trainlab.search.refine.call_train", lambda command: pytest.fail(f"launched {command}"))
    with pytest.raises(SystemExit):
        stages.main([str(tmp_path), "--top", "0"])
    assert "error: TOP=0: give how many of the sweep's most important parameters to fix, 1 or more" in capsys.readouterr().err


def test_one_complete_trial_is_not_ranked_nor_taken_for_a_range_edge(tmp_path, monkeypatch, capsys):
    """fANOVA gave one trial's parameters 0.500 each, the report advised widening a range from that one
    point, and make stage2 launched train.py to fix the 'more important' one."""
    from trainlab.search import refine, stages
    from trainlab.search.analyze import report

    folder = finished_sweep(tmp_path / "one")
    text = report(folder)
    assert ("parameter importance: not yet (too few trials to rank: 1 complete trial(s) for 1 searched parameter(s), "
            "ranking them takes 10 (5 a parameter, 10 at least); range edges and parameters to freeze wait") in text
    assert "widen" not in text and "range edge" not in text.split("recommendations:")[1]
    assert not (folder / "param_importances.png").exists()
    (folder / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"hydra": [], "task": []}}}))
    monkeypatch.setattr(refine, "call_train", lambda command: pytest.fail(f"launched {command}"))
    with pytest.raises(SystemExit) as exited:
        stages.main([str(folder), "--top", "1"])
    assert exited.value.code == 2
    assert ("its parameters cannot be ranked by importance: too few trials to rank: 1 complete trial(s) for 1 "
            "searched parameter(s), ranking them takes 10"
            in capsys.readouterr().err)


def test_the_analysis_of_a_sweep_without_a_complete_trial_reports_its_failures_only(tmp_path):
    from trainlab.search.analyze import report

    text = report(finished_sweep(tmp_path / "failed", value=None))
    assert "top trials: none, no trial completed" in text and 'failed with "boom"' in text
    assert "range edge" not in text and "plots: none (no trial completed)" in text
    assert not list((tmp_path / "failed").glob("*.png"))
    empty = tmp_path / "empty"
    empty.mkdir()
    optuna.create_study(storage=f"sqlite:///{empty}/optuna.db", study_name="empty")
    with pytest.raises(UserError, match="has no trial of its own yet: nothing to analyse"):
        report(empty)


# -- continuing a study ------------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments,message", [
    # it read "searched over FloatDistribution(high=0.001, log=True, low=1e-05, step=None) there and is ..."
    (["optimizer.lr=tag(log,interval(1e-4,1e-2))"], re.escape("optimizer.lr was searched over 1e-05..0.001 on a log "
                                                              "scale there and is 0.0001..0.01 on a log scale here")),
    (["model.net.num_layers=range(1,9,2)"], re.escape("model.net.num_layers was searched over whole numbers 1..5 there "
                                                      "and is whole numbers 1..7 step 2 here")),
    (["data.batch_size=32"], "data.batch_size was searched there and is not here"),
    (["model.net.dropout=interval(0.0,0.3)"], "model.net.dropout is searched here and was not there"),
])
def test_continuing_a_study_with_another_space_is_refused(compose_cfg, tmp_path, arguments, message):
    search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=2"]).run()
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.sweeper.n_trials=4"])
    launcher = StandIn()
    with pytest.raises(UserError, match=f"study sweep in .* has 2 trial\\(s\\) already, and {message}.*; a continued "
                                        "study keeps its space: give another hydra.sweep.dir"):
        OptunaSearch(plan_sweep(cfg.hydra.sweeper, cfg, arguments, launcher), launcher, config=cfg)
    assert len(optuna.load_study(study_name="sweep", storage=f"sqlite:///{tmp_path}/sweep/optuna.db").trials) == 2


@pytest.mark.parametrize("given,said", [
    ("multiruns/2026-12-01/3", "multiruns/2026-12-01/3 is the run folder of trial 3 of a sweep; to continue a sweep, give "
                               "hydra.sweep.dir as the sweep's folder: {tmp}/multiruns/2026-12-01; for a new sweep, a "
                               "folder of its own"),
    ("multiruns", "multiruns holds 1 sweep folder(s), not a study of its own; to continue a sweep, give hydra.sweep.dir as "
                  "one of them (the latest by name first: {tmp}/multiruns/2026-12-01)"),
])
def test_a_sweep_folder_given_as_a_trials_folder_or_the_sweeps_folder_is_refused(compose_cfg, tmp_path, given, said):
    """hydra.sweep.dir=<sweep>/3 (a run_dir copied from trials.csv) to continue a sweep began a new study inside
    trial 3's run folder; hydra.sweep.dir=<multiruns> one among the sweeps, its trials' folders beside them."""
    finished_sweep(tmp_path / "multiruns" / "2026-12-01")
    (tmp_path / "multiruns" / "2026-12-01" / "3").mkdir()
    before = sorted((tmp_path / "multiruns").rglob("*"))
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / given}"])
    with pytest.raises(UserError) as refused:
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    assert str(refused.value).startswith(f"hydra.sweep.dir={tmp_path}/" + said.format(tmp=tmp_path)), refused.value
    assert sorted((tmp_path / "multiruns").rglob("*")) == before


def test_continuing_a_study_with_other_fixed_settings_is_said(compose_cfg, tmp_path, caplog):
    """A sweep of 1-epoch trials continued with 10 epochs (or another fixed width) ranked both kinds of trial as one
    study without a word; logger and thread settings, which change nothing learnt, are not compared."""
    def run(arguments: list[str], n_trials: int) -> None:
        cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", f"hydra.sweeper.n_trials={n_trials}",
                           *arguments])
        OptunaSearch(plan_sweep(cfg.hydra.sweeper, cfg, arguments, StandIn()), StandIn(), config=cfg).run()

    run(["trainer.max_epochs=1", "model.net.hidden_size=8", "logger=none"], 2)
    with caplog.at_level("WARNING", logger="trainlab.search.study"):
        run(["trainer.max_epochs=1", "model.net.hidden_size=8", "hardware.num_threads=1"], 3)  # the same learning
        assert "other fixed settings" not in caplog.text
        run(["trainer.max_epochs=10", "model.net.hidden_size=8", "seed=3"], 4)
    (said,) = [r.getMessage() for r in caplog.records if "other fixed settings" in r.getMessage()]
    assert said.startswith("study sweep is continued with other fixed settings than its earlier trials had (seed: "
                           "(not set) -> 3; trainer.max_epochs: 1 -> 10): all are ranked as one study"), said


def test_a_shared_studys_other_space_is_told_to_take_another_study_name(compose_cfg, tmp_path):
    """A study in a storage of its own (hydra.sweeper.storage, study_name given): another hydra.sweep.dir, which
    the refusal offered first, opens the same study and is refused again."""
    shared = [f"hydra.sweeper.storage=sqlite:///{tmp_path}/shared.db", "hydra.sweeper.study_name=lstm"]
    search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=2", *shared]).run()
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'other'}", "hydra.sweeper.n_trials=4", *shared])
    launcher = StandIn()
    with pytest.raises(UserError) as refused:
        OptunaSearch(plan_sweep(cfg.hydra.sweeper, cfg, ["model.net.dropout=interval(0.0,0.3)"], launcher), launcher,
                     config=cfg)
    assert str(refused.value).endswith("a continued study keeps its space: use another hydra.sweeper.study_name for a "
                                       "new study, or search as before"), refused.value


@pytest.mark.parametrize("low,high,refusal", [(32, 128, None), (16, 64, "model.net.hidden_size was searched over")])
def test_a_trial_drawing_its_parameters_in_another_process_is_no_other_space(compose_cfg, tmp_path, low, high,
                                                                             refusal):
    """Three processes sharing one new study (the SLURM-array pattern): one of them opened it while the
    first trial of another had drawn only its first parameter, and was refused with '... is searched
    here and was not there' (exit 2). A trial's parameters are written one by one; what it has drawn
    over another range is still another space."""
    (tmp_path / "sweep").mkdir()
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/sweep/optuna.db", study_name="sweep")
    drawing = study.ask()
    drawing.suggest_int("model.net.hidden_size", low, high, step=16)  # the seed space's first parameter
    if refusal:
        with pytest.raises(UserError, match=refusal):
            search_for(compose_cfg, tmp_path, [])
        return
    search = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=4"])
    assert len(search.plan.space) == 4 and list(search.plan.space)[0] == "model.net.hidden_size"
    assert search.study.trials[drawing.number].state == optuna.trial.TrialState.RUNNING  # left to its owner


@pytest.mark.parametrize("overrides,message", [
    (["optimized_metric=val/rmse"], "ranks its trials by val/loss, not val/rmse: their values would be compared with "
                                    "each other; continue it with optimized_metric=val/loss, or give another "
                                    "hydra.sweep.dir for a new study"),
    (["optimized_mode=max", "optimized_metric=val/r2"], "has direction ['minimize'], not ['maximize']; continue it with "
                                                        "its direction (optimized_mode as before), or give another "
                                                        "hydra.sweep.dir"),
])
def test_continuing_a_study_with_another_metric_or_direction_is_refused(compose_cfg, tmp_path, overrides, message):
    """Another metric was taken without a word (val/rmse values ranked against val/loss ones); another
    direction was told to use another study_name, which in the sweep folder's own file shares its
    trial folders."""
    search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=2"]).run()
    with pytest.raises(UserError, match=re.escape(message)):
        search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=3", *overrides])


def test_continuing_a_renamed_sweep_folder_names_the_study_it_holds(compose_cfg, tmp_path):
    """The study keeps the name of the folder it was made in; a new one beside it would reuse the run folders."""
    (tmp_path / "sweep").mkdir()
    optuna.create_study(storage=f"sqlite:///{tmp_path}/sweep/optuna.db", study_name="before")
    with pytest.raises(UserError, match="optuna.db holds the study before, not sweep .*was it renamed or copied\\?\\); "
                                        "continue it with hydra.sweeper.study_name=before"):
        search_for(compose_cfg, tmp_path, [])
    assert optuna.get_all_study_names(storage=f"sqlite:///{tmp_path}/sweep/optuna.db") == ["before"]
    assert search_for(compose_cfg, tmp_path, ["hydra.sweeper.study_name=before"]).study.study_name == "before"


# -- settings that are never silently ignored ---------------------------------------------------------------
@pytest.mark.parametrize("overrides,arguments,message", [
    (["hydra.sweeper.stage_trials=[2,2]"], [], "hydra.sweeper.stage_trials=[2, 2] without hydra.sweeper.stages"),
    (["hydra.sweeper.fix_top=2"], [], "hydra.sweeper.fix_top=2 without hydra.sweeper.fix_top_of"),
    (["hydra.sweeper.pick={within:0.01,then:1}"], [], "picks a trial of a Pareto front, but this search has one objective"),
    (["hydra/sweeper/sampler=grid", "hydra.sweeper.sampler.search_space={data.batch_size:[16,32]}"],
     ["optimizer.lr=0.001"], "hydra.sweeper.sampler.search_space lacks model.net.hidden_size, model.net.num_layers"),
    # a grid value off the space failed the sweep at its first trial with a traceback ('48' not in (16, 32, 64))
    (["hydra/sweeper/sampler=grid", "hydra.sweeper.sampler.search_space={data.batch_size:[16,48],optimizer.lr:[0.001]}"],
     ["optimizer.lr=choice(0.001,0.01)", "model.net.hidden_size=64", "model.net.num_layers=2"],
     "hydra.sweeper.sampler.search_space.data.batch_size: 48 is not one of its choices [16, 32, 64]"),
    (["hydra/sweeper/sampler=grid", "hydra.sweeper.sampler.search_space={data.batch_size:16,optimizer.lr:[0.001]}"],
     ["optimizer.lr=choice(0.001,0.01)", "model.net.hidden_size=64", "model.net.num_layers=2"],
     "hydra.sweeper.sampler.search_space.data.batch_size=16 must be a list of its values, e.g. [16, 32, 64]"),
    # an enqueued configuration Optuna would run as a sampled one, once for two, or with a flag for a number
    (["hydra.sweeper.enqueue=[{}]"], [], "hydra.sweeper.enqueue[0] is empty; give the values to run first"),
    (["hydra.sweeper.enqueue=[{optimizer.lr:0.0001},{data.batch_size:16},{optimizer.lr:0.0001}]"], [],
     "hydra.sweeper.enqueue[2] repeats hydra.sweeper.enqueue[0] ({'optimizer.lr': 0.0001}), which runs once; drop one"),
    (["hydra.sweeper.enqueue=[{model.net.num_layers:true}]"], [],
     "hydra.sweeper.enqueue[0].model.net.num_layers=True is true, not a number; its search range is 1..5"),
    (["hydra.sweeper.enqueue=[{model.net.dropout:true}]"], ["model.net.dropout=choice(0,1)"],
     "hydra.sweeper.enqueue[0].model.net.dropout=True is not one of its choices [0, 1]"),
    # no direction: Optuna's refusal came as the storage failing to open the study
    (["hydra.sweeper.direction=[]"], [], "hydra.sweeper.direction=[] names no direction; give minimize or maximize"),
])
def test_a_setting_that_would_be_ignored_is_refused(compose_cfg, tmp_path, overrides, arguments, message):
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, arguments, StandIn())
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("override,key,value", [
    ("hydra.sweeper.pick={within:0.01,then:1}", "pick", {"within": 0.01, "then": 1}),
    ("hydra.sweeper.search_space={optimizer.lr:{type:float,low:1e-4,high:1e-2}}", "search_space",
     {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}),
    ("hydra.sweeper.sampler.search_space={data.batch_size:[16,32]}", "sampler.search_space", {"data.batch_size": [16, 32]}),
])
def test_a_mapping_sweeper_key_can_be_set_on_the_command_line(compose_cfg, override, key, value):
    """They default to null; typed Optional[Dict], OmegaConf failed merging a mapping into them (AttributeError)."""
    cfg = compose_cfg(["hparams_search=optuna", *(["hydra/sweeper/sampler=grid"] if "sampler." in key else []), override])
    assert OmegaConf.to_container(OmegaConf.select(cfg.hydra.sweeper, key)) == value


@pytest.mark.parametrize("pick,message", [
    ("{within:0.01,then:5}", "hydra.sweeper.pick.then=5: the study has objectives 0..1; give the one to take the best of"),
    ("{within:-1,then:1}", "hydra.sweeper.pick.within=-1 must be a fraction of 0 or more"),
    ("{within:0.01,then:0.5}", "hydra.sweeper.pick.then=0.5: the study has objectives 0..1"),
])
def test_a_pick_rule_that_cannot_pick_is_refused_before_the_first_trial(compose_cfg, tmp_path, pick, message):
    """It was found when the results or the next stage picked, after every trial had run."""
    cfg = compose_cfg([*SEED_SPACE, "hparams_search=optuna_two_objectives", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                       f"hydra.sweeper.pick={pick}"])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())


@pytest.mark.parametrize("overrides,message", [
    (["hydra.sweeper.direction=[minimize,minimize]"],
     "hydra.sweeper.direction has 2 entries, but train.py returns one value (optimized_metric=val/loss)"),
    (["hparams_search=optuna_two_objectives", "hydra.sweeper.objectives=[objective,energy_joules]"],
     "hydra.sweeper.objectives names energy_joules, which is measured on NVIDIA GPUs only, and hardware=cpu"),
])
def test_objectives_the_jobs_cannot_give_are_refused_before_the_first_trial(compose_cfg, tmp_path, overrides, message):
    """Each failed every trial ('the job returned 1 value(s) for 2 direction(s)', 'recorded no energy_joules')."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())


@pytest.mark.parametrize("overrides,message", [
    # the first objective is optimized_metric: a maximised one was minimised without a word
    (["hparams_search=optuna_two_objectives", "optimized_mode=max", "hydra.sweeper.direction=[minimize,minimize]"],
     "hydra.sweeper.direction=['minimize', 'minimize'] judges the first objective, val/loss, by minimize, which "
     "contradicts optimized_mode=max (checkpoints and early stopping keep the highest val/loss); give "
     "hydra.sweeper.direction=[maximize,minimize]"),
    (["hparams_search=optuna_two_objectives", "hydra.sweeper.direction=[minimize,maximize]"],
     "hydra.sweeper.direction maximizes fit_seconds, a cost of the trial; give minimize for it"),
    (["hparams_search=optuna_two_objectives", "hydra.sweeper.direction=[minimize,minimize,minimize]",
      "hydra.sweeper.objectives=[objective,fit_seconds,fit_seconds]"], "names fit_seconds twice; name each objective once"),
])
def test_directions_that_judge_an_objective_the_wrong_way_are_refused(compose_cfg, tmp_path, overrides, message):
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())


def test_the_two_objective_search_file_follows_optimized_mode(compose_cfg, tmp_path):
    cfg = compose_cfg([*SEED_SPACE, "hparams_search=optuna_two_objectives", "optimized_metric=val/r2",
                       "optimized_mode=max", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    assert plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn()).directions == ["maximize", "minimize"]


def test_stage_two_from_a_two_objective_sweep_ranks_by_its_first_objective(compose_cfg, tmp_path, monkeypatch):
    """Its importances need one target; without it they were empty and the message blamed 'too few trials'."""
    from trainlab.search import importance
    from trainlab.search.stages import top_fixed

    # how many trials ranking takes is test_search_advice's; 20 trials here (5 a parameter) took 15 s
    monkeypatch.setattr(importance, "TRIALS_PER_PARAMETER", 2)
    monkeypatch.setattr(importance, "MIN_TRIALS_FOR_IMPORTANCE", 8)
    search = search_for(compose_cfg, tmp_path, ["hparams_search=optuna_two_objectives", "hydra.sweeper.n_trials=8"],
                        StandIn(facts={"fit_seconds": 10.0}))
    search.run()
    fixed, rest, found, trials = top_fixed(tmp_path / "sweep", 1)
    assert len(fixed) == 1 and len(found) == 4 and trials == 8 and set(fixed) | set(rest) == set(found)


@pytest.mark.parametrize("override,message", [
    ("hydra.sweeper.sampler=tpe", "hydra.sweeper.sampler=tpe sets the key to a name; choose the sampler as a config "
                                  "group, with slashes: hydra/sweeper/sampler=tpe"),  # it said 'sampler is not set'
    ("hydra.sweeper.pruner=median", "choose the pruner as a config group, with slashes: hydra/sweeper/pruner=median"),
])
def test_a_sampler_or_pruner_named_through_its_key_points_to_the_group(compose_cfg, tmp_path, override, message):
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", override])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())


def test_a_pruner_that_can_never_prune_is_said(compose_cfg, tmp_path, caplog):
    """trainer.max_epochs=2 with the median pruner's 3 warm-up epochs, or 4 trials with its 5 start-up
    trials: the pruner asked for never stops a trial."""
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        search_for(compose_cfg, tmp_path, ["hydra/sweeper/pruner=median", "trainer.max_epochs=2",
                                           "hydra.sweeper.n_trials=4"])
    assert ("MedianPruner never prunes here: hydra.sweeper.pruner.n_warmup_steps=3 is not below the 2 validation "
            "check(s) a trial makes") in caplog.text
    assert "hydra.sweeper.pruner.n_startup_trials=5 trials run unpruned, and the sweep has 4" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        search_for(compose_cfg, tmp_path / "seed", ["hydra/sweeper/pruner=median"])  # 10 epochs, 20 trials
    assert "never prunes" not in caplog.text


def test_a_space_emptied_by_the_command_line_names_what_fixed_it(compose_cfg, tmp_path):
    """Each searched key fixed on the command line (to search one of them, one fixes the rest, and that one too):
    'the search space is empty: give hydra.sweeper.params ...', which the search file gives, and no word of the
    command line's values that emptied it."""
    fixed = ["model.net.hidden_size=8", "model.net.num_layers=2", "optimizer.lr=0.01", "data.batch_size=32"]
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *fixed])
    with pytest.raises(UserError) as refused:
        plan_sweep(cfg.hydra.sweeper, cfg, fixed, StandIn())
    assert str(refused.value) == ("the search space is empty: the command line fixes every parameter the search file "
                                  f"searches ({' '.join(fixed)}), so nothing is left to search; leave out the ones to "
                                  "search (without data.batch_size=32, data.batch_size is searched over "
                                  "choice(16, 32, 64))")
    assert not (tmp_path / "sweep").exists()


def resolved_as_hydra_does(cfg: Any) -> dict[str, Any]:
    """``hydra.sweeper`` as the sweeper receives it: Hydra resolves its interpolations before the sweep starts."""
    return OmegaConf.to_container(cfg.hydra.sweeper, resolve=True)


def test_the_epochs_shortcut_reaches_the_pruner_and_its_checks(compose_cfg, tmp_path, caplog):
    """epochs=N (trainer.max_epochs=N) applied in each trial only: under epochs=2 Hyperband's max_resource
    (${trainer.max_epochs}) stayed the search file's 10, epochs=1 hid the median pruner's idle warm-up, and
    epochs=1 with trainer.max_epochs=3 failed every trial on the contradiction."""
    cfg = compose_cfg(["hparams_search=optuna_hyperband", "epochs=2", f"hydra.sweep.dir={tmp_path / 'hb'}"])
    assert plan_sweep(resolved_as_hydra_does(cfg), cfg, ["epochs=2"], StandIn()).pruner["max_resource"] == 2
    cfg = compose_cfg(["hparams_search=optuna", "epochs=1", f"hydra.sweep.dir={tmp_path / 'median'}"])
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        plan_sweep(resolved_as_hydra_does(cfg), cfg, ["epochs=1"], StandIn())
    assert "n_warmup_steps=3 is not below the 1 validation check(s) a trial makes (trainer.max_epochs=1)" in caplog.text
    both = ["epochs=1", "trainer.max_epochs=3"]
    cfg = compose_cfg(["hparams_search=optuna", *both, f"hydra.sweep.dir={tmp_path / 'both'}"])
    with pytest.raises(UserError, match=re.escape("epochs=1 and trainer.max_epochs=3 contradict each other")):
        plan_sweep(resolved_as_hydra_does(cfg), cfg, both, StandIn())


@pytest.mark.parametrize("trials,message", [
    ("[2,2]", "MedianPruner never prunes here: hydra.sweeper.pruner.n_startup_trials=3 trials run unpruned in each "
              "stage (a study of its own), and hydra.sweeper.stage_trials=[2, 2]; lower n_startup_trials or raise "
              "those stages' trials"),
    ("[6,2]", "MedianPruner never prunes in stage 2: "),
    ("[6,6]", None),
])
def test_a_staged_searchs_pruner_is_judged_by_its_stages_trials(compose_cfg, tmp_path, caplog, trials, message):
    """Each stage is a study of its own, with its own start-up trials: 3 of them never pruned a stage of 2
    trials, and the warning compared them with the 4 of the whole sweep (none), or said 'the sweep has 4'."""
    cfg = compose_cfg(["hparams_search=staged", "hydra/sweeper/pruner=median", f"hydra.sweeper.stage_trials={trials}",
                       "hydra.sweeper.pruner.n_startup_trials=3", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    with caplog.at_level("WARNING", logger="trainlab.search.plan"):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    told = [r.getMessage() for r in caplog.records if "never prunes" in r.getMessage()]
    assert told == [] if message is None else len(told) == 1 and told[0].startswith(message), told


@pytest.mark.parametrize("overrides,message", [
    (["trainer.max_epochs=-1"], "hydra.sweeper.pruner.max_resource=-1 (trainer.max_epochs=-1) must be a whole number of "
                                "at least min_resource=1"),
    (["hydra.sweeper.pruner.min_resource=5", "trainer.max_epochs=2"], "max_resource=2 (trainer.max_epochs=2) must be a "
     "whole number of at least min_resource=5: Hyperband's brackets span min_resource..max_resource checks; give the "
     "checks a trial makes (hydra.sweeper.pruner.max_resource=<epochs>), or auto"),
    (["hydra.sweeper.pruner.reduction_factor=1"], "hydra.sweeper.pruner.reduction_factor=1 must be a whole number of 2 "
                                                  "or more"),
    (["hydra.sweeper.pruner.min_resource=0"], "hydra.sweeper.pruner.min_resource=0 must be a whole number of 1 or more"),
])
def test_hyperband_settings_that_contradict_it_are_refused_before_the_first_trial(compose_cfg, tmp_path, overrides,
                                                                                  message):
    """Optuna checks them in a trial's first report: every trial failed (math domain error, division by
    zero), or, with max_resource below min_resource, no trial was ever pruned."""
    cfg = compose_cfg(["hparams_search=optuna_hyperband", f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("override,message", [
    ("hydra.sweeper.sampler.n_ei_candidates=0", "hydra.sweeper.sampler.n_ei_candidates=0 must be a whole number of 1 or more"),
    ("hydra.sweeper.sampler.n_startup_trials=-5", "hydra.sweeper.sampler.n_startup_trials=-5 must be a whole number of 0"),
])
def test_sampler_arguments_optuna_takes_unchecked_are_refused_before_the_first_trial(compose_cfg, tmp_path, override,
                                                                                     message):
    """TPE with n_ei_candidates=0 failed the sweep at its 11th trial, the first model-based draw, with a traceback."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", override])
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn())
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("overrides,arguments,message", [
    (["model=gnn"], [], "model=gnn is a graph model, but data=synthetic is timeseries data; use data=catalogue or "
                        "data=gaia, or a timeseries model: model=cnn, model=lstm, model=lstm_attention, model=tcn (each trial"),
    (["model=unet"], [], "model=unet is an image model, but data=synthetic is timeseries data"),
    ([], ["data=synthetic,catalogue"], "model=lstm is a timeseries model, but data=catalogue is graph data; use "
                                       "data=elnino"),
    ([], ["data=synthetic,catalogue"], "; or drop catalogue from the sweep's data choices"),
    (["model=gnn", "data=catalogue"], ["model=gnn,unet"], "model=unet is an image model, but data=catalogue is graph"),
])
def test_a_model_and_data_of_different_families_are_refused_before_the_first_trial(compose_cfg, tmp_path, overrides,
                                                                                    arguments, message):
    """train.py's own check, for every pair the sweep can give: each trial failed on it, one by one."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    launcher = StandIn()
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, arguments, launcher)
    assert not launcher.jobs and not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("overrides,arguments,message", [
    # a searched experiment: the composed config has none of its choices; they passed unchecked
    ([], ["experiment=gaia_fast,lstm_seed", "model=lstm"],
     "model=lstm is a timeseries model, but data=gaia is graph data; use data=elnino or data=file or data=packaged "
     "or data=synthetic, or a graph model: model=gnn (data=gaia chosen by experiment=gaia_fast); or drop gaia_fast "
     "from the sweep's experiment choices (each trial"),
    ([], ["experiment=choice(lstm_seed,gaia_fast)", "data=synthetic"],
     "model=gnn is a graph model, but data=synthetic is timeseries data; use data=catalogue or data=gaia, or a "
     "timeseries model: model=cnn, model=lstm, model=lstm_attention, model=tcn (model=gnn chosen by experiment=gaia_fast); "
     "or drop gaia_fast from the sweep's experiment choices"),
    (["experiment=gaia_fast", "data=synthetic"], ["data=synthetic"], "(model=gnn chosen by experiment=gaia_fast) (each"),
])
def test_what_an_experiment_chooses_is_checked_against_the_command_line(compose_cfg, tmp_path, overrides, arguments,
                                                                         message):
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])
    launcher = StandIn()
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, arguments, launcher)
    assert not launcher.jobs and not (tmp_path / "sweep").exists()


def test_experiment_options_reads_an_experiments_group_choices():
    from trainlab.config.families import experiment_options

    assert experiment_options("gaia_fast") == {"model": "gnn", "data": "gaia"}
    assert experiment_options("unet_anomaly") == {"model": "unet", "data": "sky", "scheduler": "plateau"}
    assert experiment_options("no_such_experiment") == {}


def test_a_sweep_whose_choices_all_fit_the_data_plans(compose_cfg, tmp_path):
    """model=lstm,cnn planned here before: each cnn trial then failed on the LSTM's keys (see below)."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    plan = plan_sweep(cfg.hydra.sweeper, cfg, ["model=lstm,lstm_attention", "data=synthetic,elnino"], StandIn())
    assert set(plan.space) >= {"model", "data"}


# -- a searched model or experiment: one space for every trial -------------------------------------------------
@pytest.mark.parametrize("arguments,message", [
    (["model=lstm,cnn"], "the searched key model.net.hidden_size is not a key of model=cnn, one of the sweep's choices "
                         "model=lstm,cnn: the search space is model=lstm's (conf/hparams_search/space/lstm.yaml), one "
                         "for every trial, so each model=cnn trial would fail on it; sweep one model at a time "
                         "(-m hparams_search=optuna model=cnn searches its model's own space), or search only the keys "
                         "every choice has: hydra.sweeper.params=null 'model.net.num_layers=range(1, 6)' "
                         "'optimizer.lr=tag(log, interval(1e-5, 1e-3))' 'data.batch_size=choice(16, 32, 64)'"),
    (["model=choice(lstm,cnn)", "data=synthetic,elnino"], "model.net.hidden_size is not a key of model=cnn"),
    (["experiment=gaia_fast,unet_anomaly"], "model.net.hidden_size is not a key of experiment=gaia_fast, one of the "
                                            "sweep's choices experiment=gaia_fast,unet_anomaly"),
    (["model=lstm,lstm_attention", "model.net.attention=additive"],
     "model.net.attention=additive (fixed on the command line) is not a key of model=lstm, one of the sweep's choices "
     "model=lstm,lstm_attention, so each model=lstm trial would fail on it; sweep the model choices that have it"),
])
def test_a_key_that_one_searched_model_lacks_is_refused_before_the_first_trial(compose_cfg, tmp_path, arguments,
                                                                               message):
    """Trials of the other model failed one by one: "Could not override 'model.net.hidden_size'"."""
    cfg = compose_cfg([*SEED_SPACE, f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    launcher = StandIn()
    with pytest.raises(UserError, match=re.escape(message)):
        plan_sweep(cfg.hydra.sweeper, cfg, arguments, launcher)
    assert not launcher.jobs and not (tmp_path / "sweep").exists()


def test_each_searched_model_is_composed_with_the_command_lines_groups(compose_cfg, tmp_path):
    """The command line's group choices (data=elnino, the search file) hold for every model choice."""
    cfg = compose_cfg([*SEED_SPACE, "model=lstm_attention", "data=elnino", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    with pytest.raises(UserError, match="model.net.attention is not a key of model=lstm"):
        plan_sweep(cfg.hydra.sweeper, cfg, ["model=lstm_attention,lstm"], StandIn())


# -- sweeps of an earlier version ------------------------------------------------------------------------
def test_a_two_objective_sweep_that_an_earlier_version_minimised_against_optimized_mode_max(compose_cfg, tmp_path, caplog):
    """trainlab before 8e46706 minimised the first objective of hparams_search=optuna_two_objectives whatever
    optimized_mode said: such a sweep of val/r2 (optimized_mode=max) listed, refined and staged its front of the
    worst r2 without a word, and continuing it was told to keep 'its direction (optimized_mode as before)',
    which it had. Its front is read toward the most now, with a warning; continuing it says what happened and
    what to do (a warm start, which is accepted)."""
    from trainlab.search.sweep_folder import METRIC, load_sweep_study
    from trainlab.search.trials import best_trials

    folder = tmp_path / "sweep"
    folder.mkdir()
    study = optuna.create_study(storage=f"sqlite:///{folder}/optuna.db", study_name="sweep",
                                directions=["minimize", "minimize"])  # as the earlier version made it
    study.set_user_attr(METRIC, "val/r2")
    dist = {"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    for i, values in enumerate([(0.60, 1.0), (0.70, 2.0), (0.65, 0.5)]):  # (val/r2, fit_seconds)
        study.add_trial(create_trial(params={"optimizer.lr": 1e-3 * (1 + i)}, distributions=dist, values=list(values)))
    (folder / "multirun.yaml").write_text("optimized_metric: val/r2\noptimized_mode: max\n")
    with caplog.at_level("WARNING", logger="trainlab.search.sweep_folder"):
        assert sorted(t.number for t in best_trials(load_sweep_study(folder))) == [1, 2]  # was [0, 2]
    assert "its study was searched toward the least val/r2, though it ran with optimized_mode=max" in caplog.text
    continued = ["hparams_search=optuna_two_objectives", "hydra/sweeper/pruner=nop", "optimized_mode=max",
                 "optimized_metric=val/r2", f"hydra.sweep.dir={folder}"]
    cfg = compose_cfg(continued)
    with pytest.raises(UserError, match=re.escape(f"and a study keeps its directions; to search on toward the most, warm "
                                                  f"start a new sweep from it: hydra.sweeper.warm_start={folder} with "
                                                  "another hydra.sweep.dir")):
        OptunaSearch(plan_sweep(cfg.hydra.sweeper, cfg, [], StandIn()), StandIn(), config=cfg)
    (folder / "multirun.yaml").write_text("optimized_metric: val/r2\noptimized_mode: min\n")  # a sweep that meant it
    assert sorted(t.number for t in best_trials(load_sweep_study(folder))) == [0, 2]


def test_a_continued_staged_search_checks_every_stages_study_before_the_first_trial(compose_cfg, tmp_path, capsys):
    """Stage 2's study searched another range: a continued staged search was refused when stage 2 began,
    after stage 1's new trials had run (seen with train.py -m, stage_trials [1,1] then [2,1] with stage 2's
    lr range changed: stage 1 ran trial 1 first)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from trainlab.search.sweep_folder import load_sweep_study

    def staged(trials: str) -> None:
        run_staged(compose_cfg, tmp_path / "sweep", launcher, trials)

    launcher = StandIn()
    staged("[2,1]")
    assert len(launcher.jobs) == 3
    stage2 = load_sweep_study(tmp_path / "sweep" / "2_optimisation")
    stage2.add_trial(create_trial(  # a trial of that study searched over another lr range
        params={"optimizer.lr": 0.001, "data.batch_size": 32}, value=1.0,
        distributions={"optimizer.lr": FloatDistribution(0.0002, 0.01, log=True),
                       "data.batch_size": CategoricalDistribution([16, 32, 64])}))
    with pytest.raises(SystemExit):
        staged("[3,1]")
    err = capsys.readouterr().err
    assert "optimizer.lr was searched over" in err and "a continued study keeps its space" in err, err
    assert len(launcher.jobs) == 3  # stage 1 ran no trial more


@pytest.mark.parametrize("key,states,then", [
    ("fix_top_of", [TrialState.PRUNED] * 3, "no trial completed, so there is no best (3 pruned); every trial was pruned"),
    ("fix_top_of", [TrialState.FAIL], "no trial completed, so there is no best (1 failed)"),
    ("warm_start", [TrialState.FAIL], "its study has no finished trial (complete or pruned) to start from (1 fail)"),
    ("warm_start", [TrialState.PRUNED], "optimizer.lr was searched over 0.0001..0.01"),  # pruned trials are taken
])
def test_an_earlier_sweep_that_cannot_be_used_is_refused_naming_the_folder_as_typed(compose_cfg, tmp_path, monkeypatch,
                                                                                    key, states, then):
    """hydra.sweeper.fix_top_of=<a sweep whose every trial was pruned or failed> was refused as 'study <its name>: no
    trial completed ...', and warm_start named the folder resolved, a path the user never typed: both now name the key
    and the folder as given (a relative one stays relative)."""
    sweep_of(tmp_path / "earlier", states)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        search_for(compose_cfg, tmp_path / "new", [f"hydra.sweeper.{key}=earlier"])
    assert str(refused.value).startswith(f"hydra.sweeper.{key}=earlier: {then}"), str(refused.value)
    assert not (tmp_path / "new" / "sweep").exists()


def test_refine_and_stage2_of_a_sweep_of_a_users_own_search_file_find_it_and_keep_its_settings(tmp_path, monkeypatch):
    """A sweep run with --config-dir ~/myconf -m hparams_search=mysearch (README, Your own configs): make stage2 ran
    train.py without --config-dir, which refused hparams_search=mysearch (not an option), and make refine retrained
    without what mysearch set outside hydra (optimized_metric: val/rmse, a fixed model.net.dropout): another metric
    picked its checkpoint, another model was trained, unsaid."""
    from trainlab.search import refine
    from trainlab.search.stages import stage2_command

    mine = tmp_path / "myconf"
    (mine / "hparams_search").mkdir(parents=True)
    (mine / "hparams_search" / "mysearch.yaml").write_text(
        "# @package _global_\ndefaults:\n  - optuna\n  - _self_\noptimized_metric: val/rmse\n"
        "model:\n  net:\n    dropout: 0.2\nhydra:\n  sweeper:\n    n_trials: 3\n")
    sweep = tmp_path / "sweep"
    run_dir = sweep / "0"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(
        ["hparams_search=mysearch", "optimizer.lr=0.001", "optuna_trial={storage:x}"]))
    (run_dir / ".hydra" / "config.yaml").write_text(
        "optimized_metric: val/rmse\noptimized_mode: min\nmodel:\n  net:\n    dropout: 0.2\ntrainer:\n  max_epochs: 10\n")
    study = optuna.create_study(storage=f"sqlite:///{sweep}/optuna.db", study_name="sweep")
    study.add_trial(create_trial(params={}, distributions={}, value=1.0, user_attrs={"run_dir": "0"}))
    sources = [{"path": "hydra.conf", "schema": "pkg", "provider": "hydra"},
               {"path": str(repo_root() / "conf"), "schema": "file", "provider": "main"},
               {"path": str(mine), "schema": "file", "provider": "command-line"}]
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {
        "overrides": {"hydra": [f"hydra.sweep.dir={sweep}"], "task": ["hparams_search=mysearch"]},
        "runtime": {"config_sources": sources}, "job": {"config_name": "train"}}}))
    calls = []
    monkeypatch.setattr(refine, "call_train", lambda command: calls.append(command) or 0)
    assert refine.main([str(sweep), "--epochs", "5"]) == 0
    assert calls[0][2:4] == ["--config-dir", str(mine)]
    assert {"optimized_metric=val/rmse", "model.net.dropout=0.2", "trainer.max_epochs=5"} <= set(calls[0])
    assert not [o for o in calls[0] if o.startswith(("hparams_search", "optuna_trial", "trainer.max_epochs=10"))]
    command = stage2_command(sweep, 1, [], repo_root())
    assert command[2:5] == ["--config-dir", str(mine), "-m"] and "hparams_search=mysearch" in command


@pytest.mark.parametrize("searched,top,message", [
    # 'the sweep searched 1 parameters; fix 1..0 of them': no TOP works, and the line named none that would
    (1, 1, "{sweep} searched one parameter (optimizer.lr): stage 2 fixes some of a sweep's parameters and searches the "
           "rest, so there is nothing left to search; retrain its best with make refine SWEEP={sweep}"),
    (2, 3, "TOP=3: the sweep searched 2 parameters (")])
def test_stage2_with_top_as_large_as_the_sweeps_parameters_names_what_works(tmp_path, monkeypatch, capsys, searched,
                                                                           top, message):
    from trainlab.search import refine, stages

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    study = optuna.create_study(storage=f"sqlite:///{sweep}/optuna.db", study_name="sweep")
    dist = {"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
            "model.net.num_layers": optuna.distributions.IntDistribution(1, 5)}
    for i in range(12):
        params = {"optimizer.lr": 1e-4 * 1.4 ** i, "model.net.num_layers": 1 + i % 5}
        study.add_trial(create_trial(params=dict(list(params.items())[:searched]),
                                     distributions=dict(list(dist.items())[:searched]), value=(i - 5) ** 2 + 0.1 * (i % 5)))
    monkeypatch.setattr(refine, "call_train", lambda command: pytest.fail(f"launched {command}"))
    with pytest.raises(SystemExit) as exited:
        stages.main([str(sweep), "--top", str(top)])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: " + message.format(sweep=sweep))
    if searched == 2:
        assert line.endswith("and stage 2 searches at least one; fix 1 of them (TOP=1)")


def test_continuing_a_study_whose_search_file_was_edited_is_said(compose_cfg, tmp_path, caplog):
    """A search file of one's own edited between two runs of its sweep (trainer.max_epochs: 2 -> 3, a fixed
    model.net.dropout added) ranked trials of both kinds as one study without a word: only the command line's
    fixed settings were compared."""
    mine = tmp_path / "myconf" / "hparams_search"
    mine.mkdir(parents=True)

    def run(settings: str, n_trials: int) -> None:
        (mine / "mysearch.yaml").write_text("# @package _global_\ndefaults:\n  - optuna\n  - _self_\n" + settings)
        arguments = ["hparams_search=mysearch", "hydra/sweeper/pruner=nop", f"hydra.sweeper.n_trials={n_trials}"]
        cfg = compose_cfg([*arguments, f"hydra.searchpath=[file://{tmp_path / 'myconf'}]",
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"])
        OptunaSearch(plan_sweep(cfg.hydra.sweeper, cfg, arguments, StandIn()), StandIn(), config=cfg).run()

    run("trainer:\n  max_epochs: 2\n", 2)
    with caplog.at_level("WARNING", logger="trainlab.search.study"):
        run("trainer:\n  max_epochs: 2\n", 3)  # the same file
        assert "other fixed settings" not in caplog.text
        run("trainer:\n  max_epochs: 3\n  gradient_clip_val: 0.5\n", 4)
        # a list it sets (AssertionError in Hydra's grammar, a traceback before the first trial)
        run("trainer:\n  max_epochs: 3\n  gradient_clip_val: 0.5\ntags: [a, b c]\n", 5)
    (said, *_) = [r.getMessage() for r in caplog.records if "other fixed settings" in r.getMessage()]
    assert ("(trainer.gradient_clip_val: (not set) -> 0.5; trainer.max_epochs: 2 -> 3): all are ranked as one "
            "study") in said, said
    assert "(tags: (not set) -> [a,b\\ c]; trainer.gradient_clip_val" in caplog.records[-1].getMessage()


def test_a_search_files_setting_that_the_model_config_sets_again_is_said(compose_cfg, tmp_path, caplog):
    """hparams_search comes before model in train.yaml's defaults: a search file's model.net.dropout: 0.2 was
    overridden by conf/model/lstm.yaml's 0.1 in every trial, unread and unsaid."""
    mine = tmp_path / "myconf" / "hparams_search"
    mine.mkdir(parents=True)
    (mine / "mysearch.yaml").write_text("# @package _global_\ndefaults:\n  - optuna\n  - _self_\n"
                                        "model:\n  net:\n    dropout: 0.2\ntrainer:\n  max_epochs: 3\n")
    cfg = compose_cfg(["hparams_search=mysearch", f"hydra.searchpath=[file://{tmp_path / 'myconf'}]",
                       f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    with caplog.at_level("WARNING", logger="trainlab.search.study"):
        plan = plan_sweep(cfg.hydra.sweeper, cfg, ["hparams_search=mysearch"], StandIn())
    (said,) = [r.getMessage() for r in caplog.records if "read after the search file" in r.getMessage()]
    assert said.startswith("hparams_search=mysearch sets model.net.dropout: 0.2, but the model's config (model=lstm), "
                           "read after the search file, sets it again, so every trial runs with 0.1; to run the "
                           "trials with 0.2, give model.net.dropout=0.2 on the command line"), said
    assert plan.search_file["trainer.max_epochs"] == "3"  # what the file sets and the trials run with: not said


def test_refine_and_stage2_find_a_sweeps_relative_data_path_from_another_folder(tmp_path, monkeypatch):
    """A sweep run in ~/data with data.source.path=series.csv, refined with make refine (which runs in the
    repository): train.py looked for series.csv in the repository and stopped (no such file); so did make stage2."""
    from trainlab.search import refine
    from trainlab.search.stages import stage2_command

    home, sweep = tmp_path / "data_home", tmp_path / "data_home" / "sweeps" / "s"
    (sweep / "0" / ".hydra").mkdir(parents=True)
    typed = ["data=file", "data.source.path=series.csv", "+data.source.target_path=t/y.csv", "paths.log_dir=out",
             f"data.baseline_cache={tmp_path}/cache"]
    (sweep / "0" / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([*typed, "optimizer.lr=0.001"]))
    study = optuna.create_study(storage=f"sqlite:///{sweep}/optuna.db", study_name="s")
    study.add_trial(create_trial(params={}, distributions={}, value=1.0, user_attrs={"run_dir": "0"}))
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {
        "overrides": {"hydra": [], "task": ["hparams_search=optuna", *typed]}, "runtime": {"cwd": str(home)}}}))
    anchored = [f"data.source.path={home}/series.csv", f"+data.source.target_path={home}/t/y.csv",
                f"data.baseline_cache={tmp_path}/cache"]  # paths.log_dir: beside the sweep (test_search_folders)
    monkeypatch.chdir(tmp_path)  # not where the sweep ran
    calls = []
    monkeypatch.setattr(refine, "call_train", lambda command: calls.append(command) or 0)
    assert refine.main([str(sweep), "--epochs", "2"]) == 0
    assert set(anchored) <= set(calls[0]) and "data.source.path=series.csv" not in calls[0]
    assert [o for o in calls[0] if o.startswith("paths.log_dir=")] == [f"paths.log_dir={home}/sweeps"]
    assert set(anchored) <= set(stage2_command(sweep, 1, [], repo_root()))
    monkeypatch.chdir(home)  # where it ran: the paths as typed
    assert "data.source.path=series.csv" in stage2_command(sweep, 1, [], repo_root())


class StopsAt(StandIn):
    """Ctrl-C during job ``at`` (0-based)."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        if len(self.jobs) == self.at:
            from trainlab.search import sweep as sweep_module

            sweep_module._signals_seen.append("Ctrl-C")
            raise KeyboardInterrupt
        return super().launch(jobs, initial_job_idx)


def test_an_interrupted_staged_search_names_its_own_folder_to_continue_and_refuses_a_stages(compose_cfg, tmp_path,
                                                                                           capsys):
    """Ctrl-C in stage 2 said 'continue ... hydra.sweep.dir=<sweep>/2_optimisation'; given that (or the other stage's
    folder), a new staged search began inside it (<sweep>/2_optimisation/1_architecture), the stopped one left as it
    was."""
    from trainlab.search import sweep as sweep_module

    sweep = tmp_path / "sweep"
    try:
        with pytest.raises(SystemExit):
            run_staged(compose_cfg, sweep, StopsAt(3), "[2,2]")
    finally:
        sweep_module._signals_seen.clear()
    said = capsys.readouterr().err
    assert said.rstrip().endswith(f"Continue the study with the same command plus hydra.sweep.dir={sweep}"), said
    for stage in ("1_architecture", "2_optimisation"):
        with pytest.raises(SystemExit):
            run_staged(compose_cfg, sweep / stage, StandIn(), "[2,2]")
        assert (f"error: hydra.sweep.dir={sweep / stage} holds one stage's study (optuna.db); a staged search is "
                f"continued from its own folder: hydra.sweep.dir={sweep}") in capsys.readouterr().err
        assert not (sweep / stage / "1_architecture").exists()
    run_staged(compose_cfg, sweep, StandIn(), "[2,2]")  # continued from its folder: stage 2's last trial
    assert len(yaml.safe_load((sweep / "stages.yaml").read_text())["stages"]) == 2
