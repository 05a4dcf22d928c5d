"""Staged search: tune the parameters that matter most first, then the rest with those fixed.

Two ways in:

- **Stages in one command.** A search file lists ``hydra.sweeper.stages``, groups of the searched
  parameters (conf/hparams_search/staged.yaml)::

      stages:
        - {name: architecture, params: [model.net.hidden_size, model.net.num_layers]}
        - {name: optimisation, params: [optimizer.lr, data.batch_size]}

  Stage 1 searches its group with every other parameter at its config default. Stage k searches its
  group with the best values of stages 1..k-1 fixed, and runs first the configuration those stages
  ended with (its own parameters at their defaults), so it starts from the best point found so far.
  Each stage is a study of its own in ``<sweep dir>/<k>_<name>/`` (optuna.db, trials, run folders),
  with ``stage_trials[k]`` trials (default ``n_trials``). ``<sweep dir>/stages.yaml`` says what each
  stage searched, what it fixed and why, and its folder (relative to the sweep folder).
- **From an earlier sweep** (``make stage2 SWEEP=<dir> TOP=3``, or the sweeper keys
  ``fix_top_of=<dir>`` and ``fix_top=<k>``): the earlier study's k most important parameters
  (fANOVA) are fixed at its best trial's values, the rest searched, and the best trial's values of
  the rest run first.

The closing step, retraining the best configuration longer, is ``make refine SWEEP=<stage folder>``.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import optuna
import sqlalchemy
import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.errors import UserError, did_you_mean, report_user_errors
from trainlab.config.rerun import sets_epochs, without_epochs
from trainlab.run.durable import read_yaml, write_atomic
from trainlab.search.checks import contains
from trainlab.search.plan import SweepPlan, discard_empty_sweep_dir, pin_sweep_dir, plan_sweep
from trainlab.search.results import no_best_line, trial_counts, warn_running
from trainlab.search.sweep_folder import (DAMAGED_MULTIRUN, MULTIRUN_YAML, STAGES_YAML, STUDY_FILE, as_stored,
                                          STORAGE_HELP, give_storage, given_sweep, load_sweep_study, said_of)
from trainlab.search.trials import best_trials
from trainlab.search.space import as_override
from trainlab.search.tool_args import ToolParser

log = logging.getLogger(__name__)



def check_stage_trials(conf: Mapping[str, Any], config: DictConfig) -> None:
    """``stage_trials``: one count of 1 or more per stage, adding up to ``n_trials`` when the command line
    sets that (hparams_search=staged's [10, 10] silently ran 20 trials for hydra.sweeper.n_trials=40)."""
    counts = conf.get("stage_trials")
    if not counts:
        return
    counts = list(counts)
    for i, count in enumerate(counts):
        if not isinstance(count, int) or count < 1:
            raise UserError(f"hydra.sweeper.stage_trials[{i}]={count} must be 1 or more: a stage needs a finished "
                            "trial, whose best the next stage fixes")
    given = OmegaConf.select(config, "hydra.overrides.hydra", default=None) or []
    if any(str(o).lstrip("+").startswith("hydra.sweeper.n_trials=") for o in given) and sum(counts) != conf["n_trials"]:
        share = [conf["n_trials"] // len(counts) + (i < conf["n_trials"] % len(counts)) for i in range(len(counts))]
        raise UserError(f"hydra.sweeper.n_trials={conf['n_trials']}, but hydra.sweeper.stage_trials={counts} adds up to "
                        f"{sum(counts)}: each stage runs its own count; give hydra.sweeper.stage_trials="
                        f"[{','.join(map(str, share))}] instead of n_trials")


STAGE_KEYS = ("name", "params")  # the keys of one entry of hydra.sweeper.stages


def check_stage_entries(stages: Any) -> None:
    """Each entry of ``hydra.sweeper.stages`` is {name, params: [keys]}: a key of another name was read by
    nothing (``param:`` left the stage empty, ``trials: 5`` ran n_trials), params given as one string
    were read letter by letter, an entry that is no mapping ended in a traceback."""
    for i, stage in enumerate(stages or []):
        where = f"hydra.sweeper.stages[{i}]"
        if not isinstance(stage, (Mapping, DictConfig)):
            raise UserError(f"{where}={stage!r} must be a mapping {{name: <name>, params: [<searched keys>]}}")
        unknown = [str(k) for k in stage if k not in STAGE_KEYS]
        if unknown:
            counts = "; a stage's trials are given by hydra.sweeper.stage_trials" \
                if any("trial" in k for k in unknown) else ""
            raise UserError(f"{where}: {', '.join(unknown)} is not a key of a stage, which takes "
                            f"{' and '.join(STAGE_KEYS)}{counts}")
        params = stage.get("params")
        if params is not None and (isinstance(params, str) or not isinstance(params, (Sequence, ListConfig))):
            raise UserError(f"{where}.params={params!r} must be a list of searched keys, e.g. [{params}]")
        name = stage.get("name")
        if name is not None and (not str(name).strip() or any(sep in str(name) for sep in ("/", "\\"))):
            raise UserError(f"{where}.name={name!r} names the stage's folder (<sweep dir>/{i + 1}_<name>): give a word "
                            f"without /, or leave it out (stage{i + 1})")


def stage_counts(conf: Mapping[str, Any], n_trials: int) -> list[int]:
    """The trials of each of ``hydra.sweeper.stages``: ``stage_trials``, or ``n_trials`` each where null."""
    return list(conf.get("stage_trials") or [n_trials] * len(conf["stages"]))


def stage_groups(conf: Mapping[str, Any], space_keys: Sequence[str], n_trials: int,
                 fixed: Sequence[str] = ()) -> list[tuple[str, list[str], int]]:
    """(name, parameters, trials) per stage; every searched parameter in exactly one stage. A stage's key that
    the command line fixes (``model.net.hidden_size=8``) is not searched; a stage left with none is
    skipped. Both are logged."""
    check_stage_entries(conf["stages"])
    given = {f.split("=", 1)[0].lstrip("+~") for f in fixed}
    counts = stage_counts(conf, n_trials)
    if len(counts) != len(conf["stages"]):
        raise UserError(f"hydra.sweeper.stage_trials has {len(counts)} entries for {len(conf['stages'])} stages; give "
                        "one count per stage (or null: hydra.sweeper.n_trials each)")
    groups, seen = [], {}
    for i, stage in enumerate(conf["stages"]):
        name = str(stage.get("name") or f"stage{i + 1}")
        listed = [str(p) for p in (stage.get("params") or [])]
        if not listed:
            raise UserError(f"hydra.sweeper.stages[{i}] ({name}) lists no params")
        params = [key for key in listed if key not in given]
        if len(params) < len(listed):
            log.info("stage %s: %s fixed on the command line, not searched", name,
                     ", ".join(k for k in listed if k in given))
        for key in params:
            if key not in space_keys:
                raise UserError(f"hydra.sweeper.stages[{i}].params: {key} is not a searched parameter; "
                                f"searched: {', '.join(space_keys)}{_stage_key_hint(key, space_keys)}")
            if key in seen:
                raise UserError(f"hydra.sweeper.stages: {key} is in stage {seen[key]} and stage {name}")
            seen[key] = name
        if params:
            groups.append((name, params, int(counts[i])))
        else:
            log.info("stage %s: every parameter is fixed on the command line; skipped", name)
    left = [k for k in space_keys if k not in seen]
    if left:
        raise UserError(f"hydra.sweeper.stages: {', '.join(left)} searched but in no stage; add them to a stage "
                        "or drop them from hydra.sweeper.params")
    return groups


def _stage_key_hint(key: str, space_keys: Sequence[str]) -> str:
    """Another model's key (hparams_search=staged groups the LSTM's), or a misspelt one."""
    from trainlab.config.search_path import options_with_key

    group, _, rest = key.partition(".")
    owners = options_with_key(group, rest) if group == "model" else []
    if owners:
        return (f" ({key} is a key of {' or '.join(owners)}; for another model give stages of "
                "its own space: hydra.sweeper.stages=[{name: ..., params: [...]}, ...])")
    hint = did_you_mean(key, space_keys)
    return f"; {hint}" if hint else ""


def best_params(study: optuna.Study, rule: Any = None,
                where: Optional[str] = None) -> tuple[optuna.trial.FrozenTrial, dict[str, Any]]:
    """The trial a stage hands on: the best, or on a Pareto front the one ``rule`` picks; without one, the
    verdict naming ``where`` (the sweep folder; default: the study) is refused."""
    from trainlab.search.front import pick

    front = best_trials(study)
    if not front:
        raise UserError(no_best_line(where or f"study {study.study_name}", trial_counts(study)))
    chosen = front[0] if len(front) == 1 else pick(front, study.directions, rule)
    return chosen, dict(chosen.params)


def stage_plans(base: SweepPlan, conf: Mapping[str, Any]) -> list[tuple[str, SweepPlan]]:
    """One plan per stage, before any runs: its own folder, study and space; fixing happens later."""
    for key in ("enqueue", "warm_start", "fix_top_of", "custom_search_space"):
        if conf.get(key):
            raise UserError(f"hydra.sweeper.{key} is not supported together with hydra.sweeper.stages "
                            "(each stage enqueues the previous stage's best itself); drop one of them")
    groups = stage_groups(conf, list(base.space), base.n_trials, base.fixed)
    plans = []
    for i, (name, keys, n_trials) in enumerate(groups, 1):
        folder = base.sweep_dir / f"{i}_{name}"
        plans.append((name, replace(base, space={k: base.space[k] for k in keys}, n_trials=int(n_trials),
                                    sweep_dir=folder, study_name=f"{base.study_name}-{i}_{name}",
                                    storage=base.storage.replace(str(base.sweep_dir / STUDY_FILE),
                                                                 str(folder / STUDY_FILE)),
                                    fixed=list(base.fixed), enqueue=[])))
    return plans


def check_continued_stages(plans: Sequence[tuple[str, SweepPlan]]) -> None:
    """A continued staged search: every stage whose study exists already is opened, and so checked (its
    space, direction, metric, name), before the first stage runs a trial. A later stage's changed range was
    refused only when that stage began, after the earlier stages' new trials had run. Studies not made yet
    are not made here: a refusal meanwhile leaves no empty stage folder."""
    from trainlab.search.shared import open_storage, storage_url
    from trainlab.search.sweep import open_study

    for _, plan in plans:
        own_file = plan.sweep_dir / STUDY_FILE
        if plan.storage == storage_url(None, own_file):
            exists = own_file.is_file()
        else:  # a shared storage holds every stage's study under its own name
            try:
                exists = plan.study_name in optuna.get_all_study_names(storage=open_storage(plan.storage))
            except sqlalchemy.exc.SQLAlchemyError:  # not answering: said by the first stage's opening, with retries
                exists = False
        if exists:
            open_study(plan)


def defaults_of(config: DictConfig, keys: Sequence[str]) -> dict[str, Any]:
    return {k: OmegaConf.select(config, k, default=None) for k in keys}


def run_stages(conf: Mapping[str, Any], config: DictConfig, arguments: list[str], launcher: Any) -> None:
    """Run the stages one after the other; write stages.yaml after each."""
    from trainlab.search.sweep import OptunaSearch

    with report_user_errors(on_error=lambda: discard_empty_sweep_dir(config)):
        check_stage_entries(conf["stages"])
        check_stage_trials(conf, config)
        base = plan_sweep(conf, config, arguments, launcher)
        if (base.sweep_dir / STUDY_FILE).is_file():  # one stage's folder: the stages began anew inside it, unsaid
            raise UserError(f"hydra.sweep.dir={base.sweep_dir} holds one stage's study ({STUDY_FILE}); a staged "
                            f"search is continued from its own folder: hydra.sweep.dir={base.sweep_dir.parent}")
        plans = stage_plans(base, conf)
        check_continued_stages(plans)
    fixed: dict[str, Any] = {}
    record: list[dict[str, Any]] = []
    for i, (name, plan) in enumerate(plans, 1):
        plan.sweep_dir.mkdir(parents=True, exist_ok=True)
        pin_sweep_dir(config, plan.sweep_dir)
        start = {k: v for k, v in defaults_of(config, list(plan.space)).items() if contains(plan.space[k], v)}
        plan = replace(plan, fixed=[*base.fixed, *(as_override(k, v) for k, v in fixed.items())],
                       enqueue=[start] if fixed and start else [])
        with report_user_errors(on_error=lambda: discard_empty_sweep_dir(config, top=base.sweep_dir)):
            search = OptunaSearch(plan, launcher, config=config)
            search.continue_in = base.sweep_dir  # an interrupted stage named its own folder, which began anew inside
            keep_fixed(search.study, fixed, i, name)
        log.info("stage %d/%d (%s): searching %s; fixed: %s", i, len(plans), name, ", ".join(plan.space),
                 ", ".join(f"{k}={v}" for k, v in fixed.items()) or "nothing yet")
        search.run()
        with report_user_errors():
            best, params = best_params(search.study, conf.get("pick"))
        record.append({"stage": i, "name": name, "folder": as_stored(plan.sweep_dir, base.sweep_dir), "searched": list(plan.space),
                       "fixed": {k: {"value": v, "why": why} for k, (v, why) in _why(fixed, record).items()},
                       "enqueued_first": plan.enqueue[0] if plan.enqueue else None,
                       "best_trial": best.number, "best_values": list(best.values), "best_params": params})
        fixed.update(params)
        write_atomic(base.sweep_dir / STAGES_YAML, yaml.safe_dump({"stages": record}, sort_keys=False))
    log.info("stages done: %s; retrain the best longer with make refine SWEEP=%s", base.sweep_dir / STAGES_YAML,
             shlex.quote(str(plans[-1][1].sweep_dir)))  # one word for the shell, as a plain sweep's 'next:' line


FIXED_ATTR = "stage_fixed"  # a stage study's user attribute: the earlier stages' values its trials ran with


def keep_fixed(study: optuna.Study, fixed: Mapping[str, Any], number: int, name: str) -> None:
    """A stage's study is searched with one set of fixed values: when a continued staged search gave an
    earlier stage more trials and its best moved, this stage's trials so far ran with other values."""
    before = study.user_attrs.get(FIXED_ATTR)
    if before is None:
        study.set_user_attr(FIXED_ATTR, dict(fixed))
    elif before != dict(fixed):
        moved = ", ".join(f"{k}={before.get(k)} -> {v}" for k, v in fixed.items() if before.get(k) != v)
        raise UserError(f"stage {number} ({name}) ran its trials with the earlier stages' best as it was, and that "
                        f"best has moved ({moved}); its trials would mix both: start a new staged search (another "
                        "hydra.sweep.dir), or continue this one without more trials for the earlier stages "
                        "(hydra.sweeper.stage_trials as before)")


def _why(fixed: Mapping[str, Any], record: list[dict[str, Any]]) -> dict[str, tuple[Any, str]]:
    """For each fixed value: the stage whose best trial it came from."""
    out = {}
    for stage in record:
        for key, value in stage["best_params"].items():
            if key in fixed:
                out[key] = (value, f"best of stage {stage['stage']} ({stage['name']}), trial {stage['best_trial']} "
                                   f"with {stage['best_values']}")
    return out


# --- stage 2 from an earlier sweep ------------------------------------------------------------------

def top_fixed(sweep_dir: Path, top: int, key: str = "TOP") -> tuple[dict[str, Any], dict[str, Any], dict[str, float], int]:
    """(fixed: the k most important parameters at the best trial's values, the best's other values,
    every importance, the number of trials) of an earlier sweep; ``key``: what set ``top``, for messages
    (make stage2's TOP, or the sweeper's hydra.sweeper.fix_top)."""
    from trainlab.search.analyze import importances

    study = load_sweep_study(sweep_dir)
    best, params = best_params(study, where=str(sweep_dir))  # the folder given, not the study's name
    found = importances(study)
    if not found:
        from trainlab.search.importance import not_ranked

        why = not_ranked(study) or "fANOVA could not rank them"
        raise UserError(f"{sweep_dir}: its parameters cannot be ranked by importance: {why}; continue that sweep "
                        "with more trials (hydra.sweeper.n_trials), then run stage 2")
    if len(found) == 1:  # 'fix 1..0 of them': no TOP works, and the line named none that would
        raise UserError(f"{sweep_dir} searched one parameter ({next(iter(found))}): stage 2 fixes some of a sweep's "
                        "parameters and searches the rest, so there is nothing left to search; retrain its best with "
                        f"make refine SWEEP={sweep_dir}, or search more parameters in a new sweep")
    if not 1 <= top < len(found):  # 0 fixes nothing: that would be the earlier sweep again
        can = "1" if len(found) == 2 else f"1..{len(found) - 1}"
        raise UserError(f"{key}={top}: the sweep searched {len(found)} parameters ({', '.join(found)}) and stage 2 "
                        f"searches at least one; fix {can} of them ({key}={len(found) - 1})")
    ranked = list(found)  # most important first
    fixed = {k: params[k] for k in ranked[:top]}
    rest = {k: v for k, v in params.items() if k not in fixed}
    return fixed, rest, found, len(study.trials)


def fix_top_of_earlier(plan: SweepPlan, conf: Mapping[str, Any]) -> SweepPlan:
    """Apply ``fix_top_of`` / ``fix_top`` to a plan: fixed keys leave the space, the rest start at the
    earlier best."""
    typed = conf["fix_top_of"]
    source = Path(str(typed)).expanduser().resolve()
    top = conf.get("fix_top")
    try:
        fixed, rest, found, trials = top_fixed(source, 3 if top is None else int(top), "hydra.sweeper.fix_top")
    except UserError as exc:  # the earlier sweep's refusal, said of the key and the folder as typed
        raise said_of("hydra.sweeper.fix_top_of", typed, source, exc) from None
    unknown = [k for k in fixed if k not in plan.space]
    if unknown:
        raise UserError(f"hydra.sweeper.fix_top_of={typed}: {', '.join(unknown)} is not searched here")
    for i, entry in enumerate(plan.enqueue):  # its value would be dropped for the fixed one without a word
        clash = [k for k in entry if k in fixed]
        if clash:
            raise UserError(f"hydra.sweeper.enqueue[{i}].{clash[0]} is fixed by hydra.sweeper.fix_top_of (at "
                            f"{fixed[clash[0]]}, that sweep's best), so its value here would not be run; drop it from "
                            "the configuration")
    space = {k: d for k, d in plan.space.items() if k not in fixed}
    start = {k: v for k, v in rest.items() if k in space and contains(space[k], v)}
    log.info("fixed from %s by importance: %s", source,
             ", ".join(f"{k}={v} (importance {found[k]:.2f})" for k, v in fixed.items()))
    # seed_offset: a seeded sampler would otherwise draw the earlier study's first points again
    return replace(plan, space=space, fixed=[*plan.fixed, *(as_override(k, v) for k, v in fixed.items())],
                   enqueue=[start, *plan.enqueue] if start else plan.enqueue, seed_offset=trials)


def stage2_command(sweep_dir: Path, top: int, extra: Sequence[str], root: Path) -> list[str]:
    """train.py -m with the earlier sweep's own overrides (its task's and its hydra.* ones: n_trials,
    pruner, launcher ...) plus the fixing keys, then ``extra``. Its enqueued and warm-start trials are
    left out: they ran in (or were copied into) the earlier sweep, whose best stage 2 starts from, and
    they name the keys stage 2 fixes, which its plan refuses."""
    multirun = read_yaml(sweep_dir / MULTIRUN_YAML, DAMAGED_MULTIRUN)
    own = ("hydra.sweep.dir=", "hydra.sweeper.fix_top_of=", "hydra.sweeper.fix_top=")
    ran = ("hydra.sweeper.enqueue=", "hydra.sweeper.warm_start=")
    earlier = [o for group in ("hydra", "task") for o in multirun["hydra"]["overrides"][group]
               if not o.startswith(own)]
    left = [o for o in earlier if o.startswith(ran)]
    if left:
        log.info("stage 2 leaves out %s: those trials are in %s's study, whose best it starts from", ", ".join(left),
                 sweep_dir)
        earlier = [o for o in earlier if o not in left]
    if any(sets_epochs(o) for o in extra):  # ARGS=trainer.max_epochs=5 after the sweep's epochs=1: refused as both
        earlier = without_epochs(earlier)
    if not any(o.startswith("hparams_search=") for o in earlier):
        earlier.insert(0, "hparams_search=optuna")
    from trainlab.search.refine import anchored, beside, config_flags, follow_move

    earlier = anchored(sweep_dir, follow_move(sweep_dir, earlier))
    earlier = beside(sweep_dir, earlier, list(extra), root, "stage 2's sweep")
    return [sys.executable, str(root / "train.py"), *config_flags(sweep_dir, root, searchpath=False), "-m", *earlier,
            as_override("hydra.sweeper.fix_top_of", str(sweep_dir.resolve())), f"hydra.sweeper.fix_top={top}", *extra]


def main(argv: Optional[list[str]] = None) -> int:
    parser = ToolParser(description="Stage 2 from an earlier sweep: fix its TOP most important parameters at their "
                        "best values and search the rest", target="stage2",
                        variables={"--top": "TOP", "--storage": "STORAGE"})
    parser.add_argument("sweep_dir", type=Path, nargs="?")  # none: refused in one line naming make's SWEEP=
    parser.add_argument("--top", type=int, default=3, help="how many parameters to fix (by fANOVA importance)")
    parser.add_argument("--storage", help=STORAGE_HELP)
    parser.add_argument("overrides", nargs="*", help="more overrides for train.py")
    args = parser.parse_intermixed_args(argv)
    from trainlab.run.root import repo_root

    with report_user_errors():  # what can be known here is refused before train.py starts
        given_sweep(args.sweep_dir, "stage2", "stages")
        if args.storage:  # in the environment: the train.py started below reads the same study (fix_top_of)
            give_storage(args.sweep_dir, args.storage)
        study = load_sweep_study(args.sweep_dir)
        best_params(study, where=str(args.sweep_dir))
        warn_running(study, args.sweep_dir)
        if args.top < 1:
            raise UserError(f"TOP={args.top}: give how many of the sweep's most important parameters to fix, 1 or more")
        top_fixed(args.sweep_dir, args.top)  # what the new sweep's plan would refuse (too few trials, TOP too big)
        if not (args.sweep_dir / MULTIRUN_YAML).is_file():
            raise UserError(f"{args.sweep_dir} has no multirun.yaml, so its command is unknown; give the folder of a "
                            "sweep run by train.py -m")
        command = stage2_command(args.sweep_dir, args.top, args.overrides, repo_root())
    from trainlab.search.refine import call_train

    return call_train(command)


if __name__ == "__main__":
    sys.exit(main())
