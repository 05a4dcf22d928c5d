"""Retrain a sweep's best trial with more epochs (the closing step): ``python -m trainlab.search.refine <sweep dir>``.

Takes the best trial's own overrides (<run>/.hydra/overrides.yaml), drops what belonged to the search
(``hparams_search``, ``optuna_trial``, the epoch cap, ``hydra.*``), and runs train.py once with
``trainer.max_epochs=<--epochs>`` plus any extra overrides, given before or after the options
(``make refine SWEEP=<dir> EPOCHS=2 ARGS="logger=none"``). A two-objective sweep has a front, not a
best: ``--within 0.01 --then 1`` takes the best by objective 1 of the trials within 1 % of the best
objective 0 (:func:`trainlab.search.front.pick`); without them, the sweep's own ``hydra.sweeper.pick``
(hparams_search=optuna_two_objectives sets one), else the best by objective 0.
"""

from __future__ import annotations

import logging
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from trainlab.config.rerun import SWEEP_ONLY, one_run_overrides, without_epochs
from trainlab.run.durable import read_yaml
from trainlab.run.folder import OVERRIDES, RunFolder
from trainlab.run.root import repo_root
from trainlab.search.tool_args import ToolParser

log = logging.getLogger(__name__)

_SEARCH_ONLY = (*SWEEP_ONLY, "hydra.")  # and the epoch cap (either spelling): --epochs gives it


def best_overrides(sweep_dir: Path, rule: Optional[dict[str, Any]] = None) -> list[str]:
    """The chosen trial's overrides, without the search's own."""
    from trainlab.config.errors import UserError
    from trainlab.search.results import warn_running
    from trainlab.search.sweep_folder import load_sweep_study, run_dir_places, study_folder, sweep_storage
    from trainlab.search.stages import best_params

    study = load_sweep_study(sweep_dir)
    check_rule(rule, len(study.directions), sweep_dir)
    chosen, _ = best_params(study, rule, where=str(sweep_dir))
    warn_running(study, sweep_dir)
    # the trial's folder where its record says, or in the sweep folder wherever the study file lies now
    # (STORAGE=sqlite:////elsewhere/x.db: a relative record read from there named /elsewhere/<number>)
    places = run_dir_places(chosen, study_folder(sweep_storage(sweep_dir)), sweep_dir)
    run_dir = next((p for p in places if (RunFolder(p) / OVERRIDES).is_file()), None)
    if run_dir is None:
        tried = f"looked in {', '.join(str(p) for p in places)}" if places else "the study records none"
        raise UserError(f"trial {chosen.number} of {sweep_dir} has no run folder with {OVERRIDES} ({tried}): put "
                        f"its run folder back as {sweep_dir / str(chosen.number)}, or retrain it by hand with its "
                        "parameters from trials.csv")
    # what the search file set outside hydra (optimized_metric, a fixed model.net.dropout) as the trial had it:
    # left out, the retrained run checkpointed on another metric, or trained another model, unsaid
    overrides = one_run_overrides(RunFolder(run_dir).overrides(), run_dir, sources=sweep_config_sources(sweep_dir))
    return anchored(sweep_dir, follow_move(sweep_dir, without_epochs([o for o in overrides
                                                                     if not o.startswith(_SEARCH_ONLY)])))


