"""Files a hard kill (SIGKILL, OOM killer, power loss) can cut short: every writer replaces whole files or
appends whole lines, and every reader of a run's records takes a file cut short with one line or one
warning (src/trainlab/run/durable.py). Files are cut here by hand, as a kill mid-write leaves them."""

from __future__ import annotations

import errno
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import ROOT
from trainlab.callbacks.records import RunRecords
from trainlab.config.errors import UserError
from trainlab.data.timeseries.baselines import cached_ets
from trainlab.run.durable import append_json_line, read_json, read_json_lines, save_figure, write_atomic
from trainlab.run.checkpoint_path import resolve_checkpoint
from trainlab.run.folder import RunFolder


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- writers ------------------------------------------------------------------------------------------
class _Interrupted(BaseException):
    """What a signal raises in the middle of a write (KeyboardInterrupt, SystemExit)."""


class _FigureKilledMidSave:
    def savefig(self, path, **kwargs):
        Path(path).write_bytes(b"\x89PNG half")
        raise _Interrupted


def test_a_write_stopped_midway_keeps_the_whole_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "training_curves.png"
    target.write_bytes(b"the old plot")
    with pytest.raises(_Interrupted):
        save_figure(_FigureKilledMidSave(), target, dpi=100)
    assert target.read_bytes() == b"the old plot"
    assert [p.name for p in tmp_path.iterdir()] == ["training_curves.png"]
    write_atomic(target, b"the new plot")
    write_atomic(tmp_path / "report.md", "# report\n")
    assert target.read_bytes() == b"the new plot" and (tmp_path / "report.md").read_text() == "# report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "training_curves.png"]


def test_an_append_after_a_torn_last_line_cuts_it_so_the_new_line_stays_whole(tmp_path, caplog):
    log = tmp_path / "epochs.jsonl"
    log.write_text('{"epoch": 0, "val/loss": 0.5}\n{"epoch": 1, "val/lo')  # killed mid-write
    with caplog.at_level(logging.WARNING):
        append_json_line(log, {"epoch": 1, "val/loss": 0.4})
        append_json_line(log, {"epoch": 2, "val/loss": 0.3})
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == [0, 1, 2]
    (warning,) = _warnings(caplog)
    assert "epochs.jsonl ended in a line cut short" in warning and "dropped its 20 byte(s)" in warning


def _disk_full(*args, **kwargs):
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_naming_the_file_and_the_old_file_stays(tmp_path, monkeypatch, capsys):
    """Every durable writer answers ENOSPC with DiskFull (a UserError: one line, exit 2) naming its file;
    a raw one from a writer outside (TensorBoard, a logger) is one line too; before, a traceback without
    a file name, exit 1."""
    import os

    from trainlab.config.errors import report_user_errors
    from trainlab.run.durable import DiskFull, write_json

    summary, log = tmp_path / "training_summary.json", tmp_path / "epochs.jsonl"
    summary.write_text('{"old": 1}')
    log.write_text('{"epoch": 0}\n')
    monkeypatch.setattr(os, "write", _disk_full)
    with pytest.raises(DiskFull, match=r"^the disk is full: writing '.*epochs.jsonl' failed \(No space left on device\)"
                                       r"\. "
                                       r"Free some space on that disk, or write elsewhere with paths.log_dir="):
        append_json_line(log, {"epoch": 1})
    monkeypatch.undo()
    real_open = Path.open

    def open_then_full(path, *args, **kwargs):  # the temporary is made, its first write fails
        real_open(path, *args, **kwargs).close()
        _disk_full()

    monkeypatch.setattr(Path, "open", open_then_full)
    with pytest.raises(DiskFull, match=r"writing '.*training_summary.json' failed"):
        write_json(summary, {"new": 1})
    monkeypatch.undo()
    assert summary.read_text() == '{"old": 1}' and log.read_text() == '{"epoch": 0}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs.jsonl", "training_summary.json"]
    with pytest.raises(SystemExit) as stop, report_user_errors():
        _disk_full()
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith("error: the disk is full (No space left on device, met by test_durable.py). "
                                              "Free")


