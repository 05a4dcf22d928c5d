"""What a trial's job gives back to the sweeper (:mod:`.handover` is what it receives): the objective
values, from what the job returned and the facts it recorded on its trial, and the exception a failed
job raised."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Optional

from hydra.core.utils import JobReturn
from omegaconf import ListConfig

from trainlab.search.plan import SweepPlan


def objective_values(returned: Any, recorded: Mapping[str, Any],
                     plan: SweepPlan) -> tuple[Optional[list[float]], Optional[str]]:
    """(values, None) of a completed job: what it returned, then the job facts the plan names as objectives
    (``recorded``: its trial's user attributes); (None, the reason in words) when they are not the plan's
    finite numbers."""
    values = list(returned) if isinstance(returned, (list, tuple, ListConfig)) else [returned]
    facts = [name for name in plan.objectives if not name.startswith("objective")]
    if facts:
        missing = [name for name in facts if recorded.get(name) is None]
        if missing:
            return None, f"the job recorded no {', '.join(missing)} (hydra.sweeper.objectives)"
        values += [recorded[name] for name in facts]
    if len(values) != len(plan.directions):
        return None, f"the job returned {len(values)} value(s) for {len(plan.directions)} direction(s)"
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        return None, f"the job returned {returned!r}, not a number"
    if not all(math.isfinite(v) for v in values):
        return None, f"{plan.metric} is {values if len(values) > 1 else values[0]}"
    return values, None


def job_exception(outcome: JobReturn) -> BaseException:
    """The exception a failed job raised.

    Hydra's public ``JobReturn.return_value`` re-raises it, but first writes "Error executing job with
    overrides: ..." to stderr, for every pruned trial too; the exception itself is only kept in the
    private ``_return_value``. The one place this project reads it.
    """
    return outcome._return_value
