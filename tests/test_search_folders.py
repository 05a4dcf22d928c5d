"""A sweep folder stores its paths relative to itself (STYLE.md: one owner per artefact): a tiny sweep
run in-process (test_search_plan's stand-in launcher, which writes each job's folder as Hydra would),
then moved, is analysed, refined, continued and fed to stage 2 from its new place; so is one written
before, whose files and study hold absolute paths."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra.core.utils import JobReturn

from tests.test_search_plan import SEED_SPACE, StandIn, search_for
from trainlab.search import sweep as sweep_module
from trainlab.search.analyze import report
from trainlab.search.refine import best_overrides
from trainlab.search.sweep_folder import load_sweep_study, run_dir_of, study_folder, sweep_storage
from trainlab.search.stages import stage2_command, top_fixed


class WritesJobFolders(StandIn):
    """As StandIn, and each job leaves its folder <sweep>/<trial number> with .hydra/overrides.yaml and
    a checkpoint, as train.py's jobs do."""

    def __init__(self, sweep_dir: Path):
        super().__init__()
        self.sweep_dir = sweep_dir

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        run = self.sweep_dir / str(initial_job_idx)
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(jobs[0]))
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.ckpt").write_bytes(b"")
        return super().launch(jobs, initial_job_idx)


def tiny_sweep(compose_cfg, tmp_path: Path, trials: int = 8, folder: Path | None = None) -> Path:
    sweep_dir = folder or tmp_path / "sweep"
    overrides = [f"hydra.sweeper.n_trials={trials}", *([f"hydra.sweep.dir={folder}"] if folder else [])]
    search_for(compose_cfg, tmp_path, overrides, WritesJobFolders(sweep_dir)).run()
    (sweep_dir / "multirun.yaml").write_text(yaml.safe_dump(
        {"hydra": {"overrides": {"hydra": [f"hydra.sweep.dir={sweep_dir}"], "task": SEED_SPACE}}}))
    return sweep_dir


def stored_run_dirs(sweep_dir: Path) -> tuple[list[str], list[str]]:
    with (sweep_dir / "trials.csv").open() as handle:
        from_csv = [row["run_dir"] for row in csv.DictReader(handle)]
    from_jsonl = [json.loads(line)["run_dir"] for line in (sweep_dir / "trials.jsonl").read_text().splitlines()]
    return from_csv, from_jsonl


def used_from_the_new_place(moved: Path, monkeypatch) -> None:
    """analyze, refine, stage 2 read the moved folder: the old one is gone. (Its 8 trials are let rank
    the 4 parameters: what is tested here is where the folder is read, not the ranking's gate.)"""
    from trainlab.search import importance

    monkeypatch.setattr(importance, "TRIALS_PER_PARAMETER", 2)
    monkeypatch.setattr(importance, "MIN_TRIALS_FOR_IMPORTANCE", 2)
    assert report(moved).startswith("study sweep: 8 trials")
    best = load_sweep_study(moved).best_trial
    assert run_dir_of(best, study_folder(sweep_storage(moved))) == moved / str(best.number)
    overrides = best_overrides(moved)
    assert f"model.net.num_layers={best.params['model.net.num_layers']}" in overrides
    assert not any(o.startswith(("optuna_trial", "+optuna_trial")) for o in overrides)
    fixed, _, found, trials = top_fixed(moved, 1)
    assert len(fixed) == 1 and trials == 8
    assert f"hydra.sweeper.fix_top_of={moved}" in stage2_command(moved, 1, [], Path("/repo"))


