"""Where a training step of the default LSTM spends its time: cProfile over timed epochs of train.py.

One ``train.train(cfg)`` run as ``make bench`` configures it (default callbacks, TensorBoard logger,
Rich progress bar); cProfile is switched on at the start of the second epoch (the first warms up)
and off at the end of the last. The report groups functions into what a step must do (the net's
forward and backward, the optimizer, the data loader) and the bookkeeping around it, by the
package the code lives in (lightning, trainlab, torchmetrics, rich ...), as time per training step.
cProfile adds its own overhead per Python call, so the bookkeeping shares come out larger than
without it; use the shares to find what to remove, and ``benchmarks/epoch_time.py`` for the cost.

Run: ``.venv/bin/python benchmarks/step_profile.py --epochs 3 --threads 2 [--top 25]``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from epoch_time import compose_cfg, overrides_for, quiet_lightning  # noqa: E402 - also sets TRAINLAB_ROOT

import lightning.pytorch as pl  # noqa: E402

import train  # noqa: E402

# (label, function-name fragments): parts of a step that do not contain one another
CORE = [
    ("forward (training_step)", ("training_step",)),
    ("backward", ("run_backward",)),
    ("optimizer update (Adam)", ("_single_tensor_adam", "_multi_tensor_adam")),
    ("data loader (next batch)", ("_next_data",)),
    ("callback hooks (all)", ("_call_callback_hooks",)),
]


class ProfileEpochs(pl.Callback):
    """cProfile from the second training epoch's start to the end of training; counts the steps."""

    def __init__(self) -> None:
        self.profile = cProfile.Profile()
        self.steps = 0
        self._on = False

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 1 and not self._on:
            self._on = True
            self.profile.enable()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.steps += self._on

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._on:
            self.profile.disable()
            self._on = False


def cumulative_ms(stats: pstats.Stats, fragments: tuple[str, ...]) -> float:
    """Largest cumulative time (ms) among functions whose 'file:line(name)' contains a fragment."""
    best = 0.0
    for (filename, line, name), (_, _, _, cumulative, _) in stats.stats.items():
        where = f"{filename}:{line}({name})"
        if any(f in where or f == name for f in fragments):
            best = max(best, cumulative)
    return best * 1000


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="profiled epochs after 1 warm-up; default 3")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=25, help="functions listed by own time; default 25")
    parser.add_argument("--model", default="lstm")
    args = parser.parse_args(argv)
    quiet_lightning()
    bench = argparse.Namespace(model=args.model, epochs=args.epochs, threads=args.threads, rows=None)
    profiler = ProfileEpochs()
    with tempfile.TemporaryDirectory(prefix="trainlab-profile-") as tmp:
        cfg = compose_cfg(overrides_for(bench), Path(tmp) / "run")
        train.train(cfg, extra_callbacks=[profiler])
    stats = pstats.Stats(profiler.profile)
    total_ms = sum(v[2] for v in stats.stats.values()) * 1000  # own times add up to the profiled time
    steps = max(profiler.steps, 1)
    print(f"\nprofiled {profiler.steps} training steps (+ their validation epochs): {total_ms / steps:.2f} ms per step")
    core = 0.0
    for label, fragments in CORE:
        ms = cumulative_ms(stats, fragments) / steps
        core += ms
        print(f"  {label:<28}{ms:7.2f} ms/step")
    print(f"  {'everything else':<28}{total_ms / steps - core:7.2f} ms/step (Lightning's loop and closure, "
          "logging, validation epochs)")
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():
        parts = Path(filename).parts
        package = next((p for p in ("trainlab", "lightning", "torchmetrics", "rich", "tensorboard", "torch")
                        if p in parts), "other")
        by_package[package] = by_package.get(package, 0.0) + own * 1000 / steps
    print("own time by package (ms/step): " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                        sorted(by_package.items(), key=lambda kv: -kv[1])))
    print(f"\ntop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
