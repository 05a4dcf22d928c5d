"""The Optuna sweeper's work: open the study, run trials in slots, record their fate.

- The plan (:mod:`trainlab.search.plan`) is checked first; then :class:`OptunaSearch` opens the study
  (:mod:`trainlab.search.study`), applies warm starts (:mod:`trainlab.search.warmstart`) and runs the
  trials.
- Every job gets one :class:`~trainlab.search.handover.TrialHandover` (``optuna_trial=...``), built in
  :meth:`OptunaSearch.launch_overrides`; it reports at every validation check and may be pruned in its
  own process.
- ``n_jobs`` slots, one thread each: a slot asks a trial, launches it as a one-job batch
  (``launcher.launch([overrides], initial_job_idx=trial.number)``), tells the study its fate and asks
  the next, so a slot never waits for another slot's trial. The basic launcher runs jobs inside this
  process, where trials would share torch's global state: with it, trials run one at a time.
  hydra-joblib-launcher runs them in a pool of worker processes that live through the sweep;
  submitit_local starts a new process per job (each trial pays Python's and torch's start-up again).
  With several GPUs, slot i's trials train on GPU i mod k (:func:`trainlab.search.gpu_slots.gpu_overrides`).
- Job folders are ``<sweep dir>/<trial number>``: unique across resumed runs of a study.
- The study is ``sqlite:///<sweep dir>/optuna.db`` unless ``storage`` names another; it continues
  until ``n_trials`` trials are COMPLETE or PRUNED, whichever run finished them. Several processes
  may share it (same storage and study name): :mod:`trainlab.search.shared` says how they count.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import optuna
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from trainlab.config.errors import refuse
from trainlab.run.durable import DiskFull, write_atomic
from trainlab.search.handover import TrialFailed, TrialHandover, TrialOutOfSpace, build_pruner, sweep_process
from trainlab.search.plan import SweepPlan
from trainlab.search.results import (next_steps, no_best, objective_names, progress_line, results_line,
                                     write_results)
from trainlab.search.sweep_folder import MULTIRUN_YAML, RUN_DIR, as_stored, study_folder
from trainlab.search.shared import (ask_admitted, is_copied, out_of_space, queue_again, storage_file, taken, tell,
                                    trial_id)
from trainlab.search.outcome import job_exception, objective_values
from trainlab.search.space import as_override, suggest
from trainlab.search.study import open_study
from trainlab.search.warmstart import copy_trials, enqueue

log = logging.getLogger(__name__)


class Interrupted(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


_signals_seen: list[str] = []


def _on_signal(signum: int, frame: Any) -> None:
    """SIGINT -> KeyboardInterrupt (Lightning stops a training run cleanly on it), SIGTERM -> Interrupted."""
    _signals_seen.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(_signals_seen[-1])


class OptunaSearch:
    """Runs one :class:`~trainlab.search.plan.SweepPlan` with ``launcher``.

    Args:
        plan: the checked sweep.
        launcher: Hydra's launcher (anything with ``launch(job_overrides, initial_job_idx)``).
        study: the study to run; None opens (or creates) the plan's. Either way the plan's warm start
            and enqueued configurations are applied and its sampler set.
        config: the composed config: what a custom search space function receives, written to
            <sweep dir>/multirun.yaml.
    """

    def __init__(self, plan: SweepPlan, launcher: Any, study: Optional[optuna.Study] = None,
                 config: Optional[DictConfig] = None):
        self.plan = plan
        self.config = config
        self.continue_in = plan.sweep_dir  # the hydra.sweep.dir that continues it (a staged search's own folder)
        self.launcher = launcher
        self.study = study if study is not None else open_study(plan)
        if plan.warm_start is not None:
            copy_trials(self.study, plan.warm_start, plan.space)
        # the number this process's next trial gets if it is alone (enqueued trials are numbered when
        # enqueued and asked first: counted before them)
        self.next_number = len(self.study.trials)
        enqueue(self.study, plan.enqueue)
        if plan.sampler is not None:
            self.study.sampler = plan.build_sampler(trials_before=self.next_number)
        self.study.pruner = build_pruner(plan.pruner)  # only for the log line: each job builds its own
        if plan.pruner is not None and self.study.user_attrs.get("pruner") != plan.pruner:
            self.study.set_user_attr("pruner", plan.pruner)  # for the analysis (warm-up advice)
        self.lock = threading.Lock()
        self.running: dict[int, optuna.trial.Trial] = {}
        self.done_here = 0
        self.failed_here = 0
        self.last_failure = ""
        self.stopping = False
        self.out_of_space: Optional[DiskFull] = None  # a trial met a full disk: the sweep stops
        self.signals_before = len(_signals_seen)

    # --- the trials ----------------------------------------------------------------------------------

    def _finished(self) -> int:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return sum(not is_copied(t) for t in self.study.get_trials(deepcopy=False, states=states))

    def _too_many_failures(self) -> bool:
        return self.done_here > 0 and self.failed_here / self.done_here > self.plan.max_failure_rate

    def _next_trial(self) -> Optional[optuna.trial.Trial]:
        """Ask a trial, or None when the study has enough (finished and running, of every process
        sharing it) or failures stop it."""
        with self.lock:
            if self.stopping or self._too_many_failures() or self.failed_here >= self.plan.n_trials:
                return None
            trial = ask_admitted(self.study, self.plan.n_trials)
            if trial is None:
                return None
            self._reseed(trial.number)
            suggest(trial, self.plan.space)
            if self.plan.custom is not None:
                self.plan.custom(self.config, trial)
            self.running[trial.number] = trial
        return trial

    def launch_overrides(self, trial: optuna.trial.Trial, slot: int) -> list[str]:
        """The job's overrides: the fixed ones, the slot's (its GPU), the trial's parameters and the
        hand-over, the one place it is built."""
        handover = TrialHandover(storage=self.plan.storage, study_name=self.plan.study_name,
                                 trial_id=trial_id(trial), pruner=self.plan.pruner, sweeper=sweep_process(),
                                 gpu_shared=self.plan.gpu_shared)
        slot_overrides = self.plan.slot_overrides[slot] if self.plan.slot_overrides else []
        return [*self.plan.fixed, *slot_overrides, *(as_override(k, v) for k, v in trial.params.items()),
                handover.as_override(self.plan.trial_key)]

    def _reseed(self, number: int) -> None:
        """When another process has asked trials since this one's last ask, seed a seeded sampler again
        with seed + this trial's number: processes started with one command must not draw the same
        points. Alone, a process keeps its sampler. (QMC's points are counted in the study, not drawn.)"""
        if (number != self.next_number and self.plan.seeded
                and not isinstance(self.study.sampler, optuna.samplers.QMCSampler)):
            self.study.sampler = self.plan.build_sampler(trials_before=number)
        self.next_number = number + 1

    def _run_slot(self, slot: int = 0) -> None:
        """Run trials one after the other until the study has enough or the sweep stops. A full disk met
        here (the study, the results, a trial's error file; with n_jobs > 1 in this slot's thread, where
        it was an 'Exception in thread' traceback while the other slots went on) stops the sweep: the
        slots start no more trials, and :meth:`run` ends it in one line once the running ones are done."""
        try:
            self._run_trials(slot)
        except Exception as exc:  # noqa: BLE001 - only a full disk is answered here, the rest re-raised
            full = out_of_space(exc, self.plan.storage)
            if full is None:
                raise
            self._stop_for(full)

    def _stop_for(self, full: DiskFull) -> None:
        """Stop asking trials; the first full disk met is the one the sweep's last line names."""
        with self.lock:
            self.out_of_space = self.out_of_space or full
            self.stopping = True

    def _run_trials(self, slot: int) -> None:
        while not self.stopping and (trial := self._next_trial()) is not None:
            start = time.perf_counter()
            try:
                (outcome,) = self.launcher.launch([self.launch_overrides(trial, slot)], initial_job_idx=trial.number)
            except Exception as exc:  # noqa: BLE001 - a broken worker pool fails this trial, not the sweep
                outcome = exc
            except KeyboardInterrupt as exc:
                # Ctrl-C reaches joblib's worker processes too, and joblib raises their KeyboardInterrupt
                # again in this slot's thread, where it would end the thread with a traceback
                if threading.current_thread() is threading.main_thread():
                    raise
                outcome = exc
            if len(_signals_seen) > self.signals_before:
                # The signal's exception landed inside the job, where other code may have turned it
                # into its own error (torch.save interrupted mid-write raises a RuntimeError): the
                # trial was interrupted, not failed. The main thread ends the sweep as for any signal.
                if threading.current_thread() is threading.main_thread():
                    raise Interrupted(_signals_seen[-1])
                return
            self._record(trial, outcome, time.perf_counter() - start)

    def _record(self, trial: optuna.trial.Trial, outcome: Any, seconds: float) -> None:
        """Tell the study how the trial ended (COMPLETE, PRUNED or FAIL) and print the progress line."""
        run_dir = str(self._run_dir(trial.number))
        state, values, reason = TrialState.FAIL, None, None
        if isinstance(outcome, JobReturn):
            run_dir = str(outcome.hydra_cfg.hydra.runtime.output_dir) if outcome.hydra_cfg else run_dir
            if outcome.status == JobStatus.COMPLETED:
                values, reason = objective_values(outcome.return_value, self._frozen(trial.number).user_attrs, self.plan)
                state = TrialState.COMPLETE if reason is None else TrialState.FAIL
            elif isinstance(job_exception(outcome), optuna.TrialPruned):
                state = TrialState.PRUNED
            else:
                reason = self._failure(job_exception(outcome), run_dir)
        else:
            reason = self._failure(outcome, run_dir)
        failed = job_exception(outcome) if isinstance(outcome, JobReturn) else outcome
        # the trial's own full disk, or the launcher's (joblib's temporary files): every next trial meets it
        full = DiskFull(reason, remedy=failed.remedy) if isinstance(failed, TrialOutOfSpace) else \
            out_of_space(failed, self.plan.storage) if isinstance(failed, BaseException) else None
        if full is not None:
            self._stop_for(full)
        with self.lock:
            if self.running.pop(trial.number, None) is None:  # already failed by an interrupt
                return
            self._keep_run_dir(trial, run_dir)
            trial.set_user_attr("seconds", round(seconds, 2))
            if reason is not None:
                trial.set_user_attr("fail_reason", reason)
                self.failed_here += 1
                self.last_failure = reason
            self.done_here += 1
            tell(self.study, trial, values if state == TrialState.COMPLETE else None, state)
        # outside the lock, so that the other slots are not kept waiting to ask their next trial (each
        # writer has its own temporary files; run() writes the final results once all slots are done)
        names = objective_names({"metric": self.plan.metric, "objectives": self.plan.objectives})
        log.info(progress_line(self.study, self.plan.n_trials, self._frozen(trial.number), names))
        self._write_results()

    def _run_dir(self, number: int) -> Path:
        """A trial's job folder as the launchers name it (``initial_job_idx`` is the trial's number);
        a finished job's own record of it takes precedence."""
        return self.plan.sweep_dir / str(number)

    def _keep_run_dir(self, trial: optuna.trial.Trial, run_dir: Any) -> None:
        """Record the trial's run folder relative to the study file's folder (the sweep folder, which
        may be moved or copied whole; :func:`trainlab.search.sweep_folder.as_stored`)."""
        trial.set_user_attr(RUN_DIR, as_stored(run_dir, study_folder(self.plan.storage)))

    def _write_results(self) -> dict[str, Any]:
        return write_results(self.study, self.plan.sweep_dir, self.plan.storage, self.plan.metric,
                             self.plan.objectives)

    def _frozen(self, number: int) -> optuna.trial.FrozenTrial:
        return next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)

    def _failure(self, exc: BaseException, run_dir: str) -> str:
        """The reason in one line; the traceback goes to <run dir>/trial_error.txt (a full disk there
        stops the sweep after this trial is recorded FAIL)."""
        reason = str(exc) if isinstance(exc, TrialFailed) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, TrialFailed) and Path(run_dir).is_dir():
            try:
                write_atomic(Path(run_dir, "trial_error.txt"), "".join(traceback.format_exception(exc)))
            except DiskFull as full:
                self._stop_for(full)
        return reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__

    def _interrupt(self, why: str) -> None:
        """Mark every running trial FAIL (the study stays resumable) and write the results."""
        with self.lock:
            self.stopping = True
            for number, trial in list(self.running.items()):
                self.running.pop(number)
                trial.set_user_attr("fail_reason", f"interrupted ({why})")
                run_dir = self._run_dir(number)
                if run_dir.is_dir():  # the job had started: its folder keeps what it wrote (checkpoints)
                    self._keep_run_dir(trial, run_dir)
                tell(self.study, trial, None, TrialState.FAIL)
                queue_again(self.study, trial)  # run first when the study is continued
            self._write_results()
        cancel = getattr(self.launcher, "cancel_unfinished", None)  # hydra/launcher=slurm: the trials' jobs
        cancelled = cancel() if cancel is not None else []
        if cancelled:
            log.info("cancelled SLURM job(s) %s: their trials are marked FAIL", ", ".join(cancelled))

    def _stop_out_of_space(self, full: Optional[DiskFull]) -> None:
        """End the sweep in one line when the disk is full (``full``: what could not be written): every
        next trial would fail the same way, and so would recording them."""
        if full is None:
            return
        study = storage_file(self.plan.storage) or self.plan.storage
        refuse(f"the sweep stopped: {full.what}. The study keeps the trials recorded before ({study}); "
               f"{full.remedy_on('that disk')}, then continue it with the same command plus hydra.sweep.dir="
               f"{self.plan.sweep_dir}")

    def run(self) -> dict[str, Any]:
        """Run trials until the study has ``n_trials``; returns the results summary. Exits the process
        (130 / 143) on Ctrl-C / SIGTERM, and (1) when too many trials failed or the study ended without a
        best (every trial pruned, failed or diverged; not while other processes still run trials)."""
        plan = self.plan
        if self.config is not None:  # shared sweeps: each process writes it
            write_atomic(plan.sweep_dir / MULTIRUN_YAML, OmegaConf.to_yaml(self.config))
        self.signals_before = len(_signals_seen)
        log.info("Optuna study %s in %s: %d of %d trials finished, %d slot(s), sampler %s, pruner %s",
                 plan.study_name, plan.storage, self._finished(), plan.n_trials, plan.slots,
                 type(self.study.sampler).__name__, type(self.study.pruner).__name__)
        if self._finished() >= plan.n_trials:
            done = self._finished()  # it said 'its 1 finished trials' of a study of 2 continued with n_trials=1
            log.info("the study already has %d finished trials, and hydra.sweeper.n_trials=%d counts them: nothing to "
                     "run; to run more, raise hydra.sweeper.n_trials (hydra.sweeper.n_trials=%d runs %d more)", done,
                     plan.n_trials, done + plan.n_trials, plan.n_trials)
        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if plan.slots == 1:
                self._run_slot()  # in the main thread: Ctrl-C reaches the training loop
            else:
                threads = [threading.Thread(target=self._run_slot, args=(i,), name=f"slot{i}", daemon=True)
                           for i in range(plan.slots)]
                for thread in threads:
                    thread.start()
                    time.sleep(0.05)  # stagger the first asks a little
                while any(thread.is_alive() for thread in threads):
                    for thread in threads:
                        thread.join(timeout=0.5)
        except (KeyboardInterrupt, Interrupted, SystemExit) as exc:
            # Lightning turns Ctrl-C during training into SystemExit(1); a job may also exit by itself
            why = _signals_seen[-1] if _signals_seen else f"a job exited the process ({exc})"
            self._interrupt(why)
            print(f"sweep interrupted ({why}); running trials marked FAIL and their configurations queued to run first. "
                  f"Continue the study with the same command plus hydra.sweep.dir={self.continue_in}", file=sys.stderr,
                  flush=True)
            sys.exit(143 if why == "SIGTERM" else 130)
        except Exception as exc:  # noqa: BLE001 - only a full disk is answered here, the rest re-raised
            self._stop_out_of_space(out_of_space(exc, self.plan.storage))
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self._stop_out_of_space(self.out_of_space)
        try:
            result = self._write_results()
        except Exception as exc:  # noqa: BLE001 - as above
            self._stop_out_of_space(out_of_space(exc, self.plan.storage))
            raise
        line = results_line(result, plan.sweep_dir)
        stopped = self._too_many_failures() or (self.failed_here and taken(self.study) < plan.n_trials)
        if no_best(result) and not stopped:  # exit 0 told scripts and CI that this sweep gave a best to take
            print(f"error: {line}", file=sys.stderr, flush=True)
            sys.exit(1)
        log.info(line)
        if stopped:
            print(f"error: the sweep stopped: {self.failed_here} of {self.done_here} trials failed "
                  f"(hydra.sweeper.max_failure_rate={plan.max_failure_rate}); last failure: "
                  f"{self.last_failure}. Results so far: {plan.sweep_dir}", file=sys.stderr, flush=True)
            sys.exit(1)
        return result


def run_sweep(conf: Mapping[str, Any], *, hydra_context: Any, task_function: Any, config: DictConfig,
              arguments: list[str]) -> None:
    """What ``hydra/sweeper=optuna`` does: plan, then run one study, or one per stage when the
    search file declares ``hydra.sweeper.stages`` (:mod:`trainlab.search.stages`)."""
    from hydra.core.plugins import Plugins

    from trainlab.config.errors import report_user_errors
    from trainlab.config.invocation import sweep_without_m, typed_overrides
    from trainlab.search.plan import discard_empty_sweep_dir, plan_sweep
    from trainlab.search.stages import run_stages

    started = sweep_without_m(config, typed_overrides())
    if started:
        log.info(started)
    launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function,
                                                      config=config)
    if conf.get("stages"):
        run_stages(conf, config, arguments, launcher)
        return
    with report_user_errors(on_error=lambda: discard_empty_sweep_dir(config)):
        search = OptunaSearch(plan_sweep(conf, config, arguments, launcher), launcher, config=config)
    advice = next_steps(search.run(), search.plan.sweep_dir)
    if advice:
        log.info(advice)