def test_a_read_only_folder_is_reported_as_itself_not_as_the_cleanup_after_it(tmp_path, monkeypatch):
    """On a read-only file system unlink fails with EROFS even for a file that is not there: the cleanup
    of the temporary that could not be made replaced the error of the write (named the temporary). A disk
    gone read-only mid-run (remounted after an error) is then one line like a full one (a traceback)."""
    import errno
    import os

    from trainlab.run.durable import DiskFull

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(Path, "open", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(DiskFull, match=rf"^the disk became read-only: writing '{tmp_path / 'report.md'}' failed "
                                       r"\(Read-only file system\)\. Make that disk writable again, or write "
                                       r"elsewhere with paths.log_dir=") as raised:
        write_atomic(tmp_path / "report.md", "# report\n")
    assert str(raised.value.then("{Remedy}, then resume: python train.py ckpt_path=<run>", "the run folder's disk")) \
        == (f"the disk became read-only: writing '{tmp_path / 'report.md'}' failed (Read-only file system). Make the "
            "run folder's disk writable again, then resume: python train.py ckpt_path=<run>")


def test_a_full_sqlite_database_is_a_full_disk_too(capsys):
    """MLflow's mlflow.db on a full disk: SQLAlchemy's OperationalError traceback (exit 1), after an
    on_exception.ckpt attempt whose own DiskFull then named the checkpoint instead."""
    import sqlite3

    from trainlab.config.errors import report_user_errors
    from trainlab.run.durable import DiskFull

    def insert():
        full = sqlite3.OperationalError("database or disk is full")
        full.sqlite_errorcode = sqlite3.SQLITE_FULL  # as sqlite3 sets it
        raise full

    def log_metrics():
        try:
            insert()
        except sqlite3.OperationalError as exc:
            raise RuntimeError("(sqlite3.OperationalError) database or disk is full [SQL: INSERT ...]") from exc

    with pytest.raises(SystemExit) as stop, report_user_errors():
        log_metrics()
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith("error: the disk is full: an SQLite database could not be written "
                                              "(database or disk is full, met by test_durable.py). Free some space")
    assert DiskFull.of(sqlite3.OperationalError("database is locked")) is None


def test_a_writer_thread_a_full_disk_stops_says_so_in_one_line(capsys):
    """TensorBoard's event writer thread printed Python's 'Exception in thread' traceback (30 lines) before
    the run's own line; other errors in threads keep theirs."""
    import threading

    from trainlab.config.errors import report_user_errors

    def run(target):
        thread = threading.Thread(target=target, name="writer")
        thread.start()
        thread.join()

    passed_on, previous = [], threading.excepthook
    threading.excepthook = lambda args: passed_on.append(args.exc_type)
    try:
        with report_user_errors():
            run(_disk_full)
            run(lambda: 1 / 0)
    finally:
        threading.excepthook = previous
    assert capsys.readouterr().err == ("warning: the disk is full: test_durable.py's writer (writer) stopped (No space "
                                       "left on device)\n")
    assert passed_on == [ZeroDivisionError]


def test_a_line_the_disk_fills_in_the_middle_of_is_not_left_half_written(tmp_path, monkeypatch):
    """write(2) on a disk filling mid-line returns short, without an error: the line was left half
    written, without a word (the next append cut it, with a warning about a kill)."""
    import os

    from trainlab.run.durable import DiskFull

    log = tmp_path / "epochs.jsonl"
    log.write_text('{"epoch": 0}\n')
    real_write = os.write

    def fills_up(fd, data):
        if len(data) > 5:
            return real_write(fd, bytes(data[:5]))
        _disk_full()

    monkeypatch.setattr(os, "write", fills_up)
    with pytest.raises(DiskFull, match="epochs.jsonl' failed"):
        append_json_line(log, {"epoch": 1, "val/loss": 0.5})
    assert log.read_text() == '{"epoch": 0}\n'
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))  # short writes, no error
    append_json_line(log, {"epoch": 1, "val/loss": 0.5})
    assert read_json_lines(log) == [{"epoch": 0}, {"epoch": 1, "val/loss": 0.5}]


