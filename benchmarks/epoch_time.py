"""Per-epoch wall time of train.py's Lightning run against a hand-written PyTorch loop.

Both sides train the same net on the same data module, batch size, optimizer (Adam, the config's
learning rate), seed and number of torch threads, in this one process:

* lightning: ``train.train(cfg)`` exactly as ``python train.py`` runs it, with the default callbacks
  (checkpoints, LR monitor, Rich progress bar, epoch reseeding) and the TensorBoard logger; only early
  stopping and the final test are switched off, so every run lasts the same number of epochs. A
  callback times each epoch twice: from ``on_train_epoch_start`` to ``on_validation_epoch_end``
  ("train+val", the figure the target applies to) and from one epoch's start to the next one's
  ("whole epoch": adds what Lightning does after the validation hooks, i.e. computing the epoch
  metrics, logging them and saving checkpoints).
* plain: a loop of ``zero_grad / backward / step`` over the training loader, then the mean MSE over
  the validation loader under ``torch.no_grad()``.

The two alternate epoch by epoch (``--pairing epoch``, the default): in each of ``--repeats`` rounds a
Lightning run trains ``--epochs`` timed epochs after one warm-up epoch, and after each of its epochs
(at ``on_train_epoch_end``, outside both timed windows) the plain loop trains one epoch of its own
model, so that the two epochs of a pair are a second apart and drift in a shared machine's load hits
both alike; warm-up epochs are discarded. The summary is the median of the per-pair ratios (and of
each side's epochs); the target is lightning / plain <= 1.10. ``--pairing run`` alternates whole runs
instead (lightning, plain, lightning, ...), as the script did before: on a machine whose speed drifts
within seconds its rounds spread more.

Run: ``make bench`` (this script, then benchmarks/startup.py), or
``.venv/bin/python benchmarks/epoch_time.py --repeats 3 --epochs 3 --threads 2 --model lstm``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
# train.py and the configs find the repository through TRAINLAB_ROOT; set it before importing train.
os.environ["TRAINLAB_ROOT"] = str(ROOT)
sys.path.insert(0, str(ROOT))

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import train  # noqa: E402 - importing it registers the config schemas and the uid resolver
from trainlab.run.pipeline import build_model_and_data  # noqa: E402

TARGET_RATIO = 1.10  # issue 17: <= 1.10x the hand-written loop on a CPU
# how epochs are timed: wall time, or this process's CPU time (--clock cpu). On a machine shared with
# other work, wall time counts the waits for a core; with one torch thread and no loader workers the
# CPU time is the work itself, and the ratio holds still when the load changes.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def page_faults() -> int:
    """This process's minor page faults so far: memory the kernel had to map on first touch
    (trainlab.run.host_memory.keep_host_memory says why a training epoch can take 10^5 of them)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class EpochTimer(pl.Callback):
    """Wall time of every training epoch, measured two ways (see the module docstring)."""

    def __init__(self) -> None:
        self.train_val: list[float] = []
        self.whole: list[float] = []
        self.faults: list[int] = []  # minor page faults per train+val window
        self.train_batches = 0  # per epoch
        self._start: Optional[float] = None
        self._faults_at_start = 0

    def _close_whole_epoch(self, now: float) -> None:
        if self._start is not None:
            self.whole.append(now - self._start)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        now = clock()
        self._close_whole_epoch(now)
        self._start, self._faults_at_start = now, page_faults()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the sanity check before the first epoch runs validation too; it belongs to no epoch
        if not trainer.sanity_checking and self._start is not None:
            self.train_val.append(clock() - self._start)
            self.faults.append(page_faults() - self._faults_at_start)
            self.train_batches = int(trainer.num_training_batches)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close_whole_epoch(clock())
        self._start = None

    def exclude(self, seconds: float) -> None:
        """Take ``seconds`` (the interleaved plain epoch's) out of the current whole epoch."""
        if self._start is not None:
            self._start += seconds


