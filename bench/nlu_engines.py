"""The embedded engine and Rasa side by side, on exactly the same held-out data.

Needs a Rasa server started by ``scripts/rasa/serve`` (it reads ``.rasa-run/env``, ``rasa.pid``
and ``startup_seconds``; ``--rasa-run DIR`` for another place). For each engine:

* quality: the real ``barnebot nlu eval FILE --json`` with ``BARNEBOT_NLU_ENGINE`` set (safety
  layer in front, as a child gets it): macro-F1, accuracy, out_of_scope recall, confident-wrong
  rate (wrong, not out_of_scope, at or above the engine's own threshold) and wrong answers
  given with ≥ 0.8 confidence;
* latency: p50/p95 of the engine's ``parse`` in this process, through barnebot's engine
  objects (for Rasa: ``RasaEngine``, HTTP to the server and mapping included), every held-out
  text, after a warm-up;
* memory: resident set of the Rasa server (now and peak) and of a ``barnebot chat --json``
  process that has answered a few messages (peak), each from /proc;
* start-up: Rasa server start until /model/parse answers (``scripts/rasa/serve`` measures
  it) vs ``barnebot chat`` start until its first answer (model cache warm).

``--rasa-own-entities`` also scores the entities Rasa itself extracts against the held-out
annotations, next to barnebot's extractors. Prints the table (Markdown) on stderr and one JSON
document on stdout. Usage:

    .venv/bin/python bench/nlu_engines.py [--heldout tests/data/nlu_heldout.yml]
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
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cold_start import one_run, proc_mb  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.nlu.embedded import EmbeddedEngine  # noqa: E402
from bot.nlu.rasa import RasaEngine  # noqa: E402
from bot.nlu.training_data import load_files  # noqa: E402
from bot.runtime import build_nlu  # noqa: E402

BARNEBOT = shutil.which("barnebot", path=str(Path(sys.executable).parent)) or "barnebot"


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def tree_rss(pid: int, key: str) -> float:
    """The process and its children (Rasa may fork), summed."""
    total = proc_mb(pid, key)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.is_file():
        for child in children.read_text().split():
            total += tree_rss(int(child), key)
    return total


def run_eval(heldout: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [BARNEBOT, "nlu", "eval", str(heldout), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"barnebot nlu eval failed:\n{result.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def wrong_at(report: dict[str, Any], confidence: float) -> float:
    predictions = report["predictions"]
    wrong = sum(
        1
        for p in predictions
        if p["predicted"] not in (p["expected"], "out_of_scope") and p["confidence"] >= confidence
    )
    return round(wrong / len(predictions), 4)


def latencies(parse: Any, texts: list[str]) -> dict[str, float]:
    for text in texts[:20]:  # warm-up
        parse(text)
    times: list[float] = []
    for text in texts:
        started = time.perf_counter()
        parse(text)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
    }


def barnebot_chat(env: dict[str, str]) -> dict[str, float]:
    """Start → first answer, and peak RSS after a few messages, of `barnebot chat --json`."""
    startup, peak = one_run(env, later=("kan jeg klage", "jeg bor i kbh hvem er min rådgiver"))
    return {"startup_s": round(startup, 2), "peak_rss_mb": round(peak, 1)}


def entity_scores(heldout: Path, url: str, token: str, embedded: EmbeddedEngine) -> dict[str, Any]:
    """(entity, value) precision/recall on the held-out annotations: Rasa's own vs ours."""
    data = load_files([heldout])
    gold = [{(e, str(v)) for e, v, _, _ in ex.entities} for ex in data.examples]
    ours: list[set[tuple[str, str]]] = []
    rasas: list[set[tuple[str, str]]] = []
    with httpx.Client(timeout=10, trust_env=False) as client:
        for ex in data.examples:
            ours.append({(e["entity"], str(e["value"])) for e in embedded.entities(ex.text)})
            answer = client.post(
                f"{url}/model/parse", params={"token": token}, json={"text": ex.text}
            ).json()
            rasas.append({(e["entity"], str(e["value"])) for e in answer.get("entities", [])})

    def score(found: list[set[tuple[str, str]]]) -> dict[str, float]:
        tp = sum(len(f & g) for f, g in zip(found, gold, strict=True))
        predicted = sum(len(f) for f in found)
        expected = sum(len(g) for g in gold)
        return {
            "precision": round(tp / predicted, 3) if predicted else 0.0,
            "recall": round(tp / expected, 3) if expected else 0.0,
            "annotated": expected,
        }

    return {"barnebot": score(ours), "rasa_own": score(rasas)}