def test_a_moved_sweep_folder_is_analysed_refined_and_continued_from_its_new_place(compose_cfg, tmp_path,
                                                                                     monkeypatch):
    sweep_dir = tiny_sweep(compose_cfg, tmp_path)
    from_csv, from_jsonl = stored_run_dirs(sweep_dir)
    assert from_csv == from_jsonl == [str(n) for n in range(8)]  # they were absolute
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    best = results["best_trial"]
    assert results["best_run_dir"] == str(best) and results["best_checkpoint"] == f"{best}/checkpoints/last.ckpt"
    assert results["storage"] is None  # the folder's own optuna.db, as hydra.sweeper.storage=null says
    assert json.loads((sweep_dir / "optimization_results.json").read_text())["best_run_dir"] == str(best)
    study = load_sweep_study(sweep_dir)
    assert {t.user_attrs["run_dir"] for t in study.trials} == {str(n) for n in range(8)}

    moved = tmp_path / "elsewhere" / "sweep"
    moved.parent.mkdir()
    shutil.move(sweep_dir, moved)
    used_from_the_new_place(moved, monkeypatch)

    # continued in its new place: new trials' folders are recorded there too
    tiny_sweep(compose_cfg, tmp_path, trials=10, folder=moved)
    from_csv, _ = stored_run_dirs(moved)
    assert from_csv == [str(n) for n in range(10)]
    assert all((moved / run / ".hydra" / "overrides.yaml").is_file() for run in from_csv)


def test_a_sweep_folder_written_with_absolute_paths_is_read_after_a_move(compose_cfg, tmp_path, monkeypatch):
    """As the sweeper wrote them before: absolute run folders in the study, the study's absolute URL in
    optimization_results.yaml."""
    monkeypatch.setattr(sweep_module, "as_stored", lambda path, base: str(Path(path).absolute()))
    sweep_dir = tiny_sweep(compose_cfg, tmp_path)
    monkeypatch.undo()
    results_file = sweep_dir / "optimization_results.yaml"
    results = yaml.safe_load(results_file.read_text())
    results["storage"] = f"sqlite:///{sweep_dir}/optuna.db?timeout=60"
    results["best_run_dir"] = str(sweep_dir / str(results["best_trial"]))
    results_file.write_text(yaml.safe_dump(results))
    assert {t.user_attrs["run_dir"] for t in load_sweep_study(sweep_dir).trials} == {
        str(sweep_dir / str(n)) for n in range(8)}

    moved = tmp_path / "elsewhere" / "sweep"
    moved.parent.mkdir()
    shutil.copytree(sweep_dir, moved)
    shutil.rmtree(sweep_dir)
    used_from_the_new_place(moved, monkeypatch)
    tiny_sweep(compose_cfg, tmp_path, trials=9, folder=moved)  # continued: every folder written relative
    assert stored_run_dirs(moved)[0] == [str(n) for n in range(9)]
    assert yaml.safe_load((moved / "optimization_results.yaml").read_text())["storage"] is None


def test_a_copied_sweep_folder_reads_its_own_trials_not_the_originals(compose_cfg, tmp_path, monkeypatch):
    """An old copy whose files name the original's study and folders: it reads its own."""
    monkeypatch.setattr(sweep_module, "as_stored", lambda path, base: str(Path(path).absolute()))
    sweep_dir = tiny_sweep(compose_cfg, tmp_path)
    monkeypatch.undo()
    copy = tmp_path / "copy" / "sweep"
    shutil.copytree(sweep_dir, copy)
    best = load_sweep_study(copy).best_trial
    assert run_dir_of(best, study_folder(sweep_storage(copy))) == copy / str(best.number)
    assert sweep_storage(copy).startswith(f"sqlite:///{copy}/optuna.db")


