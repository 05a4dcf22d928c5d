"""Interpolations (``${...}``) a config holds, resolved once before anything is built: one that names a key
the config lacks, an environment variable that is not set or a ``???`` left unset is one line naming the key
that holds it and the fix."""

from __future__ import annotations

import os
import re
from typing import Any

from trainlab.config.invocation import _script, taken_out_by, task_overrides, typed_overrides


def check_interpolations(cfg: Any) -> None:
    """An interpolation to a key the config lacks (``data.batch_size=${oops}``), ``${oc.env:NAME}`` with
    NAME unset and a ``???`` left unset compose, and fail only where the key is read, deep in a
    constructor, as a traceback (or in OmegaConf's words, without the key): resolved here once, before
    anything is built, each refused naming the key that holds it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

    from trainlab.config.errors import UserError

    try:
        for key in cfg:  # Hydra's own node (in tests' configs) is Hydra's business
            if key == "hydra":
                continue
            node = cfg[key]
            if OmegaConf.is_config(node):
                OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        raise UserError(f"{exc.full_key} has no value (??? in the config); set it: {exc.full_key}=<value>") from None
    except InterpolationResolutionError as exc:
        raise UserError(interpolation_problem(exc)) from None


def interpolation_problem(exc: Any) -> str:
    """An interpolation that cannot be resolved (OmegaConf's InterpolationResolutionError), in one line
    naming the key that holds it and the fix."""
    env = re.search(r"Environment variable '([^']+)' not found", str(exc))
    if env:
        name, raw = env.group(1), exc.child_node._value() if exc.child_node is not None else ""
        return (f"{exc.full_key}={raw}: the environment variable {name} is not set; set it (export "
                f"{name}=...), or give a default: ${{oc.env:{name},<default>}}")
    reason = str(exc).splitlines()[0].rstrip(".")
    missing = re.search(r"Interpolation key '([A-Za-z_][A-Za-z0-9_]*)' not found", reason)
    if missing and missing.group(1) in os.environ:  # ${HOME} as a shell would read it
        name = missing.group(1)
        return (f"{exc.full_key}: {reason[:1].lower()}{reason[1:]}; ${{{name}}} names a setting, and the environment "
                f"variable {name} is read with ${{oc.env:{name}}}")
    dotted = re.search(r"Interpolation key '(([A-Za-z_]\w*)\.[\w.]+)' not found", reason)
    if dotted and exc.child_node is not None:  # a key an option of a group would set (data.num_hops: model.net.num_layers)
        from hydra.core.hydra_config import HydraConfig

        from trainlab.config.search_path import option_file
        from trainlab.run.root import repo_root

        target, group = dotted.groups()
        holder = exc.full_key.split(".")[0]
        choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
        chosen, held_by = choices.get(group), choices.get(holder)
        ours = held_by and (option_file(holder, held_by) or repo_root()).is_relative_to(repo_root())
        if chosen and holder != group and ours:  # one of our options reads a key a user's option lacks
            return (f"{exc.full_key}={exc.child_node._value()} follows {target}, which {group}={chosen} does not "
                    f"have; give {exc.full_key}=<value> (on the command line, or in a config file of yours), or add "
                    f"{target} to {group}={chosen}")
    read = re.search(r"Interpolation key '([\w.]+)' not found", reason)
    taken = read and taken_out_by(read.group(1), [*task_overrides(), *typed_overrides()],  # before the job: hydra.run.dir
                                  exc.full_key, f"${{{read.group(1)}}}")
    if taken:
        return taken
    return (f"{exc.full_key}: {reason[:1].lower()}{reason[1:]}; write the full key of another setting "
            f"(e.g. ${{data.batch_size}}) or a value (python {_script()} --cfg job shows every setting)")
