"""What evaluate.py measures beyond the test metrics: latency, throughput, plots and a report.

The generic parts live here, the baselines' contract in ``baselines``; each model family has a module (``timeseries``,
``graph``, ``image``) with two functions, picked by the model's family (:func:`family_module`, declared in
trainlab.config.families):

- ``forward_batch(model, batch, device) -> int``: the forward pass alone on one batch moved to
  ``device``; returns how many samples (windows, nodes, images) it held. Timed for latency.
- ``artifacts(model, datamodule, split, out_dir) -> {"plots": [file names], "extra": {name: value}}``:
  plots written into ``out_dir`` and figures worth reporting beside the metrics (baselines, chance);
  optionally ``"files": [file names]``, other files it wrote there (a graph's per-star predictions), which the
  closing line names with the plots; ``"per_series": {series: {key: value}}``, each series' own figures of a file of several,
  and ``"notes": [lines]``, what makes figures meaningless or forecasts unusable as they are (a MAPE
  over zero targets, negative forecasts of counts), shown under the metrics.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from trainlab.config.errors import UserError
from trainlab.config.families import family_for
from trainlab.run.durable import write_atomic, write_json

def family_module(model: Any) -> ModuleType:
    """The evaluation module of the model's family (trainlab.config.families)."""
    return importlib.import_module(family_for(model).evaluation)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(forward_batch: Callable[[Any], int], batches: Iterable[Any], device: torch.device,
                    warmup: int = 5, max_batches: int = 200, min_timed: int = 20) -> dict[str, Any]:
    """Wall time of the forward pass per batch and per sample (P50, P95) and samples per second.

    ``forward_batch(batch)`` runs the model on one batch and returns its number of samples. The first
    ``warmup`` passes are run but not timed (allocations, kernel selection). A split of fewer batches
    than ``warmup + min_timed`` (a whole graph is one batch) is gone through again, so that the
    percentiles rest on at least ``min_timed`` timings. On a GPU every timing is bracketed by CUDA
    synchronisation, so it covers the work, not its launch.
    """
    batches = [b for _, b in zip(range(warmup + max_batches), batches)]
    if not batches:
        raise UserError("the evaluated split has no batches to time; give it more data (data.*_fraction)")
    passes = max(len(batches), warmup + min_timed)
    times, sizes = [], []
    for i in range(passes):
        batch = batches[i % len(batches)]
        _sync(device)
        start = time.perf_counter()
        samples = forward_batch(batch)
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
            sizes.append(samples)
    t, n = np.asarray(times), np.asarray(sizes)
    per_sample = t / n
    return {
        "batches_timed": int(len(t)), "batch_size": int(n.max()),
        "batch_ms_p50": float(np.percentile(t, 50) * 1e3), "batch_ms_p95": float(np.percentile(t, 95) * 1e3),
        "sample_ms_p50": float(np.percentile(per_sample, 50) * 1e3),
        "sample_ms_p95": float(np.percentile(per_sample, 95) * 1e3),
        "samples_per_second": float(n.sum() / t.sum()),
        "device": str(device),
    }


def _cell(value: Any) -> str:
    """A table cell of report.md: numbers to 6 digits, text with its '|' escaped (comparison lines)."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN (undefined)"
    return f"{value:.6g}" if isinstance(value, float) else str(value).replace("|", "\\|")


def _series_table(rows: dict[str, dict[str, Any]], split: str, shown: int = 100) -> list[str]:
    """report.md's per-series section: the model's own figures (keys ``<split>/<metric>``, baselines'
    left to their comparison line) of the first ``shown`` series."""
    first = next(iter(rows.values()))
    own = [k for k, v in first.items() if isinstance(v, (int, float)) and "baseline_" not in k]
    line = f"{split}/comparison"
    header = ["series", *(k.removeprefix(f"{split}/") for k in own), *(["comparison"] if line in first else [])]
    lines = [f"## Per series ({len(rows)})", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in list(rows.items())[:shown]:
        cells = [name, *(_cell(row.get(k)) for k in own), *([_cell(row.get(line, ""))] if line in first else [])]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > shown:
        lines += ["", f"... and {len(rows) - shown} more series: report.json per_series"]
    return lines


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    """report.json (everything) and report.md (the same, for people).

    ``report`` holds checkpoint (and checkpoint_epoch), run_dir, split, metrics, latency, plots, ``extra`` (the family's
    baselines and other figures) and, for several series, ``per_series`` (shown in report.md as a
    table of the numbers in the model's own keys and each series' comparison line).
    """
    write_json(out_dir / "report.json", report)
    scored = "".join(f"; scored: {v}" for k, v in report.get("extra", {}).items() if k.endswith("/scored"))
    epoch = f", saved after epoch {report['checkpoint_epoch']}" if report.get("checkpoint_epoch") is not None else ""
    lines = [f"# Evaluation of `{report['checkpoint']}`{epoch}", "",
             f"Run: `{report['run_dir']}`, split: {report['split']}{scored}", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in report["metrics"].items()]
    if report.get("notes"):
        lines += ["", "**Read with care:**", "", *(f"- {note}" for note in report["notes"])]
    if report.get("extra"):
        lines += ["", "## Baselines and other figures", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in report["extra"].items()]
    if report.get("per_series"):
        stage = next(iter(report["metrics"]), "test/").split("/")[0]  # split=all is scored as the test split
        lines += ["", *_series_table(report["per_series"], stage)]
    lines += ["", "## Inference latency", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in report["latency"].items()]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]]
    write_atomic(out_dir / "report.md", "\n".join(lines) + "\n")