def test_a_read_only_sweep_folder_is_analysed_and_says_nothing_was_saved(compose_cfg, tmp_path, monkeypatch, capsys):
    """A shared project's sweep (a read-only folder): the analysis wrote its plots there and ended in a
    'Read-only file system' traceback. Now it is printed with one warning; --out saves it elsewhere, and an --out
    that is a file or cannot be written is one line naming --out."""
    import os

    from trainlab.search import analyze

    sweep_dir = tiny_sweep(compose_cfg, tmp_path)
    before = sorted(p.name for p in sweep_dir.iterdir())
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == sweep_dir else real_access(path, mode))
    assert analyze.main([str(sweep_dir)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("study sweep: 8 trials") and "(not saved)" in out
    assert err == (f"warning: '{sweep_dir}' is not writable: analysis.txt and the plots were not saved; add --out "
                   "<folder> (make analyze ... OUT=<folder>) to save them there\n")
    assert sorted(p.name for p in sweep_dir.iterdir()) == before
    assert analyze.main([str(sweep_dir), "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "analysis.txt").read_text() == capsys.readouterr().out
    assert sorted(p.name for p in sweep_dir.iterdir()) == before
    # --out <a file>: a FileExistsError traceback, exit 1; --out <a folder this user may not write>: '... or write
    # elsewhere with paths.log_dir=<...>', a setting analyze does not have (faked: the suite may run as root)
    (tmp_path / "notes.txt").write_text("mine\n")
    for out in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "analysis"):
        with pytest.raises(SystemExit) as exited:
            analyze.main([str(sweep_dir), "--out", str(out)])
        assert exited.value.code == 2
        assert capsys.readouterr().err == (f"error: --out '{out}' is a file, or inside one; give a folder for "
                                           "analysis.txt and the plots (make analyze ... OUT=<folder>)\n")
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    shared, real_mkdir = tmp_path / "shared", Path.mkdir

    def refused(self, *args, **kwargs):
        if self == shared:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(SystemExit) as exited:
        analyze.main([str(sweep_dir), "--out", str(shared)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.startswith(f"error: permission denied: '{shared}'"), err
    assert err.endswith(", or save them elsewhere with --out <folder> (make analyze ... OUT=<folder>), and run it "
                        "again\n") and "paths.log_dir" not in err, err


def test_a_warm_started_sweep_keeps_the_earlier_sweeps_folders(compose_cfg, tmp_path):
    """Copied trials ran in the earlier folder: their run_dir stays there (absolute), not in this one."""
    earlier = tiny_sweep(compose_cfg, tmp_path, folder=tmp_path / "earlier")
    later = tmp_path / "later"
    search = search_for(compose_cfg, tmp_path, ["hydra.sweeper.n_trials=2", f"hydra.sweep.dir={later}",
                                                f"hydra.sweeper.warm_start={earlier}"], WritesJobFolders(later))
    search.run()
    rows: list[dict[str, Any]] = [json.loads(line) for line in (later / "trials.jsonl").read_text().splitlines()]
    copied = [r for r in rows if r["state"] == "COPIED"]
    assert len(copied) == 8 and all(r["run_dir"] == str(earlier / r["copied_from"].split("#")[1]) for r in copied)
    assert [r["run_dir"] for r in rows if r["state"] != "COPIED"] == ["8", "9"]


@pytest.mark.parametrize("url,file", [
    ("sqlite:////a/b/optuna.db?timeout=60", Path("/a/b/optuna.db")),
    ("sqlite:///rel/optuna.db", Path("rel/optuna.db")),
    ("journal:/shared/s.journal", Path("/shared/s.journal")),
    ("postgresql+psycopg2://me@host:5432/optuna", None),
])
def test_the_file_a_storage_keeps_its_study_in(url, file):
    from trainlab.search.shared import storage_file

    assert storage_file(url) == file


def test_an_optuna_study_with_its_storage_elsewhere_keeps_absolute_run_folders(tmp_path):
    """A study file outside the sweep folder (a shared study): run folders there are stored absolute."""
    from trainlab.search.sweep_folder import as_stored

    assert as_stored(tmp_path / "sweep" / "3", tmp_path / "db") == str(tmp_path / "sweep" / "3")
    assert as_stored(tmp_path / "sweep" / "3", tmp_path) == "sweep/3"


def test_the_retrain_and_stage_2_of_a_sweep_made_outside_outputs_write_beside_it(compose_cfg, tmp_path, monkeypatch,
                                                                                   caplog):
    """make refine / make stage2 SWEEP=<a sweep made with hydra.sweep.dir=/tmp/x>: README said they write beside the
    sweep, and they wrote into the repository's outputs/ (nothing in the sweep's overrides named a place)."""
    from trainlab.run.root import repo_root
    from trainlab.search import refine
    from trainlab.search.space import as_override

    sweep_dir = tiny_sweep(compose_cfg, tmp_path, folder=tmp_path / "x")
    commands: list[list[str]] = []
    monkeypatch.setattr(refine, "call_train", lambda command: commands.append(command) or 0)
    with caplog.at_level("INFO", logger="trainlab.search.refine"):
        assert refine.main([str(sweep_dir), "--epochs", "1", "logger=none"]) == 0
    beside = as_override("paths.log_dir", str(tmp_path))
    assert beside in commands[0] and commands[0][-2:] == ["trainer.max_epochs=1", "logger=none"]
    assert f"{sweep_dir} lies outside {repo_root() / 'outputs'}: the retrained run goes beside it" in caplog.text
    assert beside in stage2_command(sweep_dir, 1, [], repo_root())
    # a place the user gives in ARGS is theirs alone (two paths.log_dir were refused as both)
    mine = ["paths.log_dir=/elsewhere"]
    assert not any(o.startswith("paths.log_dir=") for o in stage2_command(sweep_dir, 1, mine, repo_root())[:-1])
    # in the layout a sweep folder is made in, the folder it starts from; a staged search's stage, its sweep's
    layout = tmp_path / "scratch" / "train" / "multiruns" / "s1"
    (layout / "2_optimisation").mkdir(parents=True)
    (layout / "stages.yaml").write_text("stages: []\n")
    for folder in (layout, layout / "2_optimisation"):
        assert refine.beside(folder, [], [], repo_root(), "it") == [as_override("paths.log_dir", str(tmp_path / "scratch"))]
    # the repository's own outputs/: train.py's default, nothing added
    assert refine.beside(tmp_path / "repo" / "outputs" / "train" / "multiruns" / "s1", [], [], tmp_path / "repo", "it") == []


def test_the_retrain_and_stage_2_of_a_sweep_whose_trials_wrote_elsewhere_write_beside_it(compose_cfg, tmp_path):
    """A sweep made with hydra.sweep.dir=<x> paths.log_dir=<elsewhere> (its trials' records there): make refine and
    make stage2 took the trials' paths.log_dir and wrote there, away from the sweep they refine. They go beside the
    sweep now, as a sweep made outside outputs/ does; a place given in ARGS stays the user's."""
    from trainlab.run.root import repo_root
    from trainlab.search.refine import beside
    from trainlab.search.space import as_override

    sweep_dir = tiny_sweep(compose_cfg, tmp_path, folder=tmp_path / "x")
    elsewhere = as_override("paths.log_dir", str(tmp_path / "elsewhere"))
    (sweep_dir / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"sweep": {"dir": str(sweep_dir)}, "overrides": {
        "hydra": [f"hydra.sweep.dir={sweep_dir}"], "task": [*SEED_SPACE, elsewhere]}}}))
    here = as_override("paths.log_dir", str(tmp_path))
    command = stage2_command(sweep_dir, 1, [], repo_root())
    assert here in command and elsewhere not in command
    assert beside(sweep_dir, ["seed=1", elsewhere], [], repo_root(), "it") == ["seed=1", here]
    mine = ["paths.log_dir=/mine"]  # the user's own place
    assert beside(sweep_dir, ["seed=1", elsewhere], mine, repo_root(), "it") == ["seed=1", elsewhere]
    # paths.root_dir moves paths.log_dir too: a sweep that lies in the repository's outputs/ still gets its place
    inside = repo_root() / "outputs" / "train" / "multiruns" / "s1"
    assert beside(inside, ["paths.root_dir=/r"], [], repo_root(), "it") == [
        "paths.root_dir=/r", as_override("paths.log_dir", str(repo_root() / "outputs"))]


def test_the_retrain_and_stage_2_of_a_moved_sweep_write_beside_it_not_where_it_ran(compose_cfg, tmp_path, caplog):
    """A sweep copied from a cluster (run with paths.log_dir=<its scratch folder>): make refine retrained
    it into that folder, made anew on this machine, and stage 2 put its new sweep there too. Folders
    that held the sweep follow it, as many levels up; the data's path stays."""
    from trainlab.search.refine import follow_move
    from trainlab.search.space import as_override

    ran = tmp_path / "cluster scratch" / "outputs"
    sweep_dir = tiny_sweep(compose_cfg, tmp_path, folder=ran / "train" / "multiruns" / "s1")
    task = [*SEED_SPACE, as_override("paths.log_dir", str(ran)), f"paths.data_dir={ran}/train",
            f"data.source.path={tmp_path}/series.csv", f"paths.output_dir={tmp_path}/elsewhere"]
    (sweep_dir / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {
        "sweep": {"dir": str(sweep_dir)}, "overrides": {"hydra": [f"hydra.sweep.dir={sweep_dir}"], "task": task}}}))
    assert follow_move(sweep_dir, task) == task  # where it ran: nothing moves

    here = tmp_path / "laptop" / "outputs" / "train" / "multiruns" / "s1"
    here.parent.mkdir(parents=True)
    shutil.move(sweep_dir, here)
    with caplog.at_level("WARNING", logger="trainlab.search.refine"):
        moved = follow_move(here, task)
    assert moved == [*SEED_SPACE, f"paths.log_dir={tmp_path}/laptop/outputs", f"paths.data_dir={here.parent.parent}",
                     f"data.source.path={tmp_path}/series.csv", f"paths.output_dir={tmp_path}/elsewhere"]
    assert f"the sweep ran in {ran}/train/multiruns/s1 and lies in {here} now: paths.log_dir follows it" in caplog.text
    assert f"paths.log_dir={tmp_path}/laptop/outputs" in stage2_command(here, 1, [], Path("/repo"))
    # moved out of that layout (renamed, one level deep): 'as many levels up' named a folder nobody chose (here
    # tmp_path's parent; /tmp for /tmp/me/sweep), or none (/sweep: IndexError); now the folder it lies in
    kept = tmp_path / "kept" / "my sweep"
    kept.parent.mkdir()
    shutil.move(here, kept)
    assert follow_move(kept, task)[len(SEED_SPACE)] == f"paths.log_dir={tmp_path / 'kept'}"



