"""``barnebot nlu eval``: judge an engine on a Rasa NLU YAML file it was not trained on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import intents
from bot.nlu.result import ParseResult
from bot.nlu.training_data import load_files


def evaluate(path: Path, parse: Callable[[str], ParseResult], threshold: float) -> dict[str, Any]:
    data = load_files([path])
    predictions: list[dict[str, Any]] = []
    for example in data.examples:
        result = parse(example.text)
        predictions.append(
            {
                "text": example.text,
                "expected": example.intent,
                "predicted": result["intent"]["name"],
                "confidence": result["intent"]["confidence"],
            }
        )
    return {**metrics(predictions, threshold), "predictions": predictions}


def metrics(predictions: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    labels = sorted({p["expected"] for p in predictions} | {p["predicted"] for p in predictions})
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    confident_wrong = 0
    for p in predictions:
        exp, pred = p["expected"], p["predicted"]
        if exp == pred:
            tp[exp] += 1
        else:
            fp[pred] += 1
            fn[exp] += 1
            confusions[(exp, pred)] += 1
            if pred != intents.FALLBACK and p["confidence"] >= threshold:
                confident_wrong += 1
    per_intent: dict[str, dict[str, float | int]] = {}
    f1s: list[float] = []
    for label in labels:
        support = tp[label] + fn[label]
        precision = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        recall = tp[label] / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
        if support:
            f1s.append(f1)
    total = len(predictions)
    oos = per_intent.get(intents.FALLBACK, {})
    urgent = per_intent.get(intents.URGENT, {})
    return {
        "examples": total,
        "accuracy": round(sum(tp.values()) / total, 4) if total else 0.0,
        "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "threshold": threshold,
        "confident_wrong": confident_wrong,
        "confident_wrong_rate": round(confident_wrong / total, 4) if total else 0.0,
        "out_of_scope": {
            "recall": oos.get("recall", 0.0),
            "precision": oos.get("precision", 0.0),
            "predicted": sum(1 for p in predictions if p["predicted"] == intents.FALLBACK),
        },
        "urgent_help_recall": urgent.get("recall", 0.0),
        "per_intent": per_intent,
        "confusions": [
            {"expected": e, "predicted": p, "count": c} for (e, p), c in confusions.most_common(15)
        ],
    }
