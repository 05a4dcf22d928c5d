"""A folder of many small images (``data=sky_folder``): how long ``ImageFolder.load()`` takes to read it,
as a run reads it (the mask folder listed once) against the mask folder listed again for every image
(as before; each listing stats every mask, so the time grows with images x masks).

The images are generated (``--images`` of ``--size`` pixels, NPY, half with an anomaly, and a mask
each) into a temporary folder; ``--repeats`` rounds alternate the two ways; medians.

Run: ``make bench-images`` or ``.venv/bin/python benchmarks/image_folder.py --images 1000``.
"""

from __future__ import annotations

import argparse
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64, help="side of each image in pixels")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
