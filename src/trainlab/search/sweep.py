"""The Optuna sweeper's work: check the sweep, open the study, run trials in slots, record their fate.

- Every job gets ``optuna_trial={storage, study_name, trial_id}`` (see :mod:`trainlab.search.trial`);
  it reports each epoch and may be pruned in its own process.
- ``n_jobs`` slots, one thread each: a slot asks a trial, launches it as a one-job batch
  (``launcher.launch([overrides], initial_job_idx=trial.number)``), tells the study its fate and asks
  the next, so a slot never waits for another slot's trial. The basic launcher runs jobs inside this
  process, where trials would share torch's global state: with it, trials run one at a time.
  hydra-joblib-launcher runs them in a pool of worker processes that live through the sweep;
  submitit_local starts a new process per job (each trial pays Python's and torch's start-up again).
- Job folders are ``<sweep dir>/<trial number>``: unique across resumed runs of a study.
- The study is ``sqlite:///<sweep dir>/optuna.db`` unless ``storage`` names another; it continues
  until ``n_trials`` trials are COMPLETE or PRUNED, whichever run finished them. Several processes
  may share it (same storage and study name): :mod:`trainlab.search.shared` says how they count.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra.errors import InstantiationException
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write
from optuna.trial import TrialState

from trainlab.config.checks import check_direction
from trainlab.config.errors import UserError, report_user_errors
from trainlab.search.results import progress_line, write_atomic, write_results
from trainlab.search.shared import ask_admitted, close_orphans, create_or_load, storage_url, taken, tell
from trainlab.search.space import as_override, check_keys, grid_values, parse_space
from trainlab.search.trial import TrialFailed

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")
STUDY_FILE = "optuna.db"
_SAMPLER_PACKAGES = {"CmaEsSampler": "cmaes"}  # samplers whose extra package Optuna imports late


class Interrupted(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


_signals_seen: list[str] = []


def _on_signal(signum: int, frame: Any) -> None:
    """SIGINT -> KeyboardInterrupt (Lightning stops a training run cleanly on it), SIGTERM -> Interrupted."""
    _signals_seen.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(_signals_seen[-1])


def _suggest(trial: optuna.trial.Trial, space: Mapping[str, Any]) -> None:
    """Draw the space's parameters, in its order: what ``study.ask(space)`` does, after the ask."""
    for name, dist in space.items():
        if isinstance(dist, optuna.distributions.FloatDistribution):
            trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
        elif isinstance(dist, optuna.distributions.IntDistribution):
            trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            trial.suggest_categorical(name, dist.choices)


