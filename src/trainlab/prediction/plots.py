"""forecast.png: each series' last stretch of history and its forecast after it, one panel per series
and target, at most :data:`PANELS`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainlab.prediction.timeseries import SeriesForecast
from trainlab.run.durable import save_figure

PANELS = 4  # series x targets shown; the others are in forecast.csv


def plot_forecasts(forecasts: list[SeriesForecast], table: Any, source: Any, shown_rows: int, path: Path) -> list[str]:
    """Write ``path``; returns the panels left out ("store=D load", ...), for the console line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trainlab.prediction.calendar import on_axis, stepped, written

    panels = [(one, j) for one in forecasts for j in range(len(table.target_names))]
    column = getattr(source, "series_column", None) or "series"
    label = [f"{f'{column}={one.name} ' if one.name is not None else ''}{table.target_names[j]}" for one, j in panels]
    fig, axes = plt.subplots(min(len(panels), PANELS), 1, figsize=(9, 2.8 * min(len(panels), PANELS)), squeeze=False)
    for ax, (one, j), title in zip(axes[:, 0], panels, label):
        rows, horizon = len(one.history), len(one.forecast)
        first = max(0, rows - shown_rows)
        past, future = np.arange(first, rows), rows + np.arange(horizon)
        grid = table.times[one.index] if table.times is not None else None
        if grid is not None and grid.times is not None:  # the times as forecast.csv writes them, in their zone
            zone = getattr(source, "time_zone", None)
            x_past, x_future = (on_axis(written(stepped(grid, k), grid, zone)) for k in (past, future))
        else:
            x_past, x_future = past, future
        ax.plot(x_past, one.history[first:, j], color="tab:blue", lw=1, label="history")
        # the forecast joined to the last value it continues from
        ax.plot([x_past[-1], *x_future], [one.history[-1, j], *one.forecast[:, j]], color="tab:orange", lw=1.5,
                label=f"forecast ({horizon} steps)")
        ax.axvline(x_past[-1], color="grey", lw=0.8, ls=":")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
        # each panel its own dates: series end on different days (the figure's autofmt_xdate kept the
        # bottom panel's labels only, which read as every series' end)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return label[PANELS:]