def classifier(config: Path) -> str:
    """The intent classifier of a Rasa pipeline (FallbackClassifier aside)."""
    pipeline = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    names = [c.get("name", "") for c in pipeline if isinstance(c, dict)]
    found = [n for n in names if n.endswith("Classifier") and n != "FallbackClassifier"]
    return ", ".join(found) or "?"


def verdict(embedded_f1: float, rasa_f1: float) -> str:
    """The issue's bar: the embedded engine within 0.02 macro-F1 of Rasa, or better."""
    gap = embedded_f1 - rasa_f1
    if gap >= 0:
        return f"embedded better by {gap:.3f} macro-F1: keep the embedded engine"
    if gap >= -0.02:
        return f"embedded within {-gap:.3f} macro-F1 of Rasa: keep the embedded engine"
    return f"Rasa better by {-gap:.3f} macro-F1: consider Rasa for production (README)"


def table(embedded: dict[str, Any], rasa: dict[str, Any], rasa_label: str) -> str:
    rows = [
        ("macro-F1 (held-out)", "macro_f1", "{:.3f}"),
        ("accuracy", "accuracy", "{:.3f}"),
        ("out_of_scope recall", "oos_recall", "{:.3f}"),
        ("confident-wrong rate (≥ own threshold)", "confident_wrong_rate", "{:.3f}"),
        ("wrong with confidence ≥ 0.8", "wrong_at_0_8", "{:.3f}"),
        ("fallback threshold", "threshold", "{}"),
        ("parse latency p50 (ms)", "p50_ms", "{:.1f}"),
        ("parse latency p95 (ms)", "p95_ms", "{:.1f}"),
        ("RSS, NLU server (MB, now / peak)", "server_rss", "{}"),
        ("RSS, barnebot process (MB, peak)", "barnebot_rss_mb", "{:.0f}"),
        ("start-up to first parse (s)", "startup_s", "{}"),
    ]
    lines = [f"| | embedded | Rasa 3.6.21, {rasa_label} |", "| --- | ---: | ---: |"]
    for label, key, fmt in rows:
        cells = [fmt.format(e[key]) if e.get(key) is not None else "—" for e in (embedded, rasa)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heldout", type=Path, default=ROOT / "tests" / "data" / "nlu_heldout.yml")
    parser.add_argument(
        "--rasa-run",
        type=Path,
        default=Path(os.environ.get("BARNEBOT_RASA_RUN", ROOT / ".rasa-run")),
    )
    parser.add_argument("--rasa-own-entities", action="store_true")
    parser.add_argument(
        "--rasa-config",
        type=Path,
        help="the pipeline the served model was trained with, when not nlu/config.yml "
        "(its FallbackClassifier threshold is the one that counts)",
    )
    args = parser.parse_args()

    rasa_config = (args.rasa_config or ROOT / "nlu" / "config.yml").resolve()
    rasa_env = read_env(args.rasa_run / "env")
    rasa_pid = int((args.rasa_run / "rasa.pid").read_text())
    rasa_startup = float((args.rasa_run / "startup_seconds").read_text())
    texts = [e.text for e in load_files([args.heldout]).examples]

    with tempfile.TemporaryDirectory() as tmp:
        nlu_dir = ROOT / "nlu"
        if args.rasa_config:  # the same data and embedded settings, another Rasa pipeline
            nlu_dir = Path(tmp) / "nlu"
            shutil.copytree(ROOT / "nlu", nlu_dir)
            shutil.copy(args.rasa_config, nlu_dir / "config.yml")
        base = {k: v for k, v in os.environ.items() if not k.startswith("BARNEBOT_")}
        base.update(
            BARNEBOT_DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            BARNEBOT_CACHE_DIR=str(Path(tmp) / "cache"),
            BARNEBOT_NLU_DIR=str(nlu_dir),
            BARNEBOT_CONTENT_DIR=str(ROOT / "content"),
        )
        embedded_env = {**base, "BARNEBOT_NLU_ENGINE": "embedded"}
        # A generous timeout for measuring: a slow answer is Rasa's answer here, not a fallback
        # (the latency columns show how slow it was).
        rasa_full_env = {
            **base,
            **rasa_env,
            "BARNEBOT_NLU_ENGINE": "rasa",
            "BARNEBOT_RASA_TIMEOUT": "10",
        }

        started = time.perf_counter()
        embedded_report = run_eval(args.heldout, embedded_env)  # also fills the model cache
        rasa_report = run_eval(args.heldout, rasa_full_env)
        eval_seconds = time.perf_counter() - started
        if rasa_report.get("answered_by", {}).get("embedded"):
            sys.exit(f"Rasa did not answer every message: {rasa_report['answered_by']}")

        settings = Settings(
            BARNEBOT_NLU_ENGINE="rasa",
            BARNEBOT_RASA_URL=rasa_env["BARNEBOT_RASA_URL"],
            BARNEBOT_RASA_TOKEN=rasa_env["BARNEBOT_RASA_TOKEN"],
            BARNEBOT_RASA_TIMEOUT=10,
            BARNEBOT_NLU_DIR=nlu_dir,
            BARNEBOT_CACHE_DIR=Path(tmp) / "cache",
        )
        embedded = EmbeddedEngine.from_directory(nlu_dir, Path(tmp) / "cache")
        rasa_engine = build_nlu(settings, embedded)
        assert isinstance(rasa_engine, RasaEngine)
        embedded_latency = latencies(embedded.parse, texts)
        rasa_latency = latencies(rasa_engine.parse, texts)
        if rasa_engine.stats["embedded"]:
            sys.exit(f"Rasa did not answer every message: {rasa_engine.stats}")
        rasa_engine.close()
        chat_embedded = barnebot_chat(embedded_env)
        chat_rasa = barnebot_chat(rasa_full_env)
        entities = (
            entity_scores(
                args.heldout,
                rasa_env["BARNEBOT_RASA_URL"],
                rasa_env["BARNEBOT_RASA_TOKEN"],
                embedded,
            )
            if args.rasa_own_entities
            else None
        )

    def summary(report: dict[str, Any]) -> dict[str, Any]:
        return {
            "macro_f1": report["macro_f1"],
            "accuracy": report["accuracy"],
            "oos_recall": report["out_of_scope"]["recall"],
            "confident_wrong_rate": report["confident_wrong_rate"],
            "wrong_at_0_8": wrong_at(report, 0.8),
            "threshold": report["threshold"],
            "urgent_help_recall": report["urgent_help_recall"],
        }

    rasa_now = tree_rss(rasa_pid, "VmRSS")
    rasa_peak = tree_rss(rasa_pid, "VmHWM")
    embedded_row = {
        **summary(embedded_report),
        **embedded_latency,
        "server_rss": "none (in process)",
        "barnebot_rss_mb": chat_embedded["peak_rss_mb"],
        "startup_s": f"{chat_embedded['startup_s']:.1f} (barnebot chat)",
    }
    rasa_row = {
        **summary(rasa_report),
        **rasa_latency,
        "server_rss": f"{rasa_now:.0f} / {rasa_peak:.0f}",
        "barnebot_rss_mb": chat_rasa["peak_rss_mb"],
        "startup_s": f"{rasa_startup:.1f} server + {chat_rasa['startup_s']:.1f} barnebot",
    }
    document = {
        "examples": embedded_report["examples"],
        "heldout": str(
            args.heldout.relative_to(ROOT) if args.heldout.is_absolute() else args.heldout
        ),
        "rasa_config": str(
            rasa_config.relative_to(ROOT) if rasa_config.is_relative_to(ROOT) else rasa_config
        ),
        "rasa_classifier": classifier(rasa_config),
        "embedded": embedded_row,
        "rasa": {
            **rasa_row,
            "server_rss_mb": round(rasa_now, 1),
            "server_peak_mb": round(rasa_peak, 1),
        },
        "eval_seconds": round(eval_seconds, 1),
        "entities": entities,
        "per_intent_f1": {
            name: {
                "embedded": embedded_report["per_intent"].get(name, {}).get("f1"),
                "rasa": rasa_report["per_intent"].get(name, {}).get("f1"),
            }
            for name in sorted(embedded_report["per_intent"])
        },
        "rasa_confusions": rasa_report["confusions"][:10],
        "verdict": verdict(embedded_report["macro_f1"], rasa_report["macro_f1"]),
    }
    print(table(embedded_row, rasa_row, document["rasa_classifier"]), file=sys.stderr)
    print(f"\nverdict: {document['verdict']}", file=sys.stderr)
    print(json.dumps(document, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
