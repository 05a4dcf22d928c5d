"""What a run prints: its folder first, Lightning's messages once and without advertisements, a
launcher's lines about its own machinery left out, and the same console and train.log in a rank
that Lightning starts as a fresh interpreter (:class:`LogSetup`)."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TextIO

from hydra.core.hydra_config import HydraConfig

from trainlab.run.process import silence_for_the_run


# Lightning's info lines that tell a user nothing: its advertisements, and the note that our own model
# summary (callbacks/model_summary.yaml) replaces its default one
_NOISE = ("💡 Tip", "Trainer already configured with model summary callbacks")


def _no_advertisement(record: logging.LogRecord) -> bool:
    return not str(record.msg).lstrip().startswith(_NOISE)


class LauncherNoise(logging.Filter):
    """Drops a Hydra launcher's lines about its own machinery, logged once per trial by our sweeper
    (which launches one trial at a time): joblib's ``Joblib.Parallel(n_jobs=..., backend=loky, ...) is
    launching 1 jobs`` and ``Launching jobs, sweep output dir : ...``, the basic launcher's ``Launching
    1 jobs locally``. The trial's own line (``#3 : optimizer.lr=...``) stays. Used by
    conf/hydra/default.yaml's hydra_logging."""

    PREFIXES = ("Joblib.Parallel(", "Launching jobs, sweep output dir", "Launching 1 jobs locally")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.PREFIXES)


# where a rank of a multi-process run finds its number (Lightning reads the same): torchrun's RANK, srun's
# SLURM_PROCID, and LOCAL_RANK / NODE_RANK of the ranks Lightning starts itself
RANK_VARIABLES = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK")


def process_rank() -> int:
    """This process's rank in a multi-process run (0 alone, and in a rank 0): the first of
    :data:`RANK_VARIABLES` that holds a number other than 0."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) != 0:
            return int(value)
    return 0


def other_ranks_say_warnings_only() -> None:
    """In a rank other than 0 of a DDP run (Lightning starts it running the command again, into rank 0's
    folder), Hydra gave the root logger the same console and ``train.log`` handlers: each of its lines (the
    run folder, the hardware, the data, its ETS baseline) came a second time, mixed into rank 0's. There its
    handlers now keep warnings and errors only, each marked ``[rank N]``."""
    rank = process_rank()
    if rank == 0:
        return
    for handler in logging.getLogger().handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
        fmt = handler.formatter
        handler.setFormatter(logging.Formatter(f"[rank {rank}]" + (fmt._fmt if fmt and fmt._fmt else "%(message)s"),
                                               fmt.datefmt if fmt else None))


def announce_run_folder() -> None:
    """Name the run folder as the first line of a run, before the seconds of imports that follow."""
    if HydraConfig.initialized():
        logging.getLogger(__name__).info("run folder: %s", HydraConfig.get().runtime.output_dir)


def announce_run_done(run_dir: str, monitor: str, best_value: float, kept_by: Optional[str] = None) -> None:
    """Name the run folder again as a finished run's last line, with its best checkpoint and the command that
    reports on it: the first line (:func:`announce_run_folder`) had scrolled away under Lightning's tables, and
    nothing said what to do next. Rank 0 of a plain run only: a sweep's trials are summed up by the sweep.
    ``kept_by``: the metric the checkpoint callback keeps its best by (:func:`trainlab.callbacks.kept_by`); where
    it is not ``monitor``, the value is ``monitor`` at the last epoch and the line says whose best the checkpoint is."""
    from hydra.types import RunMode

    from trainlab.config.spelling import command_line
    from trainlab.run.folder import RunFolder

    if process_rank() != 0 or HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return
    best = RunFolder(run_dir).best()
    if best is None:  # callbacks without model_checkpoint: nothing for evaluate.py to read
        logging.getLogger(__name__).info("run done: %s (no checkpoint kept)", run_dir)
        return
    shown = "undefined (NaN)" if math.isnan(best_value) else f"{best_value:.4g}"  # metrics.undefined
    if kept_by == monitor:
        held = f"best {monitor} {shown}: checkpoints/{best.name}"
    else:  # it said "best val/loss 0.19" beside a checkpoint chosen by val/rmse, or the last epoch's
        whose = f"the best by {kept_by}" if kept_by else "the last epoch's (no checkpoint callback watches a metric)"
        held = f"{monitor} {shown} at the last epoch; checkpoints/{best.name} is {whose}"
    logging.getLogger(__name__).info("run done: %s (%s); its report and plots: %s", run_dir, held,
                                     command_line("evaluate.py", [], ckpt_path=run_dir))


def home_folder() -> Optional[Path]:
    """The user's home folder, or None where there is none to find: no ``HOME`` and no passwd entry for this
    uid (a container started with an arbitrary uid, ``docker run --user 12345``, as OpenShift does), where
    ``Path.home()`` raises RuntimeError."""

    try:
        return Path.home()
    except (RuntimeError, KeyError):
        return None


def user_name() -> str:
    """This process's user, as a message names it: the login name, or ``uid <n>`` where there is none to find
    (no ``USER``/``LOGNAME`` and no passwd entry: ``docker run --user 12345``, where getpass.getuser()
    raises KeyError, and a refusal that names the user became its traceback)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def matplotlib_config_where_writable() -> Optional[str]:
    """Point matplotlib's config and cache folder (``MPLCONFIGDIR``) at ``<temp>/trainlab-matplotlib-<uid>``
    when its default (``~/.config/matplotlib``) cannot be written (a read-only or shared home on a
    cluster) or there is no home at all (:func:`home_folder`), and the user set none; returns the folder
    chosen, or None.

    Matplotlib then made a new temporary folder per process, rebuilt its font cache there each time and
    logged two warnings at every run ("mkdir -p failed ...", "Matplotlib created a temporary cache
    directory ..."); this folder stays, so the cache is built once. Call it before matplotlib is imported.
    """
    import tempfile

    if os.environ.get("MPLCONFIGDIR") or "matplotlib" in sys.modules:
        return None
    home = home_folder()
    config = os.environ.get("XDG_CONFIG_HOME") or (home / ".config" if home is not None else None)
    if config is not None:  # else no home to find: matplotlib's own lookup would raise at its import
        default = Path(config) / "matplotlib"
        existing = next((p for p in (default, *default.parents) if p.exists()), None)
        if existing is not None and existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
            return None
    folder = Path(tempfile.gettempdir()) / f"trainlab-matplotlib-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None  # matplotlib finds a temporary folder of its own, as before
    os.environ["MPLCONFIGDIR"] = str(folder)
    return str(folder)