def test_an_older_sweeps_relative_study_url_is_found_where_the_sweep_ran_and_said(compose_cfg, tmp_path, monkeypatch,
                                                                                 caplog):
    """trainlab before storage paths were made absolute wrote hydra.sweeper.storage=sqlite:///study.db into
    optimization_results.yaml as given: a file relative to the folder the sweep ran in. make analyze / refine /
    stage2 / dashboard run from another folder said "its study file 'study.db' does not exist". It is looked for
    where the sweep ran (multirun.yaml's hydra.runtime.cwd), in the sweep folder and the folders above it (a
    checkout moved whole), and here; the file opened is said; where none holds it, one line names the places
    tried and the fix."""
    from trainlab.config.errors import UserError
    from trainlab.search.shared import dashboard_storage

    checkout = tmp_path / "checkout"
    sweep_dir = checkout / "outputs" / "sweep"
    sweep_dir.mkdir(parents=True)
    search_for(compose_cfg, tmp_path, [f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.n_trials=3",
                                       f"hydra.sweeper.storage=sqlite:///{checkout}/study.db"],
               WritesJobFolders(sweep_dir)).run()
    results_file = sweep_dir / "optimization_results.yaml"
    results = yaml.safe_load(results_file.read_text())
    results["storage"] = "sqlite:///study.db?timeout=60"  # as the sweep was given it, run in checkout/
    results_file.write_text(yaml.safe_dump(results))
    (sweep_dir / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"cwd": str(checkout)}}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    for root in (checkout, tmp_path / "moved"):  # where it ran; then the checkout moved whole (its cwd stale)
        if root != checkout:
            shutil.move(checkout, root)
        here = root / "outputs" / "sweep"
        caplog.clear()
        with caplog.at_level("WARNING", logger="trainlab.search.sweep_folder"):
            study = load_sweep_study(here)
        assert len(study.trials) == 3
        assert (f"{here}: its study is {root / 'study.db'}: optimization_results.yaml names it "
                "sqlite:///study.db?timeout=60, relative to the folder the sweep was run from") in caplog.text
        assert run_dir_of(study.best_trial, study_folder(sweep_storage(here))) == here / str(study.best_trial.number)
        assert dashboard_storage(str(here)) == f"sqlite:///{root}/study.db?timeout=60"
    assert not (elsewhere / "study.db").exists()  # no empty study made here

    shutil.move(tmp_path / "moved" / "study.db", tmp_path / "study.db.kept")
    here = tmp_path / "moved" / "outputs" / "sweep"
    with pytest.raises(UserError) as refused:
        load_sweep_study(here)
    assert str(refused.value).startswith(
        f"{here}: its study file 'study.db' (optimization_results.yaml names it sqlite:///study.db?timeout=60, "
        f"relative to the folder the sweep was run from) is in none of {checkout}/study.db, {here}/study.db, "
        f"{here.parent}/study.db, ")
    assert str(refused.value).endswith(
        f"; give its place: make analyze (or refine, stage2, dashboard) SWEEP={here} "
        f"STORAGE=sqlite:////<folder>/study.db?timeout=60, or put the file in the sweep folder ({here}/study.db), "
        "where every tool finds it")
    assert "\n" not in str(refused.value) and not (elsewhere / "study.db").exists()

    # STORAGE= (the tools' --storage): a relative file from this folder; for that sweep folder alone
    from trainlab.search import analyze
    from trainlab.search.sweep_folder import GIVEN_STORAGE_ENV

    monkeypatch.setenv(GIVEN_STORAGE_ENV, "")  # restored after the test: give_storage sets it for child processes
    shutil.copy(tmp_path / "study.db.kept", tmp_path / "moved" / "kept.db")  # renamed, in the checkout
    monkeypatch.chdir(tmp_path / "moved")
    assert analyze.main([str(here), "--storage", "sqlite:///kept.db", "--out", str(tmp_path / "report")]) == 0
    assert sweep_storage(here) == f"sqlite:///{tmp_path}/moved/kept.db"
    assert best_overrides(here)  # make refine reads its trials' folders beside it
    other = tmp_path / "moved" / "outputs" / "other"
    shutil.copytree(here, other)
    with pytest.raises(UserError, match="its study file 'study.db'"):
        sweep_storage(other)  # given for that one sweep folder alone

    # the file put into the sweep folder, as the refusal advises: its trials' folders (stored from the checkout,
    # outputs/sweep/<n>) are found beside it
    shutil.copy(tmp_path / "study.db.kept", here / "study.db")
    monkeypatch.delenv(GIVEN_STORAGE_ENV)
    study = load_sweep_study(here)
    assert run_dir_of(study.best_trial, study_folder(sweep_storage(here))) == here / str(study.best_trial.number)
    assert best_overrides(here)