# -- readers ------------------------------------------------------------------------------------------
def test_a_torn_last_record_is_skipped_with_one_warning_and_a_damaged_middle_is_one_line(tmp_path, caplog):
    log = tmp_path / "epochs.jsonl"
    log.write_text('{"epoch": 0}\n{"epoch": 1}\n{"epo')
    with caplog.at_level(logging.WARNING):
        assert read_json_lines(log) == [{"epoch": 0}, {"epoch": 1}]
    (warning,) = _warnings(caplog)
    assert "its last line (3) was cut short" in warning
    log.write_text('{"epoch": 0}\n{"epo\n{"epoch": 2}\n')
    with pytest.raises(UserError, match=r"epochs.jsonl' line 2 is no JSON record .*remove that line, or the file"):
        read_json_lines(log)
    summary = tmp_path / "training_summary.json"
    summary.write_text('{"monitor": "val/loss", "be')
    with pytest.raises(UserError, match=r"training_summary.json' is not readable JSON .*cut short or damaged: rerun"):
        read_json(summary, "rerun")


def test_a_resume_carries_the_earlier_records_past_a_torn_or_damaged_file(tmp_path, caplog):
    """From the checkpoint's own folder (a copied run's), not the one it was written in."""
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "epochs.jsonl").write_text('{"epoch": 0, "val/loss": 0.5}\n{"epoch": 1, "val/loss": 0.4}\n{"ep')
    (earlier / "checkpoints").mkdir()
    (earlier / "checkpoints" / "last.ckpt").write_bytes(b"")
    saved = {"dir": str(tmp_path / "where it was written"), "epochs": [{"epoch": 0}, {"epoch": 1}, {"epoch": 2}]}
    records = RunRecords(str(tmp_path / "resumed"))
    trainer = SimpleNamespace(ckpt_path=str(earlier / "checkpoints" / "last.ckpt"))  # as Lightning sets it
    records.load_state_dict(saved)
    # the folder's file, and the torn epoch from the checkpoint's list
    expected = [{"epoch": 0, "val/loss": 0.5}, {"epoch": 1, "val/loss": 0.4}, {"epoch": 2}]
    assert records._earlier_epochs(trainer) == expected
    (earlier / "epochs.jsonl").write_text('{"epoch": 0\n{"epoch": 1, "val/loss": 0.4}\n')  # damaged mid-file
    with caplog.at_level(logging.WARNING):
        assert records._earlier_epochs(trainer) == saved["epochs"]  # the checkpoint's own list
    assert any("line 1 is no JSON record" in w and "saved in the checkpoint are carried over" in w
               for w in _warnings(caplog))


def _run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("model:\n  _target_: x.Y\ndata:\n  source:\n    path: a.csv\n")
    (run / ".hydra" / "overrides.yaml").write_text("- data=file\n- data.source.path=a.csv\n")
    (run / ".hydra" / "hydra.yaml").write_text("hydra:\n  runtime:\n    cwd: /work/here\n")
    return run


def test_run_files_hydra_wrote_cut_short_are_one_line_or_a_warning(tmp_path, caplog):
    run = _run_folder(tmp_path)
    folder = RunFolder(run)
    assert folder.config().data.source.path == "/work/here/a.csv"
    (run / ".hydra" / "hydra.yaml").write_text("hydra:\n  runtime:\n    cwd: '/work/he")  # killed mid-write
    with caplog.at_level(logging.WARNING):
        assert folder.config().data.source.path == "a.csv"  # only the folder it started in is lost
    assert any("hydra.yaml' is not readable YAML" in w for w in _warnings(caplog))
    (run / ".hydra" / "overrides.yaml").write_text("- data=file\n- 'data.source.pa")
    with pytest.raises(UserError, match=r"overrides.yaml' is not readable YAML .*options are lost: give them again"):
        folder.overrides()
    (run / ".hydra" / "config.yaml").write_text("model:\n  _target_: 'x.")
    with pytest.raises(UserError, match=r"config.yaml' is not readable YAML .*restore it, or evaluate another run"):
        folder.config()