def route_lightning_logs() -> None:
    """Let Lightning's messages reach the console and train.log once, through Hydra's root handlers.

    Lightning adds its own stdout handler when it is imported; under Hydra every line would print
    twice.
    """
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "torchmetrics"):
        logger = logging.getLogger(name)
        if logging.getLogger().handlers:
            logger.handlers.clear()
            logger.propagate = True
    # Lightning advertises its cloud services (litlogger, litmodels) on every run: not ours to print
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_advertisement)
    # Lightning 2.6 warns about its own use of a torch API on every run: nothing a user can act on
    silence_for_the_run(r".*isinstance\(treespec, LeafSpec\)")
    # Lightning advises more DataLoader workers for every loader with fewer than 2 on a machine of more than 2
    # cores (three lines a run, `num_workers=63` on 64): the hardware profile chose them (hardware.num_workers;
    # `cpu` loads in the training process on purpose), and its count is the affinity's, 63 also in a
    # container with a quota of 2 CPUs
    silence_for_the_run(r"The '\w+' does not have many workers which may be a bottleneck")
    # Lightning's advice for fewer training batches than trainer.log_every_n_steps names Trainer's argument and
    # says the epoch's logs are lost (only the per-step points are): trainlab.callbacks.records says it instead
    silence_for_the_run(r"The number of training batches \(\d+\) is smaller than the logging")
    # Lightning advises sync_dist=True for every value logged at an epoch's end of a multi-process run without it:
    # the test's baselines (trainlab.callbacks.baselines) are rank 0's on purpose, the data's, nothing to gather
    # (16 lines at the end of every DDP run's test)
    silence_for_the_run(r"It is recommended to use `self.log\('test/(baseline_\w+|rmse_vs_best_naive)'")
    # Lightning advises prepending `srun` on every run of a machine that has it (a SLURM login node, CI),
    # also outside any allocation, where the advice is wrong; inside a SLURM job it is kept
    if "SLURM_JOB_ID" not in os.environ:
        silence_for_the_run(r".*The `srun` command is available on your system but is not used")


