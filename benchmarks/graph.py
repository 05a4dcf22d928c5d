"""Graph family figures: kNN graph build time, and memory of sampled-subgraph against full-graph training.

1. kNN graph: time of :func:`trainlab.data.graph.subgraphs.knn_table` (scipy cKDTree build + query of the
   k+1 nearest stars, all cores) on the synthetic Gaia-like catalogue at each ``--sizes``; the
   catalogue's generation is timed apart. Median of ``--repeats`` runs.
2. Memory: one training epoch of the default GNN (GraphSAGE, 2 layers, 64 hidden, Adam) on the
   ``--stars`` catalogue, once on the whole graph and once on sampled ego nets of at most
   ``--max-nodes`` nodes (the seed's laptop profile, rtx4070_mobile, allows 1000). Each side runs
   in its own subprocess so that the peaks do not mix; it builds the graph, then resets the
   kernel's peak-RSS counter (``/proc/self/clear_refs``, Linux) and reads it again after the
   epoch (``VmHWM``). Reported: RSS once the graph is built, the epoch's peak RSS and the
   epoch's own share (peak - before), wall time and batches. The training step is the one
   NodeClassificationModule runs (cross-entropy on the batch's target nodes), in a plain loop.

Run: ``make bench-graph`` or ``.venv/bin/python benchmarks/graph.py [--stars 1000000] [--max-nodes 1000]``.
``--sampled-batches N`` (default 2000; 0: all of them) stops the sampled epoch after N batches: its
peak does not grow with more batches of the same size, and its time is extrapolated to the whole
epoch and marked so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRAINLAB_ROOT", str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def _proc_status(key: str) -> float:
    """A /proc/self/status value in MB (VmRSS: now, VmHWM: peak since start or the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # "5" resets VmHWM to the current RSS (Linux >= 4.0)


def knn_times(sizes: list[int], k: int, repeats: int, seed: int) -> list[dict]:
    from trainlab.data.graph.synthetic import SyntheticGaia
    from trainlab.data.graph.subgraphs import knn_table

    rows = []
    for n in sizes:
        start = time.perf_counter()
        table = SyntheticGaia(n, seed=seed).load()
        generate = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            knn_table(table.positions, k)
            times.append(time.perf_counter() - start)
        rows.append({"stars": n, "generate_s": generate, "knn_s": statistics.median(times), "runs": repeats})
    return rows


def one_epoch(mode: str, stars: int, max_nodes: int, k: int, threads: int, seed: int,
              batch_size: int, max_batches: int | None) -> dict:
    """Build the graph, then train one epoch ("full" or "sampled"); runs inside its own process."""
    import gc

    import torch

    from trainlab.data.graph.synthetic import SyntheticGaia
    from trainlab.data.graph.module import StarGraphDataModule
    from trainlab.models.nets.gnn import GNN

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dm = StarGraphDataModule(SyntheticGaia(stars, seed=seed), k=k, batch_size=batch_size, num_hops=2, seed=seed,
                             max_nodes_per_graph=max_nodes if mode == "sampled" else None)
    dm.setup("fit")
    net = GNN(dm.dims["in"], hidden_channels=64, out_channels=dm.dims["out"], num_layers=2, conv="sage")
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    loader = dm.train_dataloader()
    total_batches = len(loader)
    gc.collect()
    before = _proc_status("VmRSS")
    _reset_peak_rss()
    start = time.perf_counter()
    batches, most_nodes, loss = 0, 0, float("nan")
    for batch in loader:
        mask = batch.target_mask
        optimizer.zero_grad()
        out = criterion(net(batch.x, batch.edge_index)[mask], batch.y[mask])
        out.backward()
        optimizer.step()
        batches, most_nodes, loss = batches + 1, max(most_nodes, batch.num_nodes), float(out)
        if max_batches is not None and batches >= max_batches:
            break
    seconds = time.perf_counter() - start
    peak = _proc_status("VmHWM")
    return {"mode": mode, "stars": stars, "edges": int(dm.graph.num_edges), "rss_before_mb": before,
            "peak_mb": peak, "epoch_share_mb": peak - before, "seconds": seconds, "batches": batches,
            "batches_per_epoch": total_batches, "most_nodes_per_batch": most_nodes, "last_loss": loss,
            "epoch_seconds": seconds * total_batches / batches}


def run_epoch_subprocess(mode: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--epoch", mode, "--stars", str(args.stars), "--max-nodes", str(args.max_nodes),
           "--k", str(args.k), "--threads", str(args.threads), "--seed", str(args.seed),
           "--batch-size", str(args.batch_size)]
    if mode == "sampled":
        cmd += ["--sampled-batches", str(args.sampled_batches)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the {mode} epoch failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="catalogues for kNN timing")
    parser.add_argument("--repeats", type=int, default=3, help="kNN timings per size (median)")
    parser.add_argument("--stars", type=int, default=1_000_000, help="catalogue for the memory comparison")
    parser.add_argument("--max-nodes", type=int, default=1000, help="node budget of a sampled subgraph")
    parser.add_argument("--batch-size", type=int, default=64, help="seed stars per sampled batch (capped to fit)")
    parser.add_argument("--sampled-batches", type=int, default=2000,
                        help="stop the sampled epoch after this many batches (its peak memory is reached long before; "
                             "its time is extrapolated); 0: the whole epoch (~78,000 batches on 10^6 stars)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: small batches gain nothing from more, and the machine is shared)")
    parser.add_argument("--seed", type=int, default=3407)
    parser.add_argument("--skip-knn", action="store_true")
    parser.add_argument("--epoch", choices=["full", "sampled"], help=argparse.SUPPRESS)  # the subprocess side
    args = parser.parse_args()
    if args.epoch:
        max_batches = (args.sampled_batches or None) if args.epoch == "sampled" else None
        print(json.dumps(one_epoch(args.epoch, args.stars, args.max_nodes, args.k, args.threads, args.seed,
                                   args.batch_size, max_batches)))
        return

    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.threads} torch threads; k={args.k}")
    if not args.skip_knn:
        print("\nkNN graph (scipy cKDTree, all cores), synthetic Gaia-like catalogue:\n")
        print("| stars | generate catalogue (s) | kNN graph (s) | runs |")
        print("|---|---|---|---|")
        for row in knn_times(args.sizes, args.k, args.repeats, args.seed):
            print(f"| {row['stars']:,} | {row['generate_s']:.2f} | {row['knn_s']:.2f} | {row['runs']} |", flush=True)

    print(f"\nOne training epoch on {args.stars:,} stars (GraphSAGE 2x64, Adam), each side in its own process:\n")
    rows = [run_epoch_subprocess(mode, args) for mode in ("full", "sampled")]
    print("| batches | RSS after graph build (MB) | epoch peak RSS (MB) | epoch's own share (MB) | "
          "nodes per batch (max) | batches run / per epoch | epoch time (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        what = "whole graph" if r["mode"] == "full" else f"ego nets <= {args.max_nodes} nodes"
        partial = r["batches"] < r["batches_per_epoch"]
        time_cell = f"{r['epoch_seconds']:.1f}" + (" (extrapolated)" if partial else "")
        print(f"| {what} | {r['rss_before_mb']:.0f} | {r['peak_mb']:.0f} | {r['epoch_share_mb']:.0f} | "
              f"{r['most_nodes_per_batch']:,} | {r['batches']:,} / {r['batches_per_epoch']:,} | {time_cell} |")
    full, sampled = rows
    print(f"\nthe epoch's own memory: sampled {sampled['epoch_share_mb']:.0f} MB vs full graph "
          f"{full['epoch_share_mb']:.0f} MB ({full['epoch_share_mb'] / max(sampled['epoch_share_mb'], 1):.0f}x less)")


if __name__ == "__main__":
    main()
