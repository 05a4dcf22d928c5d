"""The command lines of the sweep tools that make runs (``make analyze`` / ``refine`` / ``stage2``): a bad argument
ends in one line naming the make variable that gave it, not argparse's usage and its error on two lines
(``make refine EPOCHS=abc`` printed ``refine.py: error: argument --epochs: invalid int value: 'abc'`` under the
usage of a script the user never called)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import NoReturn

from trainlab.config.errors import refuse


class ToolParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one ``error:`` line (exit 2, :func:`trainlab.config.errors.refuse`);
    ``target``: the make target that runs the tool, ``variables``: its options' make variables
    (``{"--epochs": "EPOCHS"}``), named in the line beside the option; ``overrides``: whether it passes train.py
    overrides on (make's ARGS)."""

    def __init__(self, *args, target: str, variables: Mapping[str, str], overrides: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.target, self.variables, self.overrides = target, dict(variables), overrides

    def error(self, message: str) -> NoReturn:
        for option, variable in self.variables.items():
            message = message.replace(f"argument {option}:", f"{variable} ({option}):")
        given = ["SWEEP=<sweep folder>", *(f"{variable}=..." for variable in self.variables.values()),
                 *(['ARGS="<train.py overrides>"'] if self.overrides else [])]
        refuse(f"make {self.target}: {message}; it takes {', '.join(given[:-1])} and {given[-1]} (python -m "
               f"trainlab.search.{self.prog.removesuffix('.py')} --help lists them)")