class PlainLoop:
    """The same model (the task module's forward: window scaling and net), data and optimizer, trained
    by a bare PyTorch loop, one epoch per :meth:`epoch` call.

    ``device``: where the net and each batch go (benchmarks/gpu_check.py passes "cuda"); an epoch's
    time ends after a synchronisation there, so queued GPU work is counted.
    """

    def __init__(self, cfg: DictConfig, threads: int, device: str = "cpu"):
        torch.set_num_threads(threads)
        torch.manual_seed(cfg.seed)  # before building, as train.py seeds before it instantiates
        # the task module's forward (window scaling around the net) and criterion, without its loop,
        # hooks, metrics and logging: what Lightning adds is what the ratio measures
        model, datamodule = build_model_and_data(cfg)
        self.net, self.device = model.to(device), device
        datamodule.setup("fit")
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.optimizer.lr)
        self.criterion = model.criterion
        self.train_loader, self.val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
        self.epochs_done, self.val_loss = 0, float("nan")
        self.faults: list[int] = []  # minor page faults per epoch

    def epoch(self) -> float:
        """Train one epoch and validate; returns its time by the chosen clock."""
        net, device = self.net, self.device
        start, faults = clock(), page_faults()
        # Lightning calls set_epoch on the sampler; without it every epoch would see one order
        if hasattr(self.train_loader.sampler, "set_epoch"):
            self.train_loader.sampler.set_epoch(self.epochs_done)
        net.train()
        for x, y in self.train_loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            self.optimizer.zero_grad()
            self.criterion(net(x), y).backward()
            self.optimizer.step()
        net.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in self.val_loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                total += self.criterion(net(x), y).item() * len(x)
                count += len(x)
        self.val_loss = total / count
        if device != "cpu":
            torch.cuda.synchronize()
        self.epochs_done += 1
        seconds = clock() - start
        self.faults.append(page_faults() - faults)
        return seconds


class Interleaved(pl.Callback):
    """Runs one plain epoch after each Lightning epoch (outside the timer's windows)."""

    def __init__(self, plain: PlainLoop, timer: EpochTimer):
        self.plain, self.timer, self.seconds = plain, timer, []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = self.plain.epoch()
        self.seconds.append(seconds)
        self.timer.exclude(seconds)


@dataclass
class Round:
    """One lightning run and one plain run; epoch lists exclude the warm-up epoch."""

    lightning: list[float] = field(default_factory=list)
    lightning_whole: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    train_batches: int = 0
    lightning_faults: list[int] = field(default_factory=list)
    plain_faults: list[int] = field(default_factory=list)
    lightning_val_loss: float = float("nan")
    plain_val_loss: float = float("nan")


def compose_cfg(overrides: list[str], run_dir: Path) -> DictConfig:
    """Compose conf/train.yaml as ``python train.py <overrides>`` would, writing under ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.paths.log_dir = str(run_dir.parent)
        cfg.paths.output_dir = str(run_dir)
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    # @hydra.main hands the task a config without the hydra node (it lives on in HydraConfig, where
    # run_label reads it); do the same, so train() logs and saves what it does from the command line
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def run_lightning(cfg: DictConfig) -> tuple[EpochTimer, float]:
    timer = EpochTimer()
    metrics = train.train(cfg, extra_callbacks=[timer])
    return timer, metrics["val/loss"]


def run_plain(cfg: DictConfig, epochs: int, threads: int,
              device: str = "cpu") -> tuple[list[float], float, list[int]]:
    """``epochs`` epochs of :class:`PlainLoop` in a row; returns epoch times, val loss, page faults."""
    plain = PlainLoop(cfg, threads, device)
    seconds = [plain.epoch() for _ in range(epochs)]
    return seconds, plain.val_loss, plain.faults


def run_paired(cfg: DictConfig, threads: int) -> tuple[EpochTimer, float, list[float], float, list[int]]:
    """A Lightning run with a plain epoch after each of its epochs: timer, its val loss, the plain
    epochs' times, the plain loop's val loss, its epochs' page faults."""
    plain = PlainLoop(cfg, threads)
    timer = EpochTimer()
    interleaved = Interleaved(plain, timer)
    metrics = train.train(cfg, extra_callbacks=[timer, interleaved])
    return timer, metrics["val/loss"], interleaved.seconds, plain.val_loss, plain.faults


