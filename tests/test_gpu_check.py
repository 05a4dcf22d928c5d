"""benchmarks/gpu_check.py rehearsed on the CPU (--dry): every section runs and the report is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_dry_run_writes_both_reports(tmp_path, capsys):
    import gpu_check

    gpu_check.main(["--dry", "--families", "lstm", "--energy-seconds", "0.2", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "gpu_report.json").read_text())
    assert report["dry"] and set(report) >= {"environment", "profiles", "throughput", "energy", "overhead"}
    assert report["profiles"]["auto"] == {"accelerator": "cpu", "precision": "32-true", "matmul": "high",
                                          "memory_gb": None}
    assert "needs an NVIDIA GPU" in report["profiles"]["h100"]["refused"]
    fp32 = report["throughput"]["lstm/32-true"]
    assert fp32["steps_per_s"] > 0 and fp32["host_reads_per_step"] == 0  # no read in steady-state steps
    assert "GPUs only" in report["throughput"]["lstm/16-mixed"]["skipped"]
    assert report["energy"]["skipped"].startswith("no NVIDIA GPU")
    assert report["overhead"]["batch_32"]["ratio"] > 0
    screen = capsys.readouterr().out
    assert "overhead batch_256" in screen and (tmp_path / "gpu_report.md").read_text().startswith("# GPU check")
