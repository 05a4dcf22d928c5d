"""A run stopped by a signal: checkpoint and records written, a non-zero exit, and where to go on.

Schedulers stop jobs with signals: SIGTERM on preemption, ``scancel`` and at the time limit, and the
signal submitit asks SLURM to send shortly before the limit (SIGUSR2, ``--signal=USR2@<delay>``).
Lightning turns SIGTERM into ``SIGTERMException``, a ``SystemExit`` with status 0, so a scheduler
would record a stopped job as COMPLETED. Here (:func:`stop_on_signals`):

- the handler only notes the signal; :class:`~trainlab.callbacks.training.StopOnSignal` ends training at the next batch boundary
  by raising, so Lightning's exception hooks write ``on_exception.ckpt`` and the run records (whose
  summary says ``stopped_by: signal SIGTERM``);
- a signal before training has started (data and model being built, Lightning's set-up) stops the
  run at once, and the line says there is nothing to resume yet (the folder of a run that produced
  nothing is removed); before this takes over (the script's imports, Hydra composing), the script's
  own handler does the same (:func:`trainlab.config.quiet_stop.stop_quietly_until_training`);
- a plain run then prints one line (how to resume) and exits 143, as a process ended by SIGTERM;
- a job of a multirun raises :class:`RunStopped` instead: the launcher decides (the SLURM launcher
  requeues it through submitit, :mod:`trainlab.run.slurm`; a sweep records the trial FAIL).

A job that SLURM starts again (requeued: ``SLURM_RESTART_COUNT`` > 0) continues in its own run folder
from that folder's ``last.ckpt`` (:func:`requeued_checkpoint`); a manual ``ckpt_path=`` resume still
starts a new run folder. The SLURM launcher gives a job's every attempt one folder; a plain ``python train.py``
in an ``sbatch`` script composes a new one per attempt, so its first attempt names its folder in a note of the
job's (:func:`note_job_folder`) and a requeued one goes back to it (:func:`continue_in_job_folder`).
"""

from __future__ import annotations

import os
import signal
import sys
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import KeepsItsState, UserError

EXIT_SIGTERM = 128 + signal.SIGTERM  # 143: what a shell reports for a process ended by SIGTERM
EXIT_SIGINT = 128 + signal.SIGINT  # 130: ... by Ctrl-C
SIGNALS = (signal.SIGTERM, signal.SIGUSR2)
log = logging.getLogger(__name__)
TIME_LIMIT_SIGNAL = "SIGUSR2"  # submitit's warning before the time limit (hydra.launcher.signal_delay_s)


class RunStopped(KeepsItsState, CompactHydraException):
    """Training was stopped by a signal; its checkpoint and records are in ``run_dir``. (Compact: where
    Hydra reports it, in a multirun of the basic launcher, it prints the message, not a traceback.)"""

    def __init__(self, signal_name: str, epoch: Optional[int], run_dir: str, resume: Optional[str] = None,
                 testing: bool = False, restart: bool = False):
        self.signal_name, self.epoch, self.run_dir = signal_name, epoch, run_dir
        self.resume = resume  # the command that resumes it (set in a multirun's job, while Hydra's config is at hand)
        self.testing = testing  # stopped while testing: training had ended, nothing to resume (test it instead)
        self.restart = restart  # stopped before its first checkpoint: nothing to resume (start it again instead)
        where = " while testing (its training had ended)" if testing else " before its first checkpoint" if restart \
            else f" during epoch {epoch}" if epoch is not None else ""
        held = "what it wrote is" if restart else "checkpoints and records are"
        super().__init__(f"stopped by {signal_name}{where}; {held} in {run_dir}")

    def go_on(self) -> str:
        """``; resume with: <command>`` for the line that reports it (``test it``, ``start it again``); empty
        where no command was set."""
        if not self.resume:
            return ""
        return f"; {'test it' if self.testing else 'start it again' if self.restart else 'resume'} with: {self.resume}"