def quiet_lightning() -> None:
    """Keep the console to the progress bar and this script's table (the timing is unaffected)."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    # the same warnings pyproject.toml silences for the tests: expected with in-memory data
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="tensorboard.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of (lightning, plain); default 3")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run, after 1 warm-up; default 3")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (hardware.num_threads); default 2")
    parser.add_argument("--model", default="lstm", help="config group option model=...; default lstm")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time (default) or this process's CPU time (steadier on a busy machine; "
                             "use with --threads 1)")
    parser.add_argument("--pairing", choices=("epoch", "run"), default="epoch",
                        help="epoch (default): a plain epoch after each Lightning epoch, ratios per pair; "
                             "run: whole runs alternate")
    parser.add_argument("--rows", type=int, default=None,
                        help="data.source.num_rows; default the config's (conf/data/synthetic.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="more train.py overrides for both sides, e.g. model.net.hidden_size=8 data.window=8 "
                             "(a tiny net: the ratio then shows the fixed cost per step)")
    args = parser.parse_args(argv)
    for name in ("repeats", "epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def overrides_for(args: argparse.Namespace) -> list[str]:
    overrides = [
        f"model={args.model}",
        f"trainer.max_epochs={args.epochs + 1}",  # + the warm-up epoch
        "test=false",
        "callbacks.early_stopping=null",  # every run lasts the same number of epochs
        "logger=tensorboard",
        f"hardware={getattr(args, 'hardware', 'cpu')}",
        f"hardware.num_threads={args.threads}",
    ]
    if getattr(args, "batch_size", None):
        overrides.append(f"data.batch_size={args.batch_size}")
    if args.rows is not None:
        overrides.append(f"data.source.num_rows={args.rows}")
    return overrides + list(getattr(args, "overrides", []))


def print_summary(args: argparse.Namespace, cfg: DictConfig, rounds: list[Round], elapsed: float,
                  load_before: float) -> None:
    lightning = [s for r in rounds for s in r.lightning]
    lightning_whole = [s for r in rounds for s in r.lightning_whole]
    plain = [s for r in rounds for s in r.plain]
    if args.pairing == "epoch":  # the median of the ratios of epochs run a second apart
        ratio = median([lt / pt for r in rounds for lt, pt in zip(r.lightning, r.plain)])
        ratio_whole = median([lw / pt for r in rounds for lw, pt in zip(r.lightning_whole, r.plain)])
    else:
        ratio, ratio_whole = median(lightning) / median(plain), median(lightning_whole) / median(plain)

    print()
    print(f"command : {shlex.join(sys.orig_argv)}")
    print(f"config  : model={args.model} ({cfg.model.net._target_.rsplit('.', 1)[-1]}), "
          f"batch_size={cfg.data.batch_size}, rows={cfg.data.source.num_rows}, window={cfg.data.window}, "
          f"threads={args.threads}, torch {torch.__version__}, lightning {pl.__version__}")
    pairing = ("a plain epoch after each lightning epoch" if args.pairing == "epoch"
               else "runs alternate (lightning, plain)")
    print(f"runs    : {args.repeats} rounds, {pairing}, {args.epochs} timed epochs each "
          f"after 1 warm-up; {elapsed:.0f} s in all; epochs timed by {args.clock} clock")
    # other work on the machine inflates wall times; the load average says how much there was
    print(f"machine : {os.cpu_count()} CPUs, load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print()
    header = f"{'round':<7}{'lightning s/epoch':>19}{'plain s/epoch':>15}{'ratio':>8}" \
             f"{'lightning whole':>17}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for i, r in enumerate(rounds, 1):
        lt, lw, pt = median(r.lightning), median(r.lightning_whole), median(r.plain)
        if args.pairing == "epoch":
            rt = median([a / b for a, b in zip(r.lightning, r.plain)])
            rw = median([a / b for a, b in zip(r.lightning_whole, r.plain)])
        else:
            rt, rw = lt / pt, lw / pt
        print(f"{i:<7}{lt:>19.3f}{pt:>15.3f}{rt:>8.3f}{lw:>17.3f}{rw:>8.3f}")
    print("-" * len(header))
    print(f"{'median':<7}{median(lightning):>19.3f}{median(plain):>15.3f}{ratio:>8.3f}"
          f"{median(lightning_whole):>17.3f}{ratio_whole:>8.3f}")
    print(f"{'min':<7}{min(lightning):>19.3f}{min(plain):>15.3f}{min(lightning) / min(plain):>8.3f}"
          f"{min(lightning_whole):>17.3f}{min(lightning_whole) / min(plain):>8.3f}")
    print()
    print("lightning s/epoch: on_train_epoch_start -> on_validation_epoch_end (train + validation);")
    print("lightning whole  : epoch start -> next epoch start (adds epoch metrics, logging, checkpoints).")
    if args.pairing == "epoch":
        print("ratio            : the median of the ratios of each lightning epoch to the plain epoch after it.")
    # a check that both sides did the same training: close, not equal (EpochSeed reseeds dropout)
    print(f"val/loss at the end, per round: lightning {', '.join(f'{r.lightning_val_loss:.4f}' for r in rounds)}; "
          f"plain {', '.join(f'{r.plain_val_loss:.4f}' for r in rounds)}")
    # memory the kernel mapped on first touch during the timed windows (hardware.host_memory_keep_mb)
    faults = [median([f for r in rounds for f in getattr(r, side)]) for side in ("lightning_faults", "plain_faults")]
    print(f"minor page faults per epoch (median): lightning {faults[0]:.0f}, plain {faults[1]:.0f} "
          f"(hardware.host_memory_keep_mb={cfg.hardware.host_memory_keep_mb})")
    batches = rounds[0].train_batches
    if batches:  # what Lightning adds, spread over the training steps (validation's share included)
        extra = (median(lightning) - median(plain)) / batches * 1000
        print(f"extra time per training step: {extra:.2f} ms ({batches} training batches per epoch)")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"lightning / plain (train+val, median) = {ratio:.3f}: {verdict} the target <= {TARGET_RATIO:.2f}"
          f" (whole epoch: {ratio_whole:.3f})")


def main(argv: Optional[list[str]] = None) -> None:
    global clock
    args = parse_args(argv)
    clock = CLOCKS[args.clock]
    quiet_lightning()
    overrides = overrides_for(args)
    rounds: list[Round] = []
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    cfg: Any = None
    with tempfile.TemporaryDirectory(prefix="trainlab-bench-") as tmp:
        for i in range(args.repeats):
            result = Round()
            print(f"[round {i + 1}/{args.repeats}] lightning: python train.py {' '.join(overrides)}", flush=True)
            cfg = compose_cfg(overrides, Path(tmp) / f"round{i}")
            if args.pairing == "epoch":
                print(f"[round {i + 1}/{args.repeats}] ... and a plain PyTorch epoch after each of its epochs", flush=True)
                timer, result.lightning_val_loss, seconds, result.plain_val_loss, faults = run_paired(cfg, args.threads)
            else:
                timer, result.lightning_val_loss = run_lightning(cfg)
                print(f"[round {i + 1}/{args.repeats}] plain PyTorch loop", flush=True)
                seconds, result.plain_val_loss, faults = run_plain(cfg, args.epochs + 1, args.threads)
            result.lightning, result.lightning_whole = timer.train_val[1:], timer.whole[1:]  # drop warm-up
            result.train_batches = timer.train_batches
            result.plain = seconds[1:]
            result.lightning_faults, result.plain_faults = timer.faults[1:], faults[1:]
            rounds.append(result)
    GlobalHydra.instance().clear()
    print_summary(args, cfg, rounds, time.perf_counter() - started, load_before)


if __name__ == "__main__":
    main()