def anchored(sweep_dir: Path, overrides: list[str]) -> list[str]:
    """``overrides`` with each relative data path (``data.source.path=series.csv``: a key ``path`` or ending in
    ``_path`` / ``_dir``) and relative ``paths.*`` made absolute against the folder the sweep was run from (its
    multirun.yaml's ``hydra.runtime.cwd``), where that is not this process's working folder: make refine and make
    stage2 run from the repository, and train.py looked for the sweep's series.csv there (no such file)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from trainlab.search.space import as_override
    from trainlab.search.sweep_folder import run_from

    ran_in = next(iter(run_from(sweep_dir)), None)
    if ran_in is None or ran_in == Path.cwd():
        return overrides
    parser, out = OverridesParser.create(), []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        last = key.rsplit(".", 1)[-1]
        if "=" in override and ((key.startswith("data.") and (last == "path" or last.endswith(("_path", "_dir"))))
                                or key.startswith("paths.")):
            try:
                value = parser.parse_override(override).value()
            except HydraException:
                value = None
            if isinstance(value, str) and value and "${" not in value and "://" not in value \
                    and not Path(value).expanduser().is_absolute():
                override = override[:len(override) - len(override.lstrip("+~"))] + as_override(key, str(ran_in / value))
        out.append(override)
    return out


def sweep_config_sources(sweep_dir: Path) -> Optional[list[Any]]:
    """The config folders the sweep composed from (its multirun.yaml's ``hydra.runtime.config_sources``),
    or None where it wrote none."""
    from omegaconf import OmegaConf

    from trainlab.search.sweep_folder import DAMAGED_MULTIRUN, MULTIRUN_YAML

    path = sweep_dir / MULTIRUN_YAML
    written = read_yaml(path, DAMAGED_MULTIRUN) if path.is_file() else None
    sources = (((written or {}).get("hydra") or {}).get("runtime") or {}).get("config_sources")
    return list(OmegaConf.create(sources)) if isinstance(sources, list) and sources else None


def config_flags(sweep_dir: Path, root: Path, searchpath: bool = True) -> list[str]:
    """The flags that make train.py find its config where the sweep did: ``--config-dir`` of a folder of the
    user's own (the sweep's search file, model or data there), ``--config-path`` / ``--config-name`` of a
    primary config of theirs, and, with ``searchpath``, the sweep's ``hydra.searchpath=`` (refine leaves the
    sweep's other hydra.* overrides out; stage 2 keeps them all). Without them make refine and make stage2
    composed from conf/ alone and were refused (``hparams_search=mysearch`` not found), or retrained another
    config."""
    from trainlab.search.sweep_folder import DAMAGED_MULTIRUN, MULTIRUN_YAML

    path = sweep_dir / MULTIRUN_YAML
    hydra = ((read_yaml(path, DAMAGED_MULTIRUN) if path.is_file() else None) or {}).get("hydra") or {}
    flags = []
    for source in (hydra.get("runtime") or {}).get("config_sources") or []:
        if source.get("schema") != "file":
            continue
        if source.get("provider") == "command-line":
            flags += ["--config-dir", str(source.get("path"))]
        elif source.get("provider") == "main" and Path(str(source.get("path"))).resolve() != (root / "conf").resolve():
            flags += ["--config-path", str(source.get("path"))]
    name = (hydra.get("job") or {}).get("config_name")
    if name and name != "train":
        flags += ["--config-name", str(name)]
    if searchpath:
        flags += [o for o in ((hydra.get("overrides") or {}).get("hydra") or [])
                  if str(o).lstrip("+").startswith("hydra.searchpath=")]
    return flags


def check_rule(rule: Optional[dict[str, Any]], objectives: int, sweep_dir: Path) -> None:
    """The rule that picks a front's trial, checked whatever the front's size (a front of one trial took it
    without a look at the rule); given for a sweep of one objective it would pick nothing: refused."""
    from trainlab.config.errors import UserError
    from trainlab.search.front import check_pick

    if rule is None:
        return
    if objectives == 1:
        raise UserError(f"--within / --then pick a trial of a Pareto front, but {sweep_dir} searched one objective and so "
                        "has one best; drop them")
    try:
        check_pick(rule, objectives)
    except UserError as exc:  # said of the options that were given
        raise UserError(str(exc).replace("pick.within=", "--within ").replace("pick.then=", "--then ")) from None


def follow_move(sweep_dir: Path, overrides: list[str]) -> list[str]:
    """``overrides`` of a sweep that was moved or copied since it ran (its multirun.yaml names another
    ``hydra.sweep.dir``), with each ``paths.*`` folder that held it where it ran (``paths.log_dir``)
    moved along: the sweep's place now, as many levels up where it kept the layout below that folder
    (``train/multiruns/<name>``), else the folder it lies in. Retraining a sweep copied from a cluster
    wrote to the cluster's folder, made anew on this machine. Other paths (the data's) are kept."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from trainlab.search.sweep_folder import DAMAGED_MULTIRUN, MULTIRUN_YAML
    from trainlab.search.space import as_override

    path = sweep_dir / MULTIRUN_YAML
    written = (((read_yaml(path, DAMAGED_MULTIRUN) or {}).get("hydra") or {}).get("sweep") or {}).get("dir") \
        if path.is_file() else None
    was, here = Path(str(written)) if written else None, sweep_dir.resolve()
    if was is None or not was.is_absolute() or was == here:
        return overrides
    moved, parser = [], OverridesParser.create()
    for override in overrides:
        key = override.split("=", 1)[0]
        value = parser.parse_override(override).value() if key.startswith("paths.") and "=" in override else None
        if isinstance(value, str) and Path(value).is_absolute() and was.is_relative_to(value):
            below = was.relative_to(value).parts  # (train, multiruns, <sweep>)
            if not below:
                now = here
            elif len(here.parts) > len(below) and here.parts[-len(below):-1] == below[:-1]:
                now = here.parents[len(below) - 1]  # moved with its layout: as many levels up
            else:  # moved out of it (/data/my_sweep): levels up named a folder nobody chose (/), or none (IndexError)
                now = here.parent
            log.warning("the sweep ran in %s and lies in %s now: %s follows it to %s", was, here, key, now)
            override = as_override(key, str(now))
        moved.append(override)
    return moved


