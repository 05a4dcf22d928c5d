"""Peak memory of reading an astronomy archive's table (FITS, VOTable) with ``read_frame``, against its
file's size.

Writes a Gaia-like catalogue (``source_id``, 12 float columns, a text ``label``) of ``--rows`` stars as
FITS and, of ``--vot-rows`` stars, as a VOTable into ``--folder``, then reads each in a fresh
subprocess of this venv's Python and reports the peak resident memory (``ru_maxrss``) above the
process's own after ``import pandas, astropy``, in MB and as a multiple of the file's size.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/astro_table_memory.py --folder /tmp/tables``
(2.6 million rows: a 278 MB FITS file, about a minute).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

MEASURE = """
import resource, sys, time
from pathlib import Path
import pandas, astropy.table, astropy.io.fits, astropy.io.votable
from trainlab.data.files import read_frame
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.time()
frame = read_frame(sys.argv[1], "data.source.path")
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 2**10
size = Path(sys.argv[1]).stat().st_size / 2**20
print(f"{Path(sys.argv[1]).name}: {len(frame)} rows, file {size:.0f} MB, peak above the process {peak:.0f} MB "
      f"({peak / size:.1f}x the file), {time.time() - start:.1f} s")
"""


def write(path: Path, rows: int) -> None:
    import numpy as np
    from astropy.table import Table

    rng = np.random.default_rng(0)
    columns = {"source_id": np.arange(rows, dtype=np.int64) + 2**62}
    for name in ("ra", "dec", "parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "radial_velocity",
                 "parallax_error", "ruwe", "teff", "logg"):
        columns[name] = rng.standard_normal(rows)
    columns["label"] = np.array(["field", "hyades", "pleiades"])[rng.integers(0, 3, rows)]
    Table(columns).write(path, overwrite=True, format="votable" if path.suffix == ".vot" else "fits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=2_600_000)
    parser.add_argument("--vot-rows", type=int, default=400_000)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("stars.fits", args.rows), ("stars.vot", args.vot_rows)):
        if rows:
            path = args.folder / name
            if not path.exists():
                write(path, rows)
            subprocess.run([sys.executable, "-c", MEASURE, str(path)], check=True)


if __name__ == "__main__":
    main()