def test_a_run_killed_before_its_first_checkpoint_says_so_and_how_to_start_it_again(tmp_path):
    run = _run_folder(tmp_path)
    message = r"is a run that stopped before its first checkpoint .*nothing to resume or evaluate; start it again: " \
              r"python train.py data=file data.source.path=a.csv$"
    with pytest.raises(UserError, match=message):
        resolve_checkpoint(str(run), prefer="last")


def test_the_start_again_and_evaluate_commands_paste_back_under_any_folder(tmp_path):
    """The two commands a killed run's next command prints were joined with spaces: a run under '/tmp/my runs'
    or with an option holding a space split at it when pasted (the 'Resume with' line was quoted already)."""
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from trainlab.run.resume_checks import _untested_hint

    run = _run_folder(tmp_path / "my runs" / "José")
    (run / ".hydra" / "overrides.yaml").write_text("- data=file\n- \"data.source.path='my data/a.csv'\"\n")
    with pytest.raises(UserError, match="start it again: ") as refused:
        resolve_checkpoint(str(run), prefer="last")
    command = str(refused.value).split("start it again: ", 1)[1]
    assert shlex.split(command) == ["python", "train.py", "data=file", "data.source.path='my data/a.csv'"]
    hint = _untested_hint(RunFolder(run), OmegaConf.create({"test": True}))
    words = shlex.split(hint.split("(stopped before or while testing): ", 1)[1].removesuffix(" tests its best checkpoint"))
    assert words[:2] == ["python", "evaluate.py"]
    assert OverridesParser.create().parse_override(words[2]).value() == str(run)
    # and a ckpt_path=<run> a refusal advises: a sweep's folder names its newest run
    (run / "checkpoints").mkdir()
    with pytest.raises(UserError, match="the newest: ") as refused:
        resolve_checkpoint(str(run.parent), prefer="last")
    (word,) = shlex.split(str(refused.value).split("the newest: ", 1)[1])
    assert OverridesParser.create().parse_override(word).value() == str(run)