def _build(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate a sampler or pruner node; a bad argument becomes a UserError naming the node.

    (Not trainlab.config.instantiate.build: that module imports lightning, seconds the sweeper does not need.)
    """
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        hint = (f"; choose it with {key.replace('.', '/', 2)}=<name>, which brings only its own keys"
                if isinstance(cause, TypeError) else "")
        raise UserError(f"{key} ({node._target_}): {cause}{hint}") from None


class OptunaSearch:
    """One sweep over ``config``; ``conf`` is ``hydra.sweeper`` as the plugin received it."""

    def __init__(self, conf: Mapping[str, Any], *, hydra_context: HydraContext, task_function: TaskFunction,
                 config: DictConfig):
        self.conf = conf
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)
        self.lock = threading.Lock()
        self.running: dict[int, optuna.trial.Trial] = {}
        self.done_here = 0
        self.failed_here = 0
        self.last_failure = ""

    # --- checks and set-up, before any trial ---------------------------------------------------------

    def _check_numbers(self) -> list[str]:
        conf = self.conf
        if conf["n_trials"] is None or conf["n_trials"] < 1:
            raise UserError(f"hydra.sweeper.n_trials={conf['n_trials']} must be 1 or more")
        if conf["n_jobs"] is None or conf["n_jobs"] < 1:
            raise UserError(f"hydra.sweeper.n_jobs={conf['n_jobs']} must be 1 or more")
        if not 0.0 <= conf["max_failure_rate"] <= 1.0:
            raise UserError(f"hydra.sweeper.max_failure_rate={conf['max_failure_rate']} must be within 0..1")
        direction = conf["direction"]
        directions = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
        directions = [str(d).lower() for d in directions]
        for d in directions:
            if d not in DIRECTIONS:
                raise UserError(f"hydra.sweeper.direction={direction} must be minimize or maximize (or a list of them)")
        check_direction(directions, self.config)
        return directions

    def _sampler(self, space: Mapping[str, Any], trials_before: int = 0) -> optuna.samplers.BaseSampler:
        """Build the sampler; a study continued with a seeded sampler gets seed + its trial count, so the
        continuation draws new points instead of repeating the first run's."""
        node = self.conf["sampler"]
        if not node or "_target_" not in node:
            raise UserError("hydra.sweeper.sampler is not set; pick one with hydra/sweeper/sampler=tpe "
                            "(random, cmaes, grid, nsgaii, qmc)")
        target = str(node._target_)
        module, _, name = target.rpartition(".")
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            raise UserError(f"hydra.sweeper.sampler._target_={target} is not an Optuna sampler that can be imported; "
                            "pick one with hydra/sweeper/sampler=tpe | random | cmaes | grid | nsgaii | qmc") from None
        needs = _SAMPLER_PACKAGES.get(name)
        if needs and importlib.util.find_spec(needs) is None:  # imported only at the first model-based sample
            raise UserError(f"hydra.sweeper.sampler._target_={target} needs the '{needs}' package: pip install {needs}, "
                            "or choose another sampler (tpe, random, qmc)")
        kwargs = {}
        if name == "GridSampler" and not node.get("search_space"):
            kwargs["search_space"] = grid_values(space)
        if trials_before and node.get("seed") is not None:
            kwargs["seed"] = int(node.seed) + trials_before
        return _build(node, "hydra.sweeper.sampler", **kwargs)

    def _pruner(self) -> optuna.pruners.BasePruner:
        node = self.conf.get("pruner")
        return _build(node, "hydra.sweeper.pruner") if node else optuna.pruners.NopPruner()

    def _pin_sweep_dir(self) -> Path:
        """Resolve ``hydra.sweep.dir`` once and hand the literal to every job.

        Its ``${uid:}`` is drawn per process: a job composed in a launcher's worker process would
        otherwise land in a folder of its own.
        """
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        with read_write(self.config.hydra), open_dict(self.config.hydra):
            self.config.hydra.sweep.dir = str(sweep_dir)
            self.config.hydra.overrides.hydra.append(as_override("hydra.sweep.dir", str(sweep_dir)))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        return sweep_dir

    def _slots(self) -> int:
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher

        n_jobs = int(self.conf["n_jobs"])
        if n_jobs > 1 and isinstance(self.launcher, BasicLauncher):
            log.warning("hydra.sweeper.n_jobs=%d with the basic launcher, which runs jobs inside this process: "
                        "trials run one at a time; for parallel trials add hydra/launcher=joblib "
                        "(or submitit_local)", n_jobs)
            return 1
        return n_jobs

    def _thread_override(self, slots: int, fixed: Sequence[str], space: Mapping[str, Any]) -> list[str]:
        """Parallel trials split the CPU threads, unless the command line or the space sets them."""
        key = "hardware.num_threads"
        if slots == 1 or "hardware" not in self.config or key in space or any(f.startswith(key + "=") for f in fixed):
            return []
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return [f"{key}={max(1, cores // slots)}"]

    def _open_study(self, storage: str, study_name: str, directions: list[str]) -> optuna.Study:
        """Create the study or continue it; its sampler and pruner are set by the caller."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress lines say what matters
        try:
            study = create_or_load(storage, study_name, directions)
        except (ValueError, ImportError) as exc:
            hint = ("; for psycopg2 (pip install psycopg2-binary) write postgresql+psycopg2://..."
                    if isinstance(exc, ImportError) and storage.startswith("postgresql:") else "")
            raise UserError(f"hydra.sweeper.storage={storage}: cannot open the study: {exc}{hint}") from None
        found = [d.name.lower() for d in study.directions]
        if found != directions:
            raise UserError(f"study {study_name} in {storage} has direction {found}, not {directions}; "
                            "use another hydra.sweeper.study_name")
        close_orphans(study)  # trials of this host's sweeps that were killed
        return study

    def prepare(self, arguments: list[str]) -> None:
        """Everything that can be wrong with the sweep is found here, before any trial."""
        self.directions = self._check_numbers()
        self.space, self.fixed = parse_space(self.conf.get("params"), self.conf.get("search_space"), arguments)
        custom = self.conf.get("custom_search_space")
        self.custom = None
        if custom:
            try:
                self.custom = get_method(custom)
            except Exception as exc:  # noqa: BLE001 - any import failure means the same thing to the user
                raise UserError(f"hydra.sweeper.custom_search_space={custom} cannot be imported: {exc}") from None
        if not self.space and self.custom is None:
            raise UserError("the search space is empty: give hydra.sweeper.params (e.g. "
                            "optimizer.lr: tag(log, interval(1e-5, 1e-3))) or hydra.sweeper.search_space")
        check_keys(self.config, self.space)
        sampler = self._sampler(self.space)  # checked before anything is written
        self.pruner = self._pruner()
        self.n_trials = int(self.conf["n_trials"])
        if isinstance(sampler, optuna.samplers.GridSampler):
            grid = self.conf["sampler"].get("search_space") or grid_values(self.space)
            size = math.prod(len(v) for v in grid.values())
            if size < self.n_trials:
                log.info("the grid has %d points: n_trials %d -> %d", size, self.n_trials, size)
                self.n_trials = size
        self.sweep_dir = self._pin_sweep_dir()
        self.storage = storage_url(self.conf.get("storage"), self.sweep_dir / STUDY_FILE)
        self.study_name = self.conf.get("study_name") or self.sweep_dir.name
        self.study = self._open_study(self.storage, self.study_name, self.directions)
        self.next_number = len(self.study.trials)  # the number this process's next trial gets if it is alone
        self.sampler = self.study.sampler = self._sampler(self.space, trials_before=self.next_number)
        self.study.pruner = self.pruner
        self.slots = self._slots()
        self.fixed += self._thread_override(self.slots, self.fixed, self.space)
        self.trial_key = "optuna_trial" if "optuna_trial" in self.config else "+optuna_trial"
        self.metric = str(self.config.get("optimized_metric", "objective"))
        write_atomic(self.sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))  # shared sweeps: each writes

    # --- the trials ----------------------------------------------------------------------------------

    def _finished(self) -> int:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def _too_many_failures(self) -> bool:
        return self.done_here > 0 and self.failed_here / self.done_here > float(self.conf["max_failure_rate"])

    def _next_trial(self) -> Optional[tuple[optuna.trial.Trial, list[str]]]:
        """Ask a trial, or None when the study has enough (finished and running, of every process
        sharing it) or failures stop it."""
        with self.lock:
            if self.stopping or self._too_many_failures() or self.failed_here >= self.n_trials:
                return None
            trial = ask_admitted(self.study, self.n_trials)
            if trial is None:
                return None
            self._reseed(trial.number)
            _suggest(trial, self.space)
            if self.custom is not None:
                self.custom(self.config, trial)
            self.running[trial.number] = trial
        info = {"storage": self.storage, "study_name": self.study_name, "trial_id": trial._trial_id}
        handover = ",".join(f"{k}:{as_override('', v)[1:]}" for k, v in info.items())
        overrides = [*self.fixed, *(as_override(k, v) for k, v in trial.params.items()),
                     f"{self.trial_key}={{{handover}}}"]
        return trial, overrides

    def _reseed(self, number: int) -> None:
        """When another process has asked trials since this one's last ask, seed a seeded sampler again
        with seed + this trial's number: processes started with one command must not draw the same
        points. Alone, a process keeps its sampler. (QMC's points are counted in the study, not drawn.)"""
        if (number != self.next_number and self.conf["sampler"].get("seed") is not None
                and not isinstance(self.sampler, optuna.samplers.QMCSampler)):
            self.sampler = self.study.sampler = self._sampler(self.space, trials_before=number)
        self.next_number = number + 1

    def _run_slot(self) -> None:
        while not self.stopping and (item := self._next_trial()) is not None:
            trial, overrides = item
            start = time.perf_counter()
            try:
                (outcome,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
            except Exception as exc:  # noqa: BLE001 - a broken worker pool fails this trial, not the sweep
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
        run_dir = str(self.sweep_dir / str(trial.number))
        state, values, reason = TrialState.FAIL, None, None
        if isinstance(outcome, JobReturn):
            run_dir = str(outcome.hydra_cfg.hydra.runtime.output_dir) if outcome.hydra_cfg else run_dir
            if outcome.status == JobStatus.COMPLETED:
                values, reason = self._values(outcome.return_value)
                state = TrialState.COMPLETE if reason is None else TrialState.FAIL
            elif isinstance(outcome._return_value, optuna.TrialPruned):
                state = TrialState.PRUNED
            else:
                reason = self._failure(outcome._return_value, run_dir)
        else:
            reason = self._failure(outcome, run_dir)
        with self.lock:
            if self.running.pop(trial.number, None) is None:  # already failed by an interrupt
                return
            trial.set_user_attr("run_dir", run_dir)
            trial.set_user_attr("seconds", round(seconds, 2))
            if reason is not None:
                trial.set_user_attr("fail_reason", reason)
                self.failed_here += 1
                self.last_failure = reason
            self.done_here += 1
            tell(self.study, trial, values if state == TrialState.COMPLETE else None, state)
        # outside the lock, so that the other slots are not kept waiting to ask their next trial (each
        # writer has its own temporary files; run() writes the final results once all slots are done)
        log.info(progress_line(self.study, self.n_trials, self._frozen(trial.number), self.metric))
        write_results(self.study, self.sweep_dir, self.storage, self.metric)

    def _frozen(self, number: int) -> optuna.trial.FrozenTrial:
        return next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)

    def _values(self, returned: Any) -> tuple[Optional[list[float]], Optional[str]]:
        values = list(returned) if isinstance(returned, (list, tuple, ListConfig)) else [returned]
        if len(values) != len(self.directions):
            return None, f"the job returned {len(values)} value(s) for {len(self.directions)} direction(s)"
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            return None, f"the job returned {returned!r}, not a number"
        if not all(math.isfinite(v) for v in values):
            return None, f"{self.metric} is {values if len(values) > 1 else values[0]}"
        return values, None

    @staticmethod
    def _failure(exc: BaseException, run_dir: str) -> str:
        """The reason in one line; the traceback goes to <run dir>/trial_error.txt."""
        reason = str(exc) if isinstance(exc, TrialFailed) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, TrialFailed) and Path(run_dir).is_dir():
            Path(run_dir, "trial_error.txt").write_text("".join(traceback.format_exception(exc)))
        return reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__

    def _interrupt(self, why: str) -> None:
        """Mark every running trial FAIL (the study stays resumable) and write the results."""
        with self.lock:
            self.stopping = True
            for number, trial in list(self.running.items()):
                self.running.pop(number)
                trial.set_user_attr("fail_reason", f"interrupted ({why})")
                tell(self.study, trial, None, TrialState.FAIL)
            write_results(self.study, self.sweep_dir, self.storage, self.metric)

    def run(self, arguments: list[str]) -> None:
        with report_user_errors():
            self.prepare(arguments)
        self.stopping = False
        self.signals_before = len(_signals_seen)
        before = self._finished()
        log.info("Optuna study %s in %s: %d of %d trials finished, %d slot(s), sampler %s, pruner %s",
                 self.study_name, self.storage, before, self.n_trials, self.slots,
                 type(self.sampler).__name__, type(self.pruner).__name__)
        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if self.slots == 1:
                self._run_slot()  # in the main thread: Ctrl-C reaches the training loop
            else:
                threads = [threading.Thread(target=self._run_slot, name=f"slot{i}", daemon=True)
                           for i in range(self.slots)]
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
            print(f"sweep interrupted ({why}); running trials marked FAIL. Continue the study with the same "
                  f"command plus hydra.sweep.dir={self.sweep_dir}", file=sys.stderr, flush=True)
            sys.exit(143 if why == "SIGTERM" else 130)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        result = write_results(self.study, self.sweep_dir, self.storage, self.metric)
        log.info("results in %s: best %s %s with %s", self.sweep_dir, self.metric,
                 result.get("best_value"), result.get("best_params"))
        if self._too_many_failures() or (self.failed_here and taken(self.study) < self.n_trials):
            print(f"error: the sweep stopped: {self.failed_here} of {self.done_here} trials failed "
                  f"(hydra.sweeper.max_failure_rate={self.conf['max_failure_rate']}); last failure: "
                  f"{self.last_failure}. Results so far: {self.sweep_dir}", file=sys.stderr, flush=True)
            sys.exit(1)