class RunLogFile(logging.FileHandler):
    """The run's ``train.log``: a ``logging.FileHandler`` that, once its disk is full (or a quota reached),
    says so in one line on stderr and writes no more, while the console goes on.

    A plain FileHandler printed a ``--- Logging error ---`` traceback for every line logged after the
    disk filled, a dozen lines each, burying the one line that says what stopped the run. Other errors
    are reported as logging reports them.
    """

    full = False

    def __init__(self, filename: str, mode: str = "a", encoding: Optional[str] = "utf-8", delay: bool = False):
        # UTF-8 whatever the locale: in an ASCII one (LANG=C with PYTHONUTF8=0) each line holding a
        # character outside it (a path's 'é', '±') was a '--- Logging error ---' traceback instead
        super().__init__(filename, mode=mode, encoding=encoding, delay=delay)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.full:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        from trainlab.run.durable import disk_full_cause, disk_state

        cause = disk_full_cause(sys.exc_info()[1])
        if cause is None:
            super().handleError(record)
            return
        self.full = True
        print(f"warning: {disk_state(cause)[0]}: '{self.baseFilename}' takes no more lines ({os.strerror(cause.errno)}); "
              "the console has them all", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class HandlerSetup:
    """One handler of the root logger: ``file`` (``target`` its path, opened with ``mode``) or ``stdout``
    / ``stderr``, with its level and format."""

    kind: str
    target: Optional[str]
    mode: str
    level: int
    fmt: Optional[str]
    datefmt: Optional[str]

    def build(self) -> logging.Handler:
        if self.kind == "file":
            handler: logging.Handler = RunLogFile(self.target, mode=self.mode)
        else:
            handler = logging.StreamHandler(sys.stdout if self.kind == "stdout" else sys.stderr)
        handler.setLevel(self.level)
        handler.setFormatter(logging.Formatter(self.fmt, self.datefmt))
        return handler


@dataclass(frozen=True)
class LogSetup:
    """The root logger of this process (Hydra's job_logging: the console and ``<run folder>/train.log``),
    described so that another interpreter can set up the same.

    A rank started with the spawn method (``trainer.strategy=ddp_spawn``) is a fresh interpreter that
    runs no Hydra: its logging is bare, so every line of training (epochs, the test, the baselines) left
    train.log, and the console kept only warnings. :mod:`trainlab.run.spawned` carries this there.
    """

    level: int
    handlers: tuple[HandlerSetup, ...]

    @classmethod
    def of_this_process(cls) -> "LogSetup":
        root, found = logging.getLogger(), []
        for handler in root.handlers:
            fmt = handler.formatter
            setup = dict(level=handler.level, fmt=fmt._fmt if fmt else None, datefmt=fmt.datefmt if fmt else None)
            if isinstance(handler, logging.FileHandler):
                found.append(HandlerSetup("file", handler.baseFilename, "a", **setup))  # "a": never truncate it
            elif isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr):
                found.append(HandlerSetup("stdout" if handler.stream is sys.stdout else "stderr", None, "", **setup))
        return cls(root.level, tuple(found))

    def apply(self) -> bool:
        """Set it up here unless this process's root logger has handlers already (the main process, a
        forked one); True when it did."""
        root = logging.getLogger()
        if root.handlers or not self.handlers:
            return False
        root.setLevel(self.level)
        for handler in self.handlers:
            root.addHandler(handler.build())
        route_lightning_logs()
        return True


class ReaderGone:
    """``sys.stdout`` / ``sys.stderr`` of a command whose reader may go away: the end of a pipe that closes
    (``python train.py | head -1``, a ``tee`` that was stopped, a closed ssh session's pipe); or that cannot
    show every character (an ASCII or Latin-1 console: rich's progress bar ended the run with a
    UnicodeEncodeError at its first '•'; such characters are shown as '?').

    Python raised BrokenPipeError at the next line written: each log line became a ``--- Logging error ---``
    traceback, and the progress bar's writer (rich) ended the process with ``SystemExit(1)``, which the run
    took for a Ctrl-C: ``error: stopped by Ctrl-C``, the run folder removed, exit 130. Now the first
    write that meets a closed reader points the stream's file descriptor at ``/dev/null`` (so what is still
    buffered, and any C library or child process writing there, goes nowhere too), says so once on the other
    stream, and the command goes on: a run trains, tests and writes its folder and ``train.log`` as it
    would have. Everything else is the wrapped stream's (:meth:`__getattr__`).
    """

    def __init__(self, stream: TextIO, name: str):
        self.stream, self.name, self.gone = stream, name, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except UnicodeEncodeError:  # a console in an encoding without '━' or 'é' (LANG=C with PYTHONUTF8=0)
                return self.write(text.encode(self.stream.encoding, "replace").decode(self.stream.encoding))
            except BrokenPipeError:
                self._reader_went_away()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._reader_went_away()

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _reader_went_away(self) -> None:
        self.gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # no descriptor to point elsewhere (a stream of Python's own)
            pass
        logs = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
        other = sys.stderr if self.name == "stdout" else sys.stdout
        where = f"; the run's lines go on in {logs[0]}" if logs else ""
        try:
            print(f"warning: {self.name} was closed by its reader (a pipe's end that stopped: | head, a stopped tee); "
                  f"the command goes on without it{where}", file=other, flush=True)
        except (BrokenPipeError, ValueError):
            pass  # that reader is gone too (2>&1 into the same pipe): a ReaderGone there has silenced it


@contextmanager
def readers_may_go() -> Iterator[None]:
    """Around a script's command line: ``sys.stdout`` and ``sys.stderr`` as :class:`ReaderGone`, the streams
    as they were once it ends."""
    before = sys.stdout, sys.stderr
    sys.stdout = ReaderGone(sys.stdout, "stdout") if sys.stdout is not None else None
    sys.stderr = ReaderGone(sys.stderr, "stderr") if sys.stderr is not None else None
    try:
        yield
    finally:
        for wrapped in (sys.stdout, sys.stderr):
            if isinstance(wrapped, ReaderGone):
                wrapped.flush()
        sys.stdout, sys.stderr = before