def beside(sweep_dir: Path, overrides: list[str], extra: list[str], root: Path, run: str) -> list[str]:
    """``overrides`` (the sweep's, which :func:`follow_move` moved along with it) with ``paths.log_dir=<folder>``
    that puts what make refine or make stage2 starts from a sweep beside that sweep, unless it goes there already
    or the user chose the place in ARGS (``extra``: ``paths.log_dir``, ``hydra.run.dir``, ``hydra.sweep.dir``).
    The folder is the one the sweep's layout starts from (``<folder>/train/multiruns/<name>``, a staged search's
    stage one level further down), else the folder the sweep lies in: a sweep made with hydra.sweep.dir=/tmp/x was
    retrained into the repository's outputs/, and one whose trials set ``paths.log_dir`` (or ``paths.root_dir``)
    elsewhere into that folder, away from the sweep. A ``paths.log_dir`` of the sweep's own is replaced (two were
    refused as both). ``root``: the repository, whose outputs/ is train.py's own default (nothing added there);
    ``run``: what is written there, for the log line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    def key(override: str) -> str:
        return override.lstrip("+~").split("=", 1)[0]

    if any(key(o) in ("paths.log_dir", "hydra.run.dir", "hydra.sweep.dir") for o in extra):
        return overrides
    from trainlab.search.space import as_override
    from trainlab.search.sweep_folder import STAGES_YAML

    sweep = sweep_dir.resolve()
    sweep = sweep.parent if (sweep.parent / STAGES_YAML).is_file() else sweep  # <sweep>/2_optimisation
    folder = sweep.parents[2] if sweep.parent.name == "multiruns" and len(sweep.parents) > 2 else sweep.parent
    placed = [o for o in overrides if key(o) in ("paths.log_dir", "paths.root_dir") and "=" in o]
    theirs = [o for o in placed if key(o) == "paths.log_dir"]
    if theirs:
        value = OverridesParser.create().parse_override(theirs[-1]).value()
        if isinstance(value, str) and Path(value).expanduser().resolve() == folder:
            return overrides  # the sweep's own place: it lies there
    if placed:
        log.info("the trials of %s wrote below %s: %s goes beside the sweep, paths.log_dir=%s (paths.log_dir=<folder> "
                 "in ARGS for another place)", sweep_dir, placed[-1], run, folder)
    elif folder == (root / "outputs").resolve():
        return overrides
    else:
        log.info("%s lies outside %s: %s goes beside it, paths.log_dir=%s", sweep_dir, root / "outputs", run, folder)
    return [*(o for o in overrides if key(o) != "paths.log_dir"), as_override("paths.log_dir", str(folder))]


def sweep_pick(sweep_dir: Path) -> Optional[dict[str, Any]]:
    """The sweep's own ``hydra.sweeper.pick`` (hparams_search=optuna_two_objectives sets one), from the
    multirun.yaml it wrote: refine takes the trial it names unless --within says otherwise (it took the
    best first objective, ignoring the search file's rule)."""
    from trainlab.search.sweep_folder import DAMAGED_MULTIRUN, MULTIRUN_YAML

    path = sweep_dir / MULTIRUN_YAML
    if not path.is_file():
        return None
    config = read_yaml(path, DAMAGED_MULTIRUN) or {}
    rule = ((config.get("hydra") or {}).get("sweeper") or {}).get("pick")
    return dict(rule) if isinstance(rule, dict) else None


def call_train(command: list[str]) -> int:
    """Print ``command`` (a train.py command line) and run it; its exit status.

    Ctrl-C reaches train.py too (one process group), which stops with its own one line and exit 130;
    this process waits for that instead of printing a traceback of its own wait. The child starts
    with Ctrl-C as usual, and only then is it ignored here."""
    print(shlex.join(command), flush=True)
    child = subprocess.Popen(command)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Optional[list[str]] = None) -> int:
    from trainlab.search.sweep_folder import STORAGE_HELP, give_storage, given_sweep

    parser = ToolParser(description=__doc__.splitlines()[0], target="refine",
                        variables={"--epochs": "EPOCHS", "--storage": "STORAGE"})
    parser.add_argument("sweep_dir", type=Path, nargs="?")  # none: refused in one line naming make's SWEEP=
    parser.add_argument("--epochs", type=int, default=50, help="trainer.max_epochs of the retraining")
    parser.add_argument("--within", type=float, help="two objectives: tolerance on objective 0 (0.01 = 1 %%)")
    parser.add_argument("--then", type=int, help="two objectives: the objective to take the best of (1 unless given)")
    parser.add_argument("--storage", help=STORAGE_HELP)
    parser.add_argument("overrides", nargs="*", help="more overrides for train.py")
    # intermixed: the overrides may follow --epochs (argparse's plain parse_args would take the folder
    # and an empty override list together and refuse the later overrides as unrecognized)
    args = parser.parse_intermixed_args(argv)
    from trainlab.config.errors import UserError, report_user_errors

    with report_user_errors():
        given_sweep(args.sweep_dir, "refine", "refine")
        if args.storage:
            give_storage(args.sweep_dir, args.storage)
        swept = [o for o in args.overrides if o.lstrip("+~").startswith(SWEEP_ONLY)]
        if swept:  # hparams_search=optuna in ARGS started a whole sweep where one run was asked for
            raise UserError(f"make refine retrains one run, and ARGS {' '.join(swept)} would make it a sweep; leave "
                            f"{'it' if len(swept) == 1 else 'them'} out (make stage2 SWEEP=<sweep> searches on from a "
                            "sweep, python train.py -m hparams_search=... starts a new one)")
        if args.epochs < 1:  # -1 is Lightning's 'no limit': the retrain would never end by itself
            raise UserError(f"--epochs {args.epochs} (make refine's EPOCHS): retrain for 1 epoch or more")
        if args.then is not None and args.within is None:  # the sweep's own rule (or the best) was taken without a word
            raise UserError(f"--then {args.then} takes the best by that objective among the trials --within of the best "
                            "first objective; give --within too (e.g. --within 0.01 --then 1)")
        rule = ({"within": args.within, "then": 1 if args.then is None else args.then} if args.within is not None
                else sweep_pick(args.sweep_dir))
        chosen = best_overrides(args.sweep_dir, rule)
        chosen = beside(args.sweep_dir, chosen, args.overrides, repo_root(), "the retrained run")
        command = [sys.executable, str(repo_root() / "train.py"), *config_flags(args.sweep_dir, repo_root()), *chosen,
                   f"trainer.max_epochs={args.epochs}", *args.overrides]
    return call_train(command)


if __name__ == "__main__":
    sys.exit(main())
