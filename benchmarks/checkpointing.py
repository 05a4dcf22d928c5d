"""Gradient checkpointing (model.net.checkpointing=true): memory saved and time it costs, per net.

For the default LSTM (2 layers, hidden 64, batch 32 x window 48) and U-Net (base 16, depth 3, batch
8 x 1 x 64 x 64), plain and checkpointed alternate for ``--repeats`` rounds of ``--steps`` training
steps (forward, backward, Adam). Reported per setting: the median step time and the peak tensor
memory of one step: on a GPU ``torch.cuda.max_memory_allocated``, on a CPU torch's profiler
(trainlab.testing.memory.cpu_peak_bytes; peak RSS cannot see freed activations).

Run: ``make bench`` (last), or ``.venv/bin/python benchmarks/checkpointing.py --repeats 3 --steps 10``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Optional

import torch

from trainlab.models.nets.lstm import LSTMNet
from trainlab.models.nets.unet import UNet
from trainlab.testing.memory import cpu_peak_bytes

NETS: dict[str, tuple[Callable[..., torch.nn.Module], tuple[int, ...]]] = {
    "lstm": (lambda flag: LSTMNet(5, hidden_size=64, num_layers=2, output_size=1, dropout=0.0, checkpointing=flag),
             (32, 48, 5)),  # dropout 0.0: the net its README figures were measured on (the default became 0.1)
    "unet": (lambda flag: UNet(1, 1, base_channels=16, depth=3, checkpointing=flag), (8, 1, 64, 64)),
}


def measure(name: str, flag: bool, steps: int, device: str) -> tuple[float, int]:
    """(median seconds per training step, peak bytes of one step) for one net and setting."""
    make, shape = NETS[name]
    torch.manual_seed(0)
    net = make(flag).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(*shape, device=device)

    def step() -> None:
        optimizer.zero_grad()
        net(x).float().pow(2).mean().backward()
        optimizer.step()

    step()  # warm-up: allocator, optimizer state
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = cpu_peak_bytes(step)
    return statistics.median(times), peak


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"gradient checkpointing on {device} ({'max_memory_allocated' if device == 'cuda' else 'torch.profiler'} "
          f"peaks), {args.repeats} alternated rounds x {args.steps} steps, {args.threads} threads")
    print(f"{'net':<6}{'plain ms':>10}{'ckpt ms':>10}{'time x':>8}{'plain MB':>10}{'ckpt MB':>10}{'memory x':>10}")
    for name in NETS:
        results: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
        for _ in range(args.repeats):
            for flag in (False, True):
                results[flag].append(measure(name, flag, args.steps, device))
        t = {flag: statistics.median(r[0] for r in rows) for flag, rows in results.items()}
        m = {flag: max(r[1] for r in rows) for flag, rows in results.items()}
        print(f"{name:<6}{t[False] * 1e3:>10.2f}{t[True] * 1e3:>10.2f}{t[True] / t[False]:>8.2f}"
              f"{m[False] / 2**20:>10.1f}{m[True] / 2**20:>10.1f}{m[True] / m[False]:>10.2f}")


if __name__ == "__main__":
    main()
