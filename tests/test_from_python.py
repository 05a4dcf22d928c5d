"""trainlab driven from Python (a notebook, a script's loop of runs): a run leaves the process as it
found it (README "From Python")."""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch

from tests.conftest import TINY


def _process_settings() -> dict:
    return {"threads": torch.get_num_threads(), "matmul": torch.get_float32_matmul_precision(),
            "tf32": (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32),
            "benchmark": torch.backends.cudnn.benchmark, "deterministic": torch.are_deterministic_algorithms_enabled(),
            "env": {k: os.environ.get(k) for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG")},
            "showwarning": warnings.showwarning}


def _filters_kept(before: list) -> None:
    """What was there stays, in its order, and what the run silenced for itself is heard again; the filters of
    modules first imported during the run (sympy's, statsmodels') stay too, before the old ones."""
    after = list(warnings.filters)
    assert after[len(after) - len(before):] == before
    run_own = ("This DataLoader will create", "The '\\w+' does not have many workers")
    assert not [f for f in after if f[1] is not None and f[1].pattern.startswith(run_own)]


@pytest.mark.parametrize("fails", [False, True])
def test_a_run_gives_back_torch_threads_flags_and_environment(compose_cfg, run_train, monkeypatch, fails):
    """A notebook's own torch code ran on the run's one thread, in deterministic mode, and could no longer
    read torch.get_float32_matmul_precision() (it raised: a profile's two precision settings mixed torch's
    two APIs), after a run that set them; so also after a run that fails. The warning filters too: a run that
    silenced torch's advice on loader workers (its own line said it instead) silenced it for the notebook after."""
    for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    from trainlab.run import hardware, host_memory

    monkeypatch.setattr(hardware, "too_many_workers", lambda workers: "too many workers")  # the run adds a filter
    before, thresholds, filters = _process_settings(), [], list(warnings.filters)
    set_thresholds = host_memory._mallopt
    monkeypatch.setattr(host_memory, "_mallopt", lambda *sizes: thresholds.append(sizes) or set_thresholds(*sizes))
    cfg = compose_cfg([*TINY, "trainer.max_epochs=1", "logger=none", "trainer.deterministic=true",
                       "hardware.float32_matmul_precision=medium", "hardware.allow_tf32=true",
                       "hardware.cudnn_benchmark=true", "hardware.num_threads=1",
                       *(["optimized_metric=val/nothing"] if fails else [])])
    try:
        if fails:
            with pytest.raises(Exception, match="val/nothing"):
                run_train(cfg)
        else:
            assert "test/rmse" in run_train(cfg)
        assert _process_settings() == before
        _filters_kept(filters)
        if set_thresholds(host_memory._GLIBC_START, host_memory._GLIBC_START) is not None:  # glibc's malloc
            assert thresholds[-1] == (host_memory._GLIBC_START,) * 2  # the run kept 256 MB; back at glibc's start
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_float32_matmul_precision(before["matmul"])
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before["tf32"]
        torch.set_num_threads(before["threads"])


def test_a_command_line_run_inside_python_gives_back_signals_and_logging(monkeypatch, tmp_path):
    """``%run train.py ...`` in IPython (runpy): the quiet stop's os._exit stayed the process's answer to
    Ctrl-C and SIGTERM (a later Ctrl-C killed the notebook's kernel), and Hydra's handlers kept writing
    the finished run's train.log."""
    import logging
    import signal

    import train as train_script
    from trainlab.config.command_line import run_command_line
    from trainlab.config.quiet_stop import is_quiet_stop, stop_quietly_until_training

    monkeypatch.setattr("sys.argv", ["train.py", *TINY, "trainer.max_epochs=1", "logger=none", "test=false",
                                     f"paths.log_dir={tmp_path}"])
    monkeypatch.setattr(train_script.main.__wrapped__, "__module__", "__main__")  # Hydra finds conf/ as a script's
    root = logging.getLogger()
    inherited = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    # Python's own handlers, as in a notebook: a process started in the background of a shell (or a
    # pytest-xdist worker) inherits SIGINT ignored, which the quiet stop rightly leaves alone
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    handlers, level = list(root.handlers), root.level
    try:
        stop_quietly_until_training()  # as train.py does first when it is __main__
        assert is_quiet_stop(signal.getsignal(signal.SIGINT))
        run_command_line(train_script.main, config_name="train")
        assert {sig: signal.getsignal(sig) for sig in before} == before
        assert root.handlers == handlers and root.level == level
        (log_file,) = tmp_path.glob("train/runs/*/train.log")
        written = log_file.read_text()
        logging.getLogger("after.the.run").warning("a line of the notebook's own")
        assert log_file.read_text() == written
    finally:
        for sig, handler in inherited.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("script, config, overrides", [
    ("train", "train", [*TINY, "hardware.num_threads=999"]),
    ("evaluate", "eval", ["ckpt_path=/nonexistent/run"]),
])
def test_main_called_from_python_raises_the_command_lines_user_error(compose_cfg, capsys, monkeypatch, tmp_path,
                                                                      script, config, overrides):
    """``main(cfg)`` from a notebook or a loop of runs: a bad setting was SystemExit(2) (a script's loop
    ended at the first bad run; ``except Exception`` did not see it); now its UserError, whose message is
    the command line's line, which still exits 2 there."""
    import importlib

    from trainlab.config.errors import UserError

    from trainlab.config.command_line import run_command_line

    module = importlib.import_module(script)
    with pytest.raises(UserError) as raised:
        module.main(compose_cfg(overrides, config_name=config))
    assert capsys.readouterr().err == ""
    # the same paths.log_dir as compose_cfg's: messages name the folder runs are under
    monkeypatch.setattr("sys.argv", [f"{script}.py", *overrides, f"paths.log_dir={tmp_path / 'outputs'}"])
    monkeypatch.setattr(module.main.__wrapped__, "__module__", "__main__")  # Hydra finds conf/ as a script's
    with pytest.raises(SystemExit) as exited:
        run_command_line(module.main, config_name=config)
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: {raised.value}")


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_main_called_from_python_raises_a_stop_instead_of_exiting(compose_cfg, capsys, monkeypatch, sig):
    """``main(cfg)`` from Python stopped by Ctrl-C or SIGTERM (here while the data are read): it was
    SystemExit(130 / 143), which ended a script's loop of runs; now the KeyboardInterrupt, or RunStopped."""
    import signal

    import train as train_script
    from trainlab.run import pipeline
    from trainlab.run.preemption import RunStopped

    def stopped(*args, **kwargs):
        if sig == "SIGINT":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("the run went on after SIGTERM")

    monkeypatch.setattr(pipeline, "build_model_and_data", stopped)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt if sig == "SIGINT" else RunStopped):
        train_script.main(compose_cfg([*TINY, "logger=none"]))
    assert signal.getsignal(signal.SIGTERM) == before and capsys.readouterr().err == ""


@pytest.mark.parametrize(("argv0", "named"), [("-c", "train.py"), ("/repo/evaluate.py", "evaluate.py"), ("", "train.py")])
def test_a_command_a_message_names_is_a_script_even_from_python_c(monkeypatch, argv0, named):
    """Under `python -c "import train; ..."` (and pytest-xdist's workers) a message's command read `python -c
    data.window=16 ... ckpt_path=<run>`, which runs nothing: no script was typed, and train.py makes that run."""
    from trainlab.config.invocation import _script

    monkeypatch.setattr(sys, "argv", [argv0])
    assert _script() == named