def test_an_ets_cache_cut_short_is_fitted_again_and_replaced(tmp_path, caplog):
    series = np.sin(np.arange(120, dtype=float) / 5)[:, None]
    fitted = cached_ets(series, 80, None, str(tmp_path))
    (cache,) = tmp_path.glob("ets-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        again = cached_ets(series, 80, None, str(tmp_path))
    assert np.allclose(again[0][0], fitted[0][0]) and again[0][1] == fitted[0][1]
    assert any("is unreadable" in w and "fitted again" in w for w in _warnings(caplog))
    with np.load(cache) as stored:  # replaced whole
        assert np.allclose(stored["states0"], fitted[0][0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.name]


@pytest.mark.parametrize("error, mend", [
    (errno.ENOSPC, "free some space on its disk"),
    (errno.EROFS, "make its disk writable again"),  # the warning said 'free space there' whatever the cause
])
def test_an_ets_cache_that_cannot_be_written_is_one_warning_and_the_run_goes_on(tmp_path, caplog, monkeypatch,
                                                                                error, mend):
    """A cache: a full disk (or a folder made read-only) there stopped the run after its last epoch."""
    import os

    from trainlab.data.timeseries import baselines

    def cannot(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(baselines, "_UNCACHED", set())
    monkeypatch.setattr(np, "savez", cannot)
    series = np.sin(np.arange(120, dtype=float) / 5)[:, None]
    with caplog.at_level(logging.WARNING):
        fitted = cached_ets(series, 80, None, str(tmp_path))
        cached_ets(series + 1, 80, None, str(tmp_path))  # another series: no second warning
    assert len(fitted) == 1 and fitted[0][0].shape == (120, 3)
    (warning,) = _warnings(caplog)
    assert warning == (f"ETS fits not cached in {tmp_path} ({os.strerror(error)}): this run goes on, and the next one "
                       f"fits them again; {mend}, or set data.baseline_cache=<a writable folder> (null: no cache)")
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_ets_cache_is_read_and_not_written(tmp_path, caplog, monkeypatch):
    """A shared cache an admin prepared (readable, not writable here) was refused at start though reading it
    works: its fits are used, new ones are not stored (one line); refused only when it can be neither read
    nor made."""
    import os

    from trainlab.data.timeseries import baselines, ets

    monkeypatch.setattr(baselines, "_UNCACHED", set())
    cache, series = tmp_path / "shared", np.sin(np.arange(120, dtype=float) / 5)[:, None]
    fitted = cached_ets(series, 80, None, str(cache))  # what the admin prepared
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK and real_access(path, mode))
    with caplog.at_level(logging.INFO, logger=baselines.log.name):
        baselines.check_cache_dir(str(cache))
        baselines.check_cache_dir(str(cache))  # a second data module (a sweep's next trial): no second line
    (line,) = [r.getMessage() for r in caplog.records if "baseline_cache" in r.getMessage()]
    assert line == (f"data.baseline_cache={cache} is read-only here: the ETS fits cached there are used, new ones "
                    "are not stored (give a writable folder to keep them)")

    def no_write(*args, **kwargs):
        raise AssertionError("wrote into a read-only cache")

    monkeypatch.setattr(np, "savez", no_write)
    monkeypatch.setattr(ets, "fit_ets_states", no_write)
    hit = cached_ets(series, 80, None, str(cache))  # read, not fitted again
    assert np.array_equal(hit[0][0], fitted[0][0])
    monkeypatch.setattr(ets, "fit_ets_states", lambda *args: (np.zeros((120, 3)), 0.9))
    assert cached_ets(series + 1, 80, None, str(cache))[0][1] == 0.9  # a miss: fitted, not stored
    assert len(list(cache.iterdir())) == 1
    with pytest.raises(UserError, match=rf"data.baseline_cache={tmp_path}/new/cache: '{tmp_path}' is not writable, "
                                        "so the cache folder cannot be made there; give a folder you can write in"):
        baselines.check_cache_dir(str(tmp_path / "new" / "cache"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UserError, match=rf"data.baseline_cache={cache} can be neither read nor written here"):
        baselines.check_cache_dir(str(cache))


def test_run_and_sweep_files_are_written_through_the_durable_writers():
    """A new writer of a run's, an evaluation's or a sweep's file goes through trainlab.run.durable: a plain
    write_text / savefig / to_csv(path) / open(..., "w") there is what a kill cuts short."""
    plain = re.compile(r'\.write_text\(|\.write_bytes\(|\.savefig\(|\.to_csv\([^)=]+[,)]|open\([^)]*"[wa]b?"|'
                       r'json\.dump\(|shutil\.copy')
    allowed = {"src/trainlab/run/durable.py", "src/trainlab/run/checkpoint_io.py"}  # its own temporary + fsync
    found = [f"{path.relative_to(ROOT)}:{n}" for path in [*(ROOT / "src").rglob("*.py"), ROOT / "train.py",
                                                          ROOT / "evaluate.py"]
             if str(path.relative_to(ROOT)) not in allowed
             and "testing" not in path.relative_to(ROOT).parts  # the test servers' set-up files (SLURM, PostgreSQL)
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if plain.search(line) and "replacing(" not in line and not line.lstrip().startswith(("#", '"""'))]
    assert found == []


def test_a_run_killed_while_testing_is_told_to_evaluate_not_resume(tmp_path):
    from omegaconf import OmegaConf

    from trainlab.run.resume_checks import _untested_hint

    run = _run_folder(tmp_path)
    folder, cfg = RunFolder(run), OmegaConf.create({"test": True})
    hint = f"its training ended but its test did not .*python evaluate.py ckpt_path={run} tests its best checkpoint"
    assert re.search(hint, _untested_hint(folder, cfg))  # killed before the summary
    (run / "training_summary.json").write_text('{"monitor": "val/loss", "best_value": 0.1}\n')
    assert re.search(hint, _untested_hint(folder, cfg))  # killed while testing
    (run / "training_summary.json").write_text('{"monitor": "val/loss", "test": {"test/loss": 0.2}, "base')
    assert re.search(hint, _untested_hint(folder, cfg))  # cut short
    (run / "training_summary.json").write_text('{"monitor": "val/loss", "test": {"test/loss": 0.2}}\n')
    assert _untested_hint(folder, cfg) == "" and _untested_hint(folder, OmegaConf.create({"test": False})) == ""
    # a run whose callbacks write no summary (callbacks=none) is not known untested: it was told it was
    (run / "training_summary.json").unlink()
    config = (run / ".hydra" / "config.yaml").read_text()
    (run / ".hydra" / "config.yaml").write_text(config + "callbacks: {}\n")
    assert _untested_hint(folder, cfg) == ""
    (run / ".hydra" / "config.yaml").write_text(config + "callbacks:\n  run_records:\n"
                                                "    _target_: trainlab.callbacks.records.RunRecords\n")
    assert re.search(hint, _untested_hint(folder, cfg))


def test_a_copy_stopped_midway_leaves_no_cut_short_file(tmp_path, monkeypatch):
    import shutil

    from trainlab.run.durable import copy_file

    source = tmp_path / "epoch01.ckpt"
    source.write_bytes(b"weights" * 1000)

    def killed_mid_copy(src, dst):
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise _Interrupted

    (tmp_path / "resumed").mkdir()
    monkeypatch.setattr(shutil, "copy2", killed_mid_copy)
    with pytest.raises(_Interrupted):
        copy_file(source, tmp_path / "resumed" / "epoch01.ckpt")
    assert list((tmp_path / "resumed").iterdir()) == []
    monkeypatch.undo()
    copy_file(source, tmp_path / "resumed" / "epoch01.ckpt")
    assert (tmp_path / "resumed" / "epoch01.ckpt").read_bytes() == source.read_bytes()


def test_sweep_files_cut_short_are_one_line_naming_them(tmp_path):
    from trainlab.search.refine import sweep_pick
    from trainlab.search.sweep_folder import load_sweep_study

    (tmp_path / "optimization_results.yaml").write_text("name: optuna\nstudy_name: 'swe")
    with pytest.raises(UserError, match=r"optimization_results.yaml' is not readable YAML .*delete it: the sweep "
                                        r"folder's optuna.db is read instead"):
        load_sweep_study(tmp_path)
    (tmp_path / "multirun.yaml").write_text("hydra:\n  sweeper:\n    pick: {rule: 'be")
    with pytest.raises(UserError, match=r"multirun.yaml' is not readable YAML .*continue the sweep"):
        sweep_pick(tmp_path)
    # empty, as a power loss can leave a file replaced whole: it was None, and then a TypeError traceback
    from trainlab.search.stages import stage2_command

    for name in ("optimization_results.yaml", "multirun.yaml"):
        (tmp_path / name).write_text("")
    with pytest.raises(UserError, match=r"optimization_results.yaml' is empty \(cut short\); delete it"):
        load_sweep_study(tmp_path)
    with pytest.raises(UserError, match=r"multirun.yaml' is empty \(cut short\); continue the sweep"):
        stage2_command(tmp_path, 3, [], ROOT)
