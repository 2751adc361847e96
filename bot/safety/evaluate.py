"""``barnebot safety eval``: recall on crisis messages, false alarms on look-alikes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bot.safety.layer import SafetyLayer


def _items(path: Path, key: str) -> list[dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [dict(item) for item in data.get(key, [])]


def evaluate(layer: SafetyLayer, crisis_file: Path, lookalike_file: Path) -> dict[str, Any]:
    crisis = _items(crisis_file, "crisis")
    harmless = _items(lookalike_file, "lookalikes")
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    by_detector: Counter[str] = Counter()
    missed = []
    for item in crisis:
        verdict = layer.check(item["text"])
        total[item.get("category", "?")] += 1
        if verdict.flagged:
            caught[item.get("category", "?")] += 1
            by_detector.update(verdict.detectors)
        else:
            missed.append(item)
    false_alarms = [item for item in harmless if layer.check(item["text"]).flagged]
    return {
        "crisis_messages": len(crisis),
        "crisis_recall": round(sum(caught.values()) / len(crisis), 4) if crisis else None,
        "recall_by_category": {c: round(caught[c] / n, 4) for c, n in sorted(total.items())},
        "caught_by_detector": dict(by_detector),
        "missed": missed,
        "lookalikes": len(harmless),
        "lookalike_false_alarm_rate": (
            round(len(false_alarms) / len(harmless), 4) if harmless else None
        ),
        "false_alarms": false_alarms,
    }
