"""Whether data and a horizon fit the model that forecasts them, each refused in one line naming the
mismatch and the fix: another family's run, a file on another step between times or of other series
than the model learned, and a horizon past ``data.steps`` for a model that needs inputs nobody knows
after the data's end without ``future=<file>`` (its targets are fed back, and calendar columns its source
computes for any row), or that needs none with it."""

from __future__ import annotations

import logging
import re
from typing import Any, Optional

from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

FORECASTS = ("timeseries", "image", "graph")  # the families predict.py makes predictions for


def check_family(family: Optional[str], run: str) -> None:
    """Refuse a run of a family that predict.py does not predict for (yet)."""
    if family in FORECASTS:
        return
    raise UserError(f"predict.py forecasts time-series runs, maps anomalies of image runs and classifies the stars "
                    f"of graph runs; '{run}' is a {family} run, whose predictions are not made yet: score it on "
                    "labelled data with python evaluate.py ckpt_path=<run>")


def check_horizon(horizon: Any) -> int:
    """``horizon`` as a whole number of steps, 1 or more."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise UserError(f"horizon={horizon!r} must be a whole number of steps after the data's end, 1 or more "
                        "(e.g. horizon=24)")
    return horizon


def reach(data: Any) -> int:
    """Rows after the data's end forecast from windows of the data alone: a block of ``data.steps`` rows
    comes from the window that ends ``data.horizon`` rows before its first row, so the first
    ceil(data.horizon / data.steps) blocks read no row past the data."""
    return data.steps * -(-data.horizon // data.steps)


def check_reach(data: Any, horizon: int, future: Optional[str] = None) -> bool:
    """Whether the forecast reads rows after the data's end (``horizon`` past :func:`reach`): their targets are
    the forecasts fed back, calendar columns the source computes (``source.CALENDAR``, ``source.calendar(rows)``),
    and any other input (a driver) comes from ``future`` (:mod:`trainlab.prediction.future`); refused in one line
    without it. ``future`` given where nothing reads it is refused too, saying why."""
    from trainlab.prediction.future import driver_columns

    targets = list(data.load().target_names)
    others = driver_columns(data)
    if horizon <= reach(data):
        if future is not None:
            raise UserError(f"future={future} is not read: horizon={horizon} is forecast from windows of the data "
                            f"alone (data.steps={data.steps}, data.horizon={data.horizon}: up to {reach(data)} row(s) "
                            "after its end); leave it out, or give a longer horizon")
        return False
    if not others:
        if future is not None:
            calendar = [n for n in data.input_names if n not in targets]
            also = f" and calendar column(s) {calendar} its source computes" if calendar else ""
            raise UserError(f"future={future} is not read: the model's inputs are its targets {targets}{also}, "
                            "which predict.py feeds past the data's end itself; leave it out")
        return True
    if future is not None:
        return True
    why = (f"its inputs hold column(s) {others} besides its targets {targets}, whose values after the data's end "
           "are unknown" if data.target_inputs else
           f"its inputs are column(s) {others} and not its targets' past values (data.target_inputs=false), whose "
           "values after the data's end are unknown")
    ahead = f", data.horizon={data.horizon} rows ahead," if data.horizon > 1 else ""
    raise UserError(f"horizon={horizon}: the model predicts data.steps={data.steps} step(s) at once{ahead} and {why}; "
                    f"give horizon={reach(data)} or less, their values after the data's end in future=<file> (README: "
                    f"Forecast past the data), or train a run that predicts {horizon} at once: data.steps={horizon}")


def warn_far_ahead(data: Any, horizon: int, lengths: list[int]) -> None:
    """One warning where a forecast fed back (its targets read as the model's own past values) runs past the
    rows of the shortest series it continues (``lengths``): the model was trained to predict :func:`reach`
    rows from real data, and each fed-back block carries the errors of those before it."""
    if not lengths or horizon <= min(lengths):
        return
    shortest = min(lengths)
    of = "the series'" if len(lengths) == 1 else "the shortest series'"
    log.warning("horizon=%d is %s times the %d row(s) the model was trained to predict from real data "
                "(data.steps=%d, data.horizon=%d) and %s times %s %d row(s): past them its forecasts are fed back "
                "as its own past values, so their errors compound with every block; read the far end with care, "
                "give a shorter horizon, or train a run that predicts more at once (data.steps)", horizon,
                _times(horizon / reach(data)), reach(data), data.steps, data.horizon, _times(horizon / shortest), of,
                shortest)


def _times(ratio: float) -> str:
    """A ratio as a reader says it: 1.19, 50, 5,000 (not 5e+03)."""
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"


def check_same_series(state: dict[str, Any], here: dict[str, Any], ckpt_name: str) -> None:
    """The data's step between times and their series against the checkpoint's (``state``, the data module's
    saved fingerprint; ``here``, the data's own): a forecast on another step, or of a series the model never
    learned, is refused. A checkpoint saved before the step was recorded is not checked for it."""
    trained, given = state.get("frequency"), here.get("frequency")
    if trained is not None and given != trained:
        read = f"steps by {given}" if given else "has no regular step between its times"
        raise UserError(f"the data {read}, but '{ckpt_name}' was trained on a series stepping by {trained}; give "
                        f"data on the step of {trained} (resample it), or train a run on these")
    trained, given = state.get("series"), here.get("series")
    if trained == given:
        return
    if trained is None or given is None:
        said = given or "one series"
        raise UserError(f"the data hold {said}, but '{ckpt_name}' was trained on {trained or 'one series'}; give data "
                        "of the run's own series (data.source.series_column, data.source.series), or train a run on these")
    new = _new_series(trained, given)
    if new == []:  # a few of the series it learned
        return
    if new is None and _fewer_of_many(trained, given):
        log.info("the data hold %s of the %s '%s' was trained on, whose checkpoint keeps their count and a digest, "
                 "not their names: that they are among them is not checked", given, trained, ckpt_name)
        return
    named = f"series {', '.join(new[:5])}{' ...' if len(new) > 5 else ''}" if new else given
    raise UserError(f"the data hold {named}, which '{ckpt_name}' was not trained on ({trained}); forecast the series "
                    "it learned (+data.source.series=[...] picks them), or train a run on these")


def _fewer_of_many(trained: str, given: str) -> bool:
    """Whether ``given`` picks fewer series of the same column than ``trained``, a label of more than a dozen
    (``store=50 series A .. Z (digest)``: +data.source.series=[B] of such a run, or a newer file lacking some)."""
    (column, listed), (own_column, own) = (label.partition("=")[::2] for label in (given, trained))
    counted = re.fullmatch(r"(\d+) series .*", own)
    if column != own_column or not counted:
        return False
    many = re.fullmatch(r"(\d+) series .*", listed)
    return (int(many.group(1)) if many else len(listed.split(","))) < int(counted.group(1))


def _new_series(trained: str, given: str) -> Optional[list[str]]:
    """The series of the label ``given`` (``store=A,B``) missing from ``trained``; None where a label does
    not list its series (more than a dozen: counted and digested) or the series columns differ."""
    (column, listed), (own_column, own) = (label.partition("=")[::2] for label in (given, trained))
    if column != own_column or " series " in listed or " series " in own:
        return None
    learned = set(own.split(","))
    return [name for name in listed.split(",") if name not in learned]
