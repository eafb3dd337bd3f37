"""Every script in benchmarks/ runs, at a tiny size, so none can break unseen (they once stopped with
``KeyError: 'notices'`` and a ConfigError while the suite was green). What they measure is printed, not asserted:
speed targets live in the scripts, never in timed tests. Each runs as a user runs it, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = {  # script → the smallest arguments that still exercise every path, and a line its report must print
    "sweep.py": (["--scale", "400"], "milestones"),
    "notices.py": (["--n", "2"], "ratio ours / baseline"),
    "messages.py": (["--n", "3"], "webhook"),
    "cli.py": (["--runs", "1"], "timeline"),
    "flow_overhead.py": (["--runs", "1"], "submit action"),
    "web.py": (["--users", "1", "--rounds", "1"], "POST review"),
}


def test_every_benchmark_has_a_smoke_run():
    assert sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")) == sorted(SMOKE)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_runs_at_a_tiny_size(script, tmp_path):
    args, expect = SMOKE[script]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert expect in out.stdout, out.stdout[-3000:]
    assert "Traceback" not in out.stderr
