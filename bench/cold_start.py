"""Cold start of ``barnebot chat`` to its first answer, and the process's peak RSS.

Runs the real command in a subprocess (fresh SQLite file each run) and times until the first
reply line arrives. ``--cold-cache`` also removes the NLU model cache, so training is included.
Usage: python bench/cold_start.py [--runs 5] [--cold-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def proc_mb(pid: int, key: str = "VmHWM") -> float:
    """From /proc (Linux), in MB: VmHWM, the process's own peak resident set, or VmRSS now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(env: dict[str, str], later: tuple[str, ...] = ()) -> tuple[float, float]:
    """Start `barnebot chat --json`: seconds to its first answer, and its peak RSS (MB) after
    it has also answered ``later`` messages."""
    barnebot = shutil.which("barnebot", path=str(Path(sys.executable).parent)) or "barnebot"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [barnebot, "chat", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write('{"text": "hvad er en bisidder"}\n')
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    assert "replies" in line, line
    for text in later:
        proc.stdin.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        proc.stdin.flush()
        assert "replies" in proc.stdout.readline()
    rss = proc_mb(proc.pid)
    proc.stdin.close()
    proc.wait(timeout=30)
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-cache", action="store_true")
    args = parser.parse_args()
    times: list[float] = []
    peaks: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for i in range(args.runs):
            if args.cold_cache:
                shutil.rmtree(cache, ignore_errors=True)
            env = {
                **os.environ,
                "BARNEBOT_CACHE_DIR": str(cache),
                "BARNEBOT_DATABASE_URL": f"sqlite:///{tmp}/run{i}.sqlite3",
            }
            if i == 0 and not args.cold_cache:
                one_run(env)  # train once; the runs below measure a normal start
            elapsed, rss = one_run(env)
            times.append(elapsed)
            peaks.append(rss)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "cold_cache": args.cold_cache,
                "first_answer_median_s": round(statistics.median(times), 3),
                "first_answer_max_s": round(max(times), 3),
                "peak_rss_mb_max": round(max(peaks), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
