"""``hydra/launcher=slurm``: submit through submitit, check the request first, watch the jobs, requeue.

The Hydra plugin (``hydra_plugins.trainlab_slurm_launcher``) is a thin subclass of
hydra-submitit-launcher's; the work is done here, on both sides:

Before submission (the submitting process)
    :mod:`trainlab.run.slurm_request` fills the request from the hardware profile and checks it
    against what ``sinfo`` says the partition has (also run by the preflight check).

While the jobs run (:func:`watch`)
    ``squeue`` is asked every few seconds, not ``sacct`` (accounting may be off: submitit would then
    poll forever for a job that died without writing its result). A job pending longer than
    ``pending_timeout_min`` (other than a requeued one waiting for its begin time) is cancelled and
    reported with SLURM's reason; a job that has ended without a result is reported at once.

Inside the job (:func:`finish_in_job`)
    A run stopped by a signal raises :class:`~trainlab.run.preemption.RunStopped` out of the task.
    Whether the job is requeued follows ``requeue``: ``timeout`` (default) requeues a job stopped by
    the warning before its time limit (submitit's ``--signal=USR2@<signal_delay_s>``), at most
    ``max_num_timeout`` times; ``always`` also one stopped by SIGTERM (preemption, ``scancel
    --signal=TERM``); ``never`` none. The requeue is submitit's own (the pickled call dumped again,
    then ``scontrol requeue``); Lightning's auto-requeue is off (trainlab.run.preemption). The requeued
    attempt continues in the same run folder from its ``last.ckpt``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException

from trainlab.run.slurm_request import job_resources, sbatch_refusal, slurm_executor, warn_early_signal

log = logging.getLogger(__name__)

ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE")
ONE_LINE_ERRORS = ("RunStopped", "TrialFailed")  # a job's errors whose message says it all
SWEEP_OUTCOMES = ONE_LINE_ERRORS + ("TrialPruned",)  # a job's errors the sweep reads from its JobReturn
RESULT_GRACE_S = 15  # a job's result file may reach a shared file system after SLURM says it ended
REQUEUE_GRACE_S = 180  # a job that asked for its requeue may show as ended until slurmctld has done it
UNANSWERED_S = 300  # squeue silent this long (slurmctld down or restarting): said, then every as long again
REQUEUED_LINE = "requeued: "  # what finish_in_job prints last, on the job's stderr


class SlurmJobFailed(CompactHydraException):
    """A job ended without a result, was stopped, or was cancelled while pending (one line: the command line
    prints it as ``error: ...`` with this exit status, without Hydra's HYDRA_FULL_ERROR advice, whose
    traceback would be the launcher's; the job's own is in its log)."""

    exit_status = 1


def submit(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Submit one array job for ``job_overrides`` (job number ``initial_job_idx`` + i), watch it and
    return each job's JobReturn (a FAILED one with a one-line reason where there is no result)."""
    from pathlib import Path

    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides

    params = job_resources(launcher.params, launcher.config)
    warn_early_signal(params)
    executor = slurm_executor(params, launcher.requeue)
    Path(str(launcher.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    calls = []
    for number, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
        calls.append((list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", Singleton.get_state()))
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    scripts = submitit.core.utils.JobPaths.get_first_id_independent_folder(params["submitit_folder"])  # its first writes
    before = set(scripts.iterdir()) if scripts.is_dir() else set()
    try:
        jobs = executor.map_array(launcher, *zip(*calls))
    except submitit.core.utils.FailedJobError as exc:  # sbatch refused what its --test-only took (a submit limit ...)
        reason, culprit = sbatch_refusal(str(exc), params)
        culprit = culprit or "start it again once SLURM's controller answers (squeue shows whether it does)"
        raise SlurmJobFailed(f"sbatch refused the job(s): {reason}; nothing was submitted"
                             f"{_undo_submission(scripts, before, sweep_dir)}; {culprit}") from None
    log.info("SLURM job(s) %s submitted to partition %s; folder %s", ", ".join(j.job_id for j in jobs),
             params.get("partition"), launcher.config.hydra.sweep.dir)
    ids = {job.job_id for job in jobs}
    launcher.in_flight.update(ids)  # left there if the watch is interrupted: a sweep cancels them
    with stops_say_what_goes_on(sorted(ids), str(launcher.config.hydra.sweep.dir)):
        lost = watch(jobs, launcher.pending_timeout_min, launcher.poll_interval_s)
    launcher.in_flight.difference_update(ids)
    returns = [outcome(job, overrides, lost.get(job.job_id)) for job, overrides in zip(jobs, job_overrides)]
    say_every_failure([job.job_id for job in jobs], returns, str(sweep_dir))
    return returns


def say_every_failure(job_ids: Sequence[str], returns: Sequence[JobReturn], sweep_dir: str) -> None:
    """A plain multirun's jobs (a sweep launches one at a time) all run, as one array, and Hydra's sweeper raises
    the first failure only: the others were said nowhere. Each other failure is logged as its line, then how many
    failed; the first one's line ends the command."""
    failed = [(job_id, ret) for job_id, ret in zip(job_ids, returns) if ret.status == JobStatus.FAILED
              and type(ret._return_value).__name__ not in SWEEP_OUTCOMES]
    if len(returns) < 2 or not failed:
        return
    for _, ret in failed[1:]:
        log.error("%s", ret._return_value)
    done = len(returns) - len(failed)
    log.error("%d of %d SLURM jobs failed (%s)%s; %s", len(failed), len(returns), ", ".join(job_id for job_id, _ in failed),
              f"; {done} completed, their runs in {sweep_dir}" if done else "",
              "the first one's line follows, the others' are above" if len(failed) > 1 else "its line follows")


def _undo_submission(scripts: Any, before: set, sweep_dir: Any) -> str:
    """Remove what a refused submission left: submitit's pickled calls and script in ``scripts`` (those not
    in ``before``), then the folders left empty, and a sweep folder that holds nothing but the
    ``multirun.yaml`` of this launch (a plain multirun's); what was removed, for the refusal's line."""
    import shutil

    for path in set(scripts.iterdir()) - before if scripts.is_dir() else ():
        path.unlink(missing_ok=True)
    if scripts.is_dir() and not any(scripts.iterdir()):
        scripts.rmdir()
    if sweep_dir.is_dir() and {p.name for p in sweep_dir.iterdir()} <= {"multirun.yaml"}:
        shutil.rmtree(sweep_dir, ignore_errors=True)
        return f", and its folder {sweep_dir} was removed"
    return ""


# --- while the jobs run ----------------------------------------------------------------------------------

@contextmanager
def stops_say_what_goes_on(job_ids: Sequence[str], folder: str) -> Iterator[None]:
    """Around the watch of a plain multirun (the main thread, under the script's quiet stop): Ctrl-C or
    SIGTERM ends the launcher with one line saying that the jobs go on in SLURM and how to stop them (it
    said 'stopped by Ctrl-C; nothing was written', with the jobs queued). A sweep has handlers of its
    own, and cancels its trials' jobs (``cancel_unfinished``)."""
    from trainlab.config.quiet_stop import is_quiet_stop

    if threading.current_thread() is not threading.main_thread() or not is_quiet_stop(signal.getsignal(signal.SIGINT)):
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"error: stopped by {name}; SLURM job(s) {', '.join(job_ids)} go on without this process (their runs "
              f"end in {folder}); scancel {' '.join(job_ids)} stops them", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(128 + signum)  # as the script's own quiet stop (trainlab.config.errors)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _states(job_ids: Sequence[str]) -> Optional[dict[str, tuple[str, str]]]:
    """``job id -> (state, reason)`` from squeue (ended jobs too, while SLURM still lists them); None
    when squeue cannot answer now (slurmctld busy or restarting): nothing is concluded from that."""
    arrays = sorted({job_id.split("_")[0] for job_id in job_ids})
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(arrays), "-o", "%i|%T|%r"],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0 and "invalid job id" not in out.stderr.lower():  # purged ids: gone, not unknown
        return None
    states = {}
    for line in out.stdout.splitlines():
        job_id, state, reason = (line.split("|") + ["", ""])[:3]
        states[job_id.strip()] = (state.strip(), reason.strip())
    return states


def cancel_jobs(job_ids: set[str]) -> list[str]:
    """``scancel`` the jobs in ``job_ids`` (emptied); the ids, sorted."""
    cancelled = sorted(job_ids)
    job_ids.clear()
    if cancelled:
        subprocess.run(["scancel", *cancelled], capture_output=True, timeout=60)
    return cancelled


def _log_tail(job: Any, lines: int = 3) -> str:
    for path in (job.paths.stderr, job.paths.stdout):
        if path.is_file():
            text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            if text:
                return f"; last lines of {path}: " + " | ".join(text[-lines:])
    return ""


# what srun, slurmstepd and submitit's signal handler add to a job's stderr as it ends
SLURMS_OWN = ("srun:", "slurmstepd", "submitit WARNING")


def _asked_for_requeue(job: Any) -> bool:
    """Whether the job's last words were :func:`finish_in_job`'s requeue line (followed by nothing but
    SLURM's own lines: ``*** JOB 7 CANCELLED ... DUE TO JOB REQUEUE ***``, ``srun: ...``, and
    submitit's ``Bypassing signal SIGCONT``). SLURM may
    still list such a job as ended (FAILED, exit 143) for a while before the requeue shows."""
    path = job.paths.stderr
    if not path.is_file():
        return False
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - 8192))
        lines = [line for line in stream.read().decode(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(REQUEUED_LINE):
            return True
        if not line.startswith(SLURMS_OWN):
            return False
    return False


def watch(jobs: Sequence[Any], pending_timeout_min: Optional[float], poll_s: float) -> dict[str, str]:
    """Wait until every job has a result file or has ended without one; returns ``job id -> why it has
    no result`` for those that did not give one (cancelled after pending too long included)."""
    waiting = {job.job_id: job for job in jobs}
    lost: dict[str, str] = {}
    pending_since: dict[str, float] = {}
    ended_since: dict[str, float] = {}
    said: dict[str, str] = {}
    answered = time.monotonic()  # when squeue last answered (or the watch began)
    while waiting:
        states = _states(list(waiting))
        now = time.monotonic()
        if states is not None:
            answered = now
        elif now - answered >= UNANSWERED_S:  # the launcher waited on without a word
            log.warning("squeue has not answered for %.0f min (slurmctld down or busy?): still waiting for job(s) %s, "
                        "which SLURM runs whatever happens here", (now - answered) / 60, ", ".join(waiting))
            answered = now
        for job_id, job in list(waiting.items()):
            if job.paths.result_pickle.exists():
                del waiting[job_id]
                continue
            if states is None:
                continue
            state, reason = states.get(job_id, ("GONE", "no longer listed by squeue"))
            if said.get(job_id) != f"{state} {reason}" and state == "PENDING" and reason != "None":
                log.info("job %s %s", job_id, "requeued, waiting for its start time" if reason == "BeginTime"
                         else f"pending: {reason}")
            said[job_id] = f"{state} {reason}"
            if state == "PENDING" and reason != "BeginTime":  # BeginTime: requeued, waiting out its delay
                started = pending_since.setdefault(job_id, now)
                if pending_timeout_min is not None and now - started > pending_timeout_min * 60:
                    cancel_jobs({job_id})
                    lost[job_id] = (f"pending for more than {pending_timeout_min:g} min (SLURM's reason: {reason}); "
                                    f"cancelled (hydra.launcher.pending_timeout_min)")
                    del waiting[job_id]
                continue
            pending_since.pop(job_id, None)
            if state in ENDED or state == "GONE":
                requeueing = _asked_for_requeue(job)
                if now - ended_since.setdefault(job_id, now) >= (REQUEUE_GRACE_S if requeueing else RESULT_GRACE_S):
                    lost[job_id] = (f"asked SLURM to requeue it, but it stayed {state} ({reason}) for {REQUEUE_GRACE_S} s"
                                    if requeueing else f"ended {state} ({reason}) without a result{_log_tail(job)}")
                    del waiting[job_id]
            else:
                ended_since.pop(job_id, None)
        if waiting:
            time.sleep(poll_s)
    return lost


def outcome(job: Any, overrides: Sequence[str], lost: Optional[str]) -> JobReturn:
    """The job's JobReturn, or a FAILED one whose error is one line: SLURM's account of a lost job, or
    the last line of the job's traceback (a run stopped and not requeued says why and how to resume)."""
    from submitit.core.utils import pickle_load

    if lost is None:
        kind, value = pickle_load(job.paths.result_pickle)
        raised = value._return_value if kind == "success" and value.status == JobStatus.FAILED else None
        if kind == "success" and (raised is None or type(raised).__name__ in SWEEP_OUTCOMES):
            return value
        if raised is not None:  # the run raised, and Hydra's run_job kept the exception: its traceback stayed in the
            # job (finish_in_job printed it to the job's log); re-raised here it showed the launcher's frames only
            lost = f"failed: {type(raised).__name__}: {raised}; its traceback is in {job.paths.stderr}"
            return JobReturn(overrides=list(overrides), status=JobStatus.FAILED,
                             _return_value=SlurmJobFailed(f"SLURM job {job.job_id} {lost}"))
        lines = [line for line in str(value).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "no traceback"
        kind, _, message = last.partition(": ")
        # our own one-line errors need no class name; anything else keeps it (RuntimeError: ...) and says
        # where its traceback is (the job's log: HYDRA_FULL_ERROR, which Hydra advises, shows the launcher's)
        ours = kind.rsplit(".", 1)[-1] in ONE_LINE_ERRORS
        lost = f"failed: {message if ours else last}" + ("" if ours else f"; its traceback is in {job.paths.stderr}")
    return JobReturn(overrides=list(overrides), status=JobStatus.FAILED,
                     _return_value=SlurmJobFailed(f"SLURM job {job.job_id} {lost}"))


# --- inside the job ------------------------------------------------------------------------------------

def submitit_handler() -> Any:
    """submitit's signal handler of this job (it holds the pickled call and its time-limit countdown),
    or None outside a submitit job. Private to submitit, reached here only: its requeue is the one
    mechanism, and it needs both."""
    from submitit.core.job_environment import JobEnvironment

    handler = getattr(signal.getsignal(JobEnvironment._usr_sig()), "__self__", None)
    return handler if hasattr(handler, "_delayed") and hasattr(handler, "env") else None


def finish_in_job(ret: JobReturn, requeue: str, handler: Any) -> JobReturn:
    """A job's end as SLURM should see it: a run stopped by a signal is requeued (submitit's requeue,
    then exit 143, no result) when ``requeue`` allows, else it fails with one line (no result either:
    submitit records the error and the job ends FAILED, not COMPLETED)."""
    from trainlab.run.preemption import EXIT_SIGTERM, TIME_LIMIT_SIGNAL, RunStopped

    stopped = ret._return_value if ret.status == JobStatus.FAILED else None
    if not isinstance(stopped, RunStopped):
        if isinstance(stopped, BaseException) and type(stopped).__name__ not in SWEEP_OUTCOMES:
            import traceback  # the run's error, kept by Hydra's run_job without a word: into the job's log

            traceback.print_exception(stopped, file=sys.stderr)
        return ret
    time_limit = stopped.signal_name == TIME_LIMIT_SIGNAL
    why = "its time limit was near" if time_limit else f"{stopped.signal_name} (preempted or cancelled)"
    wanted = requeue == "always" or (requeue == "timeout" and time_limit)
    # stopped while testing (training had ended): evaluate.py's command; a requeued attempt tests the run
    resume = stopped.go_on()
    if not wanted or handler is None:
        setting = "" if handler is None else f" (hydra.launcher.requeue={requeue})"
        raise RunStopped(stopped.signal_name, stopped.epoch, f"{stopped.run_dir}; not requeued{setting}{resume}",
                         testing=stopped.testing, restart=stopped.restart)
    from submitit.core.job_environment import _checkpoint

    countdown = handler._delayed._timeout_countdown - int(time_limit)
    if countdown < 0:
        raise RunStopped(stopped.signal_name, stopped.epoch,
                         f"{stopped.run_dir}; not requeued: time limit reached more often than "
                         f"hydra.launcher.max_num_timeout allows{resume}", restart=stopped.restart)
    _checkpoint(handler._delayed, handler._job_paths.submitted_pickle, countdown)
    handler.env._requeue(countdown)
    print(f"{REQUEUED_LINE}{why}; the next attempt continues in {stopped.run_dir}", file=sys.stderr, flush=True)
    sys.exit(EXIT_SIGTERM)  # SystemExit: submitit writes no result, the launcher waits for the next attempt