def stop_reason(exception: BaseException) -> Optional[str]:
    """``signal <NAME>`` when ``exception`` ended training because of a signal, else None."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from trainlab.callbacks.training import SignalStop

    if isinstance(exception, SignalStop):
        return f"signal {exception}"
    if isinstance(exception, SIGTERMException):
        return "signal SIGTERM"
    return None


def resume_hint(run_dir: Optional[str]) -> str:
    """The command that resumes this run: the same overrides plus ``ckpt_path=<run dir>`` (None: the
    command that starts it again, its own ``ckpt_path`` kept); for a job of a multirun, through its
    launcher (:func:`~trainlab.config.rerun.rerun_overrides`)."""
    from trainlab.config.invocation import _script
    from trainlab.config.spelling import command_line
    from trainlab.config.rerun import rerun_overrides

    overrides = [o for o in rerun_overrides() if run_dir is None or not o.startswith("ckpt_path=")]
    return command_line(_script(), overrides, **({"ckpt_path": run_dir} if run_dir else {}))


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def stop_on_signals(run_dir: str, exits: bool = True) -> Iterator[list[Any]]:
    """Yield the callback that stops training on a signal; turn such a stop into exit 143 with one line
    (a plain run) or :class:`RunStopped` (a job of a multirun, for its launcher to decide). ``exits=False``
    (train.py's ``main(cfg)`` called from Python): RunStopped for a signal, the KeyboardInterrupt for a
    Ctrl-C, to the caller, whose program goes on.

    Light until a run starts (train.py enters it before training): lightning is imported here."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from trainlab.callbacks.training import SignalStop, StopOnSignal
    from trainlab.config.quiet_stop import is_quiet_stop

    callback = StopOnSignal()
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # signal handlers can only be set there (joblib runs some jobs in threads)
        callback.previous = {sig: signal.signal(sig, callback.handler) for sig in SIGNALS}
        if is_quiet_stop(signal.getsignal(signal.SIGINT)):  # the script's (a sweep's stays)
            # Ctrl-C as a KeyboardInterrupt again: Lightning stops a fit cleanly on it. A rank that Lightning's
            # launcher started notes it instead and stops where the ranks agree (StopOnSignal), or when rank 0 ends
            # it: raised while it built its data, it stopped alone, with a line of its own beside rank 0's
            callback.previous[signal.SIGINT] = signal.signal(
                signal.SIGINT, callback.handler if callback.launched else signal.default_int_handler)
            callback.agreeing = callback.launched
    try:
        yield [callback]
    except (SignalStop, SIGTERMException) as exc:
        callback.pass_on_sigterm()  # a sweep's handler raises here: the sweep stops
        name = str(exc) if isinstance(exc, SignalStop) else "SIGTERM"
        ctrl_c = name == "SIGINT"  # a multi-process run stops on Ctrl-C as on a signal (StopOnSignal)
        name = "Ctrl-C" if ctrl_c else name
        restart = not callback.testing and not _resumable(run_dir)
        stopped = RunStopped(name, callback.epoch if callback.training else None, run_dir, testing=callback.testing,
                             restart=restart)
        if _in_multirun():  # for the launcher's line (trainlab.run.slurm): Hydra's config is gone by then
            stopped.resume = _test_hint(run_dir) if callback.testing else resume_hint(None if restart else run_dir)
        if _in_multirun() or not exits:
            raise stopped from None
        code = EXIT_SIGINT if ctrl_c else EXIT_SIGTERM
        if callback.testing:  # one process (StopOnSignal.on_test_batch_end): a resume would be refused
            _say_test_it(name, run_dir)
            sys.exit(code)
        if callback.rank:  # a rank of a multi-process run: rank 0 says it (trainlab.run.ranks)
            if callback.launched:
                from trainlab.run.ranks import wait_for_launcher

                wait_for_launcher()
            sys.exit(code)
        if restart:
            _say_start_again(name, callback.training, run_dir)
            sys.exit(code)
        print(f"error: {stopped}. Resume with: {resume_hint(run_dir)}", file=sys.stderr, flush=True)
        sys.exit(code)
    except KeyboardInterrupt:
        if not exits:
            raise
        if callback.rank:  # a rank of a multi-process run: rank 0 says it, and nothing here removes its folder
            if callback.launched:
                from trainlab.run.ranks import wait_for_launcher

                wait_for_launcher()
            sys.exit(EXIT_SIGINT)
        if callback.interrupted and callback.testing:  # training had ended: a resume would be refused
            _say_test_it("Ctrl-C", run_dir)
            sys.exit(EXIT_SIGINT)
        if callback.interrupted and not _resumable(run_dir):  # Lightning's set-up, its sanity check, the first step
            _say_start_again("Ctrl-C", callback.training, run_dir)
            sys.exit(EXIT_SIGINT)
        if callback.interrupted:  # in training: Lightning wrote the checkpoint and records; say where and how to go on
            stopped = RunStopped("Ctrl-C", callback.epoch, run_dir)
            print(f"error: {stopped}. Resume with: {resume_hint(run_dir)}", file=sys.stderr, flush=True)
            sys.exit(EXIT_SIGINT)
        from trainlab.run.folder import discard_unstarted_run  # before fit or between fit and test

        note = discard_unstarted_run()
        print(f"error: stopped by Ctrl-C{'; ' + note if note else f'; what was written is in {run_dir}'}",
              file=sys.stderr, flush=True)
        sys.exit(EXIT_SIGINT)
    finally:
        if in_main:
            for sig, previous in callback.previous.items():
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
    callback.pass_on_sigterm()  # SIGTERM after training (the test, the records): a sweep stops before its next trial


def _test_hint(run_dir: str) -> str:
    """The command that tests a run whose training had ended (its best checkpoint)."""
    from trainlab.config.spelling import command_line

    return command_line("evaluate.py", [], ckpt_path=run_dir)


def _resumable(run_dir: str) -> bool:
    """Whether the run folder holds a checkpoint that ``ckpt_path=<run dir>`` resumes from: none is written
    before the first step (a signal in Lightning's set-up or its sanity check)."""
    from trainlab.run.folder import RunFolder

    return any(RunFolder(run_dir).checkpoints.glob("*.ckpt"))


def _say_start_again(name: str, training: bool, run_dir: str) -> None:
    """The line for a run stopped before it had a checkpoint: its folder removed if nothing in it is kept, and
    the command that starts it again. A resume was offered: ``ckpt_path=<run dir>``, which holds nothing."""
    from trainlab.run.folder import discard_unstarted_run

    note = discard_unstarted_run() or f"what was written is in {run_dir}"
    when = "before its first checkpoint" if training else "before training started"
    print(f"error: stopped by {name} {when}, so there is nothing to resume; {note}. Start it again with: "
          f"{resume_hint(None)}", file=sys.stderr, flush=True)


def _say_test_it(name: str, run_dir: str) -> None:
    """The line for a run stopped while testing: nothing to resume, its test to run again."""
    print(f"error: stopped by {name} while testing; its training had ended, and its checkpoints and records "
          f"are in {run_dir}. Test its best checkpoint with: {_test_hint(run_dir)}", file=sys.stderr, flush=True)


@contextmanager
def ctrl_c_raises(trainer: Any) -> Iterator[None]:
    """Around a Lightning call (fit, test, validate): a Ctrl-C comes out as the KeyboardInterrupt it was,
    with this thread's SIGINT handler as it was before the call.

    Lightning answers a Ctrl-C by writing the checkpoint and records, setting SIGINT to be ignored (for its
    shutdown) and ``sys.exit(1)``. Called from Python (a notebook, a script's loop of runs), that left the
    process deaf to every later Ctrl-C and a SystemExit where the caller expects KeyboardInterrupt; the
    command line turns the KeyboardInterrupt into its one line and exit 130 (:func:`stop_on_signals`)."""
    in_main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if in_main else None
    try:
        yield
    except SystemExit as exc:
        if type(exc) is not SystemExit or exc.code != 1 or not trainer.interrupted:  # not Lightning's Ctrl-C exit
            raise
        raise KeyboardInterrupt from None
    finally:
        if in_main and before is not None and signal.getsignal(signal.SIGINT) is not before:
            signal.signal(signal.SIGINT, before)


def is_requeued_attempt() -> bool:
    """True in a SLURM job that SLURM has started again (requeued by submitit, an admin or a failure)."""
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0


_job_notes: list[Path] = []  # this process's note (note_job_folder), removed when its run ends


def _job_note(config: DictConfig) -> Optional[Path]:
    """``<paths.log_dir>/.slurm_jobs/<SLURM_JOB_ID>``, where a plain run in a SLURM job names its run folder for
    the job's later attempts; None outside a job, or for a config without ``paths.log_dir``."""
    job, log_dir = os.environ.get("SLURM_JOB_ID", "").strip(), OmegaConf.select(config, "paths.log_dir", default=None)
    if not job or not log_dir:
        return None
    return Path(str(log_dir)).expanduser().absolute() / ".slurm_jobs" / job


def note_job_folder(config: DictConfig) -> None:
    """The first attempt of a plain run in a SLURM job: name its run folder (``hydra.run.dir``) for the attempts
    SLURM may start after a requeue (``sbatch --requeue``, a preemption), which compose a new folder of their own."""
    from trainlab.run.folder_notes import write_note

    note = _job_note(config)
    if note is None:
        return
    write_note(note, str(Path(str(OmegaConf.select(config, "hydra.run.dir"))).expanduser().absolute()), _job_notes)


def continue_in_job_folder(config: DictConfig) -> None:
    """A requeued attempt of a plain run in a SLURM job: run in the folder its first attempt named
    (:func:`note_job_folder`), whose ``last.ckpt`` it continues from, instead of the new folder Hydra composed, where
    it trained from epoch 0 again; where no attempt named one, it keeps the new folder and says so."""
    from omegaconf import read_write

    note = _job_note(config)
    if note is None:
        return
    if not note.is_file():
        log.warning("SLURM restarted job %s (SLURM_RESTART_COUNT=%s), but no earlier attempt named its run folder "
                    "in %s: this attempt trains from the start in a new folder", os.environ["SLURM_JOB_ID"],
                    os.environ.get("SLURM_RESTART_COUNT"), note)
        return
    earlier = note.read_text(encoding="utf-8")
    if not Path(earlier).is_dir():  # removed since (by hand, or as a refused start's)
        log.warning("SLURM restarted job %s, but the run folder its earlier attempt named (%s) is gone: this attempt "
                    "trains from the start in a new folder", os.environ["SLURM_JOB_ID"], earlier)
        return
    with read_write(config.hydra):
        config.hydra.run.dir = earlier
    _job_notes.append(note)  # the attempt that finishes the run removes it
    log.info("SLURM restarted job %s: it goes on in its run folder %s", os.environ["SLURM_JOB_ID"], earlier)


def remove_job_note() -> None:
    """Remove this process's note naming its run folder (at its run's end), with ``.slurm_jobs`` once empty."""
    from trainlab.run.folder_notes import remove_notes

    remove_notes(_job_notes)


def requeued_checkpoint(run_dir: str | os.PathLike) -> Optional[str]:
    """The checkpoint a requeued SLURM job continues from: its own run folder's ``last.ckpt`` (the end
    of its last finished epoch), or None (not a requeued job, or no epoch finished: start over).

    The earlier attempt's ``on_exception.ckpt`` is removed: the attempt that continues supersedes it.
    """
    if not is_requeued_attempt():
        return None
    from trainlab.run.folder import LAST, ON_EXCEPTION, RunFolder

    checkpoints = RunFolder(run_dir).checkpoints
    (checkpoints / ON_EXCEPTION).unlink(missing_ok=True)
    last = checkpoints / LAST
    return str(last) if last.is_file() else None


def cluster_plugins(processes: int = 1, nodes: int = 1) -> list[Any]:
    """Trainer plugins for the cluster a run is in: inside a SLURM job, Lightning's SLURM environment
    with its own auto-requeue off (submitit requeues, once; two mechanisms would requeue twice).

    ``processes``: the run's training processes (devices x nodes; 0 where the trainer counts them itself,
    ``devices=-1``); ``nodes``: ``trainer.num_nodes``. Lightning takes every process of a job that has
    ``SLURM_NTASKS`` for a task srun started, and starts no process of its own then. That holds for the ranks
    srun starts (several tasks of one step: :func:`~trainlab.run.srun_step.srun_step_rank`), not for
    ``python train.py trainer=ddp_sim`` typed in an ``salloc`` shell or an ``sbatch`` script, one process:
    Lightning failed there with ``KeyError: 'SLURM_NODEID'`` (salloc sets no task's ids) or, where the batch
    script has them, waited forever for the rank nobody started. Such a run on one node is left to Lightning's
    plain environment, which starts its processes as on a workstation; on several nodes it is refused in one line.
    Lightning's SLURM environment also refuses a job of ``--ntasks=2`` without ``--ntasks-per-node`` with a
    RuntimeError, as a traceback: a one-process run is then left to the plain environment too, srun's ranks
    get one line saying what to ask SLURM for.
    """
    from lightning.fabric.plugins.environments import (LightningEnvironment, SLURMEnvironment,
                                                       TorchElasticEnvironment)

    from trainlab.run.srun_step import srun_step_rank

    if "SLURM_JOB_ID" not in os.environ:
        return []
    if processes != 1 and srun_step_rank() is None:  # this process is the run's only one yet
        if TorchElasticEnvironment.detect():  # torchrun inside the job started the ranks
            return [TorchElasticEnvironment()]
        if nodes > 1:
            raise UserError(f"trainer.num_nodes={nodes}, but srun did not start this process as one of the run's tasks "
                            "(no SLURM_STEP_NUM_TASKS above 1: typed in an salloc shell or an sbatch script), so no "
                            "process would start on the other nodes and it would wait for them forever; start one "
                            f"task per device on each node: srun --nodes={nodes} --ntasks-per-node=<trainer.devices> "
                            f"python train.py ..., or let trainlab submit the job: python train.py -m "
                            f"hydra/launcher=slurm hydra.launcher.nodes={nodes} ...")
        return [LightningEnvironment()]
    tasks = os.environ.get("SLURM_NTASKS", "1")
    if tasks.isdigit() and int(tasks) > 1 and "SLURM_NTASKS_PER_NODE" not in os.environ:
        if processes == 1:
            return [LightningEnvironment()]
        raise UserError(f"this SLURM job has {tasks} tasks (SLURM_NTASKS={tasks}) but no tasks per node "
                        "(SLURM_NTASKS_PER_NODE), which Lightning numbers a DDP run's processes by: ask for them "
                        "per node, one per device (sbatch/srun --ntasks-per-node=<trainer.devices>), or let "
                        "trainlab submit the job: python train.py -m hydra/launcher=slurm ...")
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []
