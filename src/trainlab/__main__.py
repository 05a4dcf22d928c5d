"""``python -m trainlab``: the entry points, one line each; ``python -m trainlab <command> ...`` runs one.

The scripts (train, evaluate, predict) are the checkout's own train.py, evaluate.py and predict.py, run as
``python train.py ...`` runs them (same Hydra app, same arguments, same exit status); the sweep tools (analyze,
refine, stage2) are their modules' ``main`` with the rest of the arguments. Nothing heavy is imported to list them.
"""

from __future__ import annotations

import sys
from typing import Optional

# command -> (what runs it: a script of the checkout, or a module with main(argv)), what it does, what it takes
COMMANDS = {
    "train": ("train.py", "train one model, or search with -m hparams_search=optuna", "[overrides]"),
    "evaluate": ("evaluate.py", "test a finished run's checkpoint, time it, write its report",
                 "ckpt_path=<run folder or .ckpt>"),
    "predict": ("predict.py", "forecast past the end of the data with a finished run",
                "ckpt_path=<run folder> horizon=<steps>"),
    "analyze": ("trainlab.search.analyze", "a sweep's top trials, importances, advice and plots (make analyze)",
                "<sweep folder>"),
    "refine": ("trainlab.search.refine", "retrain a sweep's best trial for longer (make refine)",
               "<sweep folder> --epochs 50 [overrides]"),
    "stage2": ("trainlab.search.stages", "fix a sweep's most important parameters, search the rest (make stage2)",
               "<sweep folder> --top 3 [overrides]"),
}


def listing() -> str:
    width = max(map(len, COMMANDS))
    lines = ["python -m trainlab <command> [arguments]; <command> --help says more:"]
    lines += [f"  {name:<{width}}  {what}: {takes}" for name, (_, what, takes) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command ``argv`` names (the process's arguments when None); its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(listing())
        return 0
    from trainlab.config.errors import did_you_mean, refuse

    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        hint = did_you_mean(name, COMMANDS) or f"the commands: {', '.join(COMMANDS)}"
        refuse(f"{name} is no trainlab command; {hint} (python -m trainlab lists them)")
    target = COMMANDS[name][0]
    if target.endswith(".py"):
        return _run_script(target, rest)
    import importlib

    sys.argv = [f"trainlab {name}", *rest]  # argparse's usage line names the command
    return int(importlib.import_module(target).main(rest) or 0)


def _run_script(script: str, rest: list[str]) -> int:
    """The checkout's ``script`` as ``python <script> <rest>`` runs it: its own ``__main__`` block (the quiet
    stop, Hydra's app), with ``sys.argv`` as that command has it."""
    import runpy

    from trainlab.config.errors import report_user_errors
    from trainlab.run.root import repo_root

    with report_user_errors():  # a package installed without its checkout
        path = repo_root() / script
    sys.argv = [str(path), *rest]
    runpy.run_path(str(path), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
