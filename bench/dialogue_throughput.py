"""Messages/second and p50/p95 latency through the dialogue entry point (in-process, SQLite).

Usage: python bench/dialogue_throughput.py [--messages 2000] [--chats 50]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.dialogue.messages import UserMessage
from bot.logs import configure_logging
from bot.nlu.training_data import load_files
from bot.runtime import build

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=50)
    args = parser.parse_args()
    configure_logging(logging.ERROR)
    texts = [e.text for e in load_files([REPO / "tests" / "data" / "nlu_heldout.yml"]).examples]
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            BARNEBOT_DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            BARNEBOT_CACHE_DIR=Path(tmp) / "cache",
        )
        # Train in a child process, so this process's peak RSS is that of a running bot
        # (which loads the cached model), not of training.
        subprocess.run(
            [sys.executable, "-m", "bot", "nlu", "parse", "hej"],
            env={**os.environ, "BARNEBOT_CACHE_DIR": str(settings.cache_dir)},
            check=True,
            capture_output=True,
        )
        runtime = build(settings)
        handle = runtime.assistant.handle
        for i in range(50):  # warm-up
            handle(UserMessage(f"bench:warm{i % 5}", text=rng.choice(texts)))
        latencies: list[float] = []
        started = time.perf_counter()
        for i in range(args.messages):
            chat = f"bench:{rng.randrange(args.chats)}"
            if i % 5 == 4:
                message = UserMessage(
                    chat, button=rng.choice(["menu", "rights", "topic:complaint"])
                )
            else:
                message = UserMessage(chat, text=rng.choice(texts))
            t0 = time.perf_counter()
            handle(message)
            latencies.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - started
        runtime.close()
    latencies.sort()
    report = {
        "messages": args.messages,
        "messages_per_second": round(args.messages / total, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "max_ms": round(latencies[-1], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
