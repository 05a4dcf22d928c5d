"""A folder of many small images (``data=sky_folder``): how long ``ImageFolder.load()`` takes to read it,
as a run reads it (the mask folder listed once) against the mask folder listed again for every image
(as before; each listing stats every mask, so the time grows with images x masks).

The images are generated (``--images`` of ``--size`` pixels, NPY, half with an anomaly, and a mask
each) into a temporary folder; ``--repeats`` rounds alternate the two ways; medians.

``--large N`` measures memory instead: N images of ``--side`` pixels cut into ``--tile`` tiles, read and
set up by the data module (``SkyDataModule.load()`` then ``setup("fit")``) in a fresh process per round,
which reports its peak RSS above its imports after each; ``--compare-src DIR`` (the ``src`` of another
checkout, e.g. ``git archive <commit> src | tar -x -C /tmp/old``) alternates rounds of that code with
rounds of this tree's; medians.

Run: ``make bench-images`` or ``.venv/bin/python benchmarks/image_folder.py --images 1000``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from trainlab.data.image import sources  # noqa: E402


def write_folder(root: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    (root / "masks").mkdir(parents=True)
    for i in range(count):
        image = rng.normal(100.0, 5.0, (size, size)).astype(np.float32)
        mask = np.zeros((size, size), dtype=np.uint8)
        if i % 2:
            mask[size // 4: size // 4 + 4, size // 2: size // 2 + 4] = 1
            image[mask == 1] += 200
        np.save(root / f"img{i:05d}.npy", image)
        np.save(root / "masks" / f"img{i:05d}.npy", mask)


class _ListedPerImage(dict):
    """The mask lookup as it was: the mask folder listed (and every entry stat'ed) for each image."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def get(self, stem, default=None):
        found = [p for p in sources.listing(self.folder, "data.source.mask_dir") if p.is_file()
                 and sources.image_suffix(p) and sources.name_stem(p) == stem]
        return found or default


_SETUP_PEAK = """
import json, resource, sys
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import torch, lightning  # noqa: F401  (what a run has imported before its data)
base = peak()
from trainlab.data.image.module import SkyDataModule
from trainlab.data.image.sources import ImageFolder
data = SkyDataModule(ImageFolder(sys.argv[1], tile_size=int(sys.argv[2])))
tiles = data.load()
read = peak()
data.setup("fit")
print(json.dumps({"load": read - base, "setup": peak() - base, "tiles_mb": tiles.images.nbytes / 2**20}))
"""


def large(args: argparse.Namespace) -> None:
    """Peak memory of reading and setting up a folder of a few large images, per code tree, alternating."""
    trees = {"this tree": str(Path(__file__).resolve().parents[1] / "src")}
    if args.compare_src:
        trees = {f"{args.compare_src} (before)": args.compare_src, **trees}
    rounds: dict[str, list[dict]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "sky"
        rng = np.random.default_rng(0)
        (root / "masks").mkdir(parents=True)
        for i in range(args.large):
            mask = np.zeros((args.side, args.side), dtype=np.uint8)
            mask[100:110, 200:210] = 1
            np.save(root / f"big{i}.npy", rng.normal(100.0, 5.0, (args.side, args.side)).astype(np.float32) + np.float32(300) * mask)
            np.save(root / "masks" / f"big{i}.npy", mask)
        for _ in range(args.repeats):
            for name, src in trees.items():
                done = subprocess.run([sys.executable, "-c", _SETUP_PEAK, str(root), str(args.tile)], check=True,
                                      capture_output=True, text=True, env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
                rounds[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    tiles = rounds[next(iter(rounds))][0]["tiles_mb"]
    print(f"{args.large} images of {args.side}x{args.side} in tiles of {args.tile} ({tiles:.0f} MB of float32 tiles): "
          f"peak RSS above the imports (medians of {args.repeats} alternating rounds)")
    for name, found in rounds.items():
        load, setup = (statistics.median(r[k] for r in found) for k in ("load", "setup"))
        each = ", ".join(f"{r['setup']:.0f}" for r in found)
        print(f"  {name}: after load() {load:.0f} MB ({load / tiles:.1f}x the tiles), after setup() {setup:.0f} MB "
              f"({setup / tiles:.1f}x; rounds {each})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64, help="side of each image in pixels")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", type=int, default=0, help="measure memory on this many large images instead")
    parser.add_argument("--side", type=int, default=6000, help="--large: side of each image in pixels")
    parser.add_argument("--tile", type=int, default=256, help="--large: data.source.tile_size")
    parser.add_argument("--compare-src", help="--large: the src folder of another checkout, run alternating")
    args = parser.parse_args()
    if args.large:
        large(args)
        return
    arms: dict[str, list[float]] = {"as a run reads it (masks listed once)": [],
                                    "masks listed for every image (before)": []}
    listed_once = sources.ImageFolder._masks
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "sky"
        write_folder(root, args.images, args.size)
        for _ in range(args.repeats):
            for name, masks in zip(arms, (listed_once, lambda self: _ListedPerImage(self.mask_dir))):
                sources.ImageFolder._masks = masks
                try:
                    start = time.perf_counter()
                    tiles = sources.ImageFolder(str(root)).load()
                    arms[name].append(time.perf_counter() - start)
                finally:
                    sources.ImageFolder._masks = listed_once
                assert len(tiles.images) == args.images
    print(f"{args.images} images of {args.size}x{args.size} with a mask each, read (medians of {args.repeats} "
          "alternating rounds):")
    for name, times in arms.items():
        each = statistics.median(times)
        print(f"  {name}: {each:.2f} s ({', '.join(f'{t:.2f}' for t in times)}), "
              f"{1000 * each / args.images:.2f} ms per image")


if __name__ == "__main__":
    main()