def test_a_sweeps_study_file_moved_elsewhere_still_finds_its_trials_run_folders(compose_cfg, tmp_path, monkeypatch):
    """make refine SWEEP=<sweep> STORAGE=sqlite:////elsewhere/x.db: the trials' run folders, stored relative to
    the study file's folder where the sweep ran (its own folder), were looked for beside the moved file
    ("trial N ... has no run folder"); they are the sweep folder's. One truly gone names the places tried."""
    from trainlab.config.errors import UserError
    from trainlab.search.sweep_folder import GIVEN_STORAGE_ENV, give_storage

    sweep_dir = tiny_sweep(compose_cfg, tmp_path, trials=2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(sweep_dir / "optuna.db", elsewhere / "x.db")
    monkeypatch.setenv(GIVEN_STORAGE_ENV, "")  # give_storage's setting is undone after the test
    give_storage(sweep_dir, f"sqlite:///{elsewhere / 'x.db'}")
    best = load_sweep_study(sweep_dir).best_trial
    overrides = best_overrides(sweep_dir)
    assert f"model.net.num_layers={best.params['model.net.num_layers']}" in overrides
    assert run_dir_of(best, study_folder(sweep_storage(sweep_dir)), sweep_dir) == sweep_dir / str(best.number)

    shutil.rmtree(sweep_dir / str(best.number))
    with pytest.raises(UserError) as refused:
        best_overrides(sweep_dir)
    assert str(refused.value) == (
        f"trial {best.number} of {sweep_dir} has no run folder with .hydra/overrides.yaml (looked in "
        f"{elsewhere / str(best.number)}, {sweep_dir / str(best.number)}): put its run folder back as "
        f"{sweep_dir / str(best.number)}, or retrain it by hand with its parameters from trials.csv")
