"""Speed options side by side: validation against training time per sample, and torch.compile on/off.

1. **Validation per sample.** One ``train.train(cfg)`` run of the default LSTM; a callback sums the
   wall time of every training batch (forward, backward, optimizer step) and of every validation
   batch (forward under no_grad, ``data.val_batch_multiplier`` times the batch size), and counts
   their samples. Target: validation at least 3x faster per sample than training.
2. **torch.compile.** The same run with ``model.compile=false`` and ``model.compile=true``,
   alternated for ``--repeats`` rounds; each run's first epoch (which pays for compilation) is
   dropped and the median of the remaining epochs' times (training + validation) is reported.

Run: ``make bench`` (after the other benchmarks), or
``.venv/bin/python benchmarks/speed_options.py --repeats 3 --epochs 4 --threads 2``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from epoch_time import EpochTimer, compose_cfg, quiet_lightning  # noqa: E402 - also sets TRAINLAB_ROOT

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402

import train  # noqa: E402

VAL_TARGET = 3.0


class BatchTimer(pl.Callback):
    """Wall time and samples of every training and validation batch (sanity check excluded)."""

    def __init__(self) -> None:
        self.seconds = {"train": 0.0, "val": 0.0}
        self.samples = {"train": 0, "val": 0}
        self._start = 0.0

    def _begin(self) -> None:
        self._start = time.perf_counter()

    def _end(self, stage: str, batch: Any) -> None:
        self.seconds[stage] += time.perf_counter() - self._start
        self.samples[stage] += len(batch[0])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._begin()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._end("train", batch)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._begin()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self._end("val", batch)

    def per_sample_ms(self, stage: str) -> float:
        return 1e3 * self.seconds[stage] / max(self.samples[stage], 1)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run, the first one dropped (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--model", default="lstm", help="model option (default lstm)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, run_dir: Path, compiled: bool) -> tuple[BatchTimer, EpochTimer]:
    overrides = [f"model={args.model}", f"model.compile={str(compiled).lower()}", f"trainer.max_epochs={args.epochs}",
                 f"hardware.num_threads={args.threads}", "trainer.enable_progress_bar=false",
                 "trainer.enable_model_summary=false", "test=false", "~callbacks.early_stopping", "logger=none"]
    cfg = compose_cfg(overrides, run_dir)
    batches, epochs = BatchTimer(), EpochTimer()
    train.train(cfg, extra_callbacks=[batches, epochs])
    return batches, epochs


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    quiet_lightning()
    per_sample: dict[str, list[float]] = {"train": [], "val": []}
    epoch_s: dict[bool, list[float]] = {False: [], True: []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for compiled in (False, True):
                batches, epochs = run(args, Path(tmp) / f"r{r}_{compiled}", compiled)
                epoch_s[compiled] += epochs.train_val[1:]  # the first epoch compiles
                if not compiled:
                    for stage in per_sample:
                        per_sample[stage].append(batches.per_sample_ms(stage))
                print(f"round {r + 1}: compile={compiled}: epochs {[round(t, 3) for t in epochs.train_val]} s", flush=True)
    train_ms, val_ms = statistics.median(per_sample["train"]), statistics.median(per_sample["val"])
    ratio = train_ms / val_ms
    print(f"\nmodel={args.model}, {args.threads} threads, torch {torch.__version__}, {args.repeats} alternated rounds, "
          f"{time.perf_counter() - started:.0f} s")
    print("\n| per sample (median of rounds) | ms |\n|---|---|")
    print(f"| training (forward + backward + step) | {train_ms:.4f} |\n| validation (no_grad, 2x batch) | {val_ms:.4f} |")
    print(f"\nvalidation is {ratio:.1f}x faster per sample than training (target >= {VAL_TARGET:.0f}x): "
          f"{'PASS' if ratio >= VAL_TARGET else 'MISS'}")
    plain, compiled = statistics.median(epoch_s[False]), statistics.median(epoch_s[True])
    print("\n| torch.compile | s per epoch (median, first epoch dropped) |\n|---|---|")
    print(f"| off | {plain:.3f} |\n| on | {compiled:.3f} |")
    print(f"\ncompiled / plain = {compiled / plain:.2f}")


if __name__ == "__main__":
    main()
