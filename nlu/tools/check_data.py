"""Check the Rasa NLU training data in nlu/data/ before committing it.

Usage (from the repository root): python nlu/tools/check_data.py [--min 70]

Needs only PyYAML. Checks, per file and across files:
* every file parses with yaml.safe_load, has version "3.1" and an ``nlu:`` list;
* every block of examples is a block scalar whose lines all start with "- " (no blank lines);
* the intents are exactly the ids fixed in SPEC.md, each with at least --min examples;
* no example is repeated within an intent, and no example appears under two intents
  (compared lower-cased with entity annotation stripped, and again with punctuation and
  emoji dropped, since the tokenizer drops those too);
* entity annotations parse, use only ``age`` and ``municipality``, start and end on word
  boundaries, and every municipality value resolves to one of the 98 official names;
* every synonym variant maps to exactly one official name, and the lookup table holds
  every official name;
* no training example equals an example of the held-out test set
  (tests/data/nlu_heldout.yml, never trained on); only the colliding training lines are shown.

Prints a table of per-intent counts; exits 1 when any error is found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import yaml

INTENTS = (
    "greet", "goodbye", "thanks", "help", "bot_challenge",
    "who_is_my_caseworker", "leave_message", "urgent_help", "talk_to_someone", "privacy",
    "delete_my_data", "rights_overview", "right_to_be_heard", "child_conversation",
    "support_person", "party_rights", "complaint", "access_to_records", "free_lawyer",
    "placement", "contact_with_parents", "child_plan", "change_caseworker", "aftercare",
    "concern_report", "support_measures", "out_of_scope",
)  # fmt: skip
ENTITIES = {"age", "municipality"}
# The same pattern Rasa uses: [text](entity) / [text](entity:value) / [text]{json}
ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<dict>[^}]+?)\})"
)
DATA = Path(__file__).resolve().parent.parent / "data"
KOMMUNER = Path(__file__).resolve().parents[3] / "shared" / "reference" / "kommuner.csv"
HELDOUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "nlu_heldout.yml"


def lines_of(block: object, where: str, errors: list[str]) -> list[str]:
    if not isinstance(block, str):
        errors.append(f"{where}: examples must be a block scalar (examples: |)")
        return []
    out = []
    for line in block.splitlines():
        if not line.startswith("- "):
            errors.append(f"{where}: line does not start with '- ': {line!r}")
            continue
        out.append(line[2:].strip())
    return out


def strip(example: str) -> tuple[str, list[tuple[str, str, str, int, int]]]:
    """Plain text and (entity, value, text, start, end) for each annotation."""
    parts: list[str] = []
    found = []
    pos = 0
    length = 0
    for m in ENTITY.finditer(example):
        before = example[pos : m.start()]
        parts.append(before)
        length += len(before)
        text = m.group("text")
        if m.group("dict"):
            meta = json.loads("{" + m.group("dict") + "}")
            entity, value = meta.get("entity", ""), meta.get("value", text)
        else:
            entity, value = m.group("entity"), m.group("value") or text
        found.append((entity, value, text, length, length + len(text)))
        parts.append(text)
        length += len(text)
        pos = m.end()
    parts.append(example[pos:])
    return "".join(parts), found


def loose(text: str) -> str:
    """Lower case, letters and digits only, single spaces: what the tokenizer keeps."""
    text = unicodedata.normalize("NFC", text.lower())
    text = "".join(c if c.isalnum() or c.isspace() else " " for c in text)
    return " ".join(text.split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=int, default=70, help="minimum examples per intent")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    args = parser.parse_args()

    errors: list[str] = []
    warnings: list[str] = []
    examples: dict[str, list[str]] = defaultdict(list)
    synonyms: dict[str, str] = {}
    lookups: dict[str, list[str]] = defaultdict(list)
    annotated: list[tuple[str, str, str]] = []  # (file:intent, entity, value)
    files = sorted(args.data.glob("*.yml"))
    if not files:
        errors.append(f"no *.yml files in {args.data}")
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            errors.append(f"{path.name}: does not parse: {exc}")
            continue
        if not isinstance(doc, dict) or doc.get("version") != "3.1":
            errors.append(f'{path.name}: top level needs version: "3.1"')
            continue
        if not isinstance(doc.get("nlu"), list):
            errors.append(f"{path.name}: top level needs an nlu: list")
            continue
        for item in doc["nlu"]:
            if "intent" in item:
                where = f"{path.name}:{item['intent']}"
                for raw in lines_of(item.get("examples"), where, errors):
                    if "[" in ENTITY.sub("", raw) or "]" in ENTITY.sub("", raw):
                        errors.append(f"{where}: stray square bracket: {raw!r}")
                    try:
                        text, ents = strip(raw)
                    except json.JSONDecodeError:
                        errors.append(f"{where}: bad entity JSON: {raw!r}")
                        continue
                    for entity, value, etext, start, end in ents:
                        if entity not in ENTITIES:
                            errors.append(f"{where}: unknown entity {entity!r}: {raw!r}")
                        before = text[start - 1] if start else " "
                        after = text[end] if end < len(text) else " "
                        if before.isalnum() or after.isalnum() or after == "-":
                            errors.append(f"{where}: entity not on a word boundary: {raw!r}")
                        if entity == "age" and not re.fullmatch(r"\d{1,2}|[a-zæøå]+", etext):
                            errors.append(f"{where}: odd age annotation: {raw!r}")
                        annotated.append((where, entity, value))
                    examples[item["intent"]].append(text)
            elif "synonym" in item:
                for variant in lines_of(item.get("examples"), f"{path.name}:synonym", errors):
                    key = variant.lower()
                    if synonyms.setdefault(key, item["synonym"]) != item["synonym"]:
                        errors.append(
                            f"synonym {variant!r} maps to {synonyms[key]!r} and {item['synonym']!r}"
                        )
            elif "lookup" in item:
                lookups[item["lookup"]] += lines_of(item.get("examples"), path.name, errors)
            elif "regex" in item:
                for pattern in lines_of(item.get("examples"), f"{path.name}:regex", errors):
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        errors.append(f"{path.name}: regex {pattern!r}: {exc}")
            else:
                errors.append(f"{path.name}: unknown item {sorted(item)}")

    # intents and counts
    missing = set(INTENTS) - set(examples)
    extra = set(examples) - set(INTENTS)
    if missing:
        errors.append(f"intents missing: {sorted(missing)}")
    if extra:
        errors.append(f"unknown intents: {sorted(extra)}")
    for intent in INTENTS:
        if len(examples.get(intent, [])) < args.min:
            errors.append(f"{intent}: {len(examples.get(intent, []))} examples < {args.min}")

    # duplicates
    exact: dict[str, str] = {}
    near: dict[str, str] = {}
    for intent, texts in examples.items():
        for text, n in Counter(t.lower().strip() for t in texts).items():
            if n > 1:
                errors.append(f"{intent}: {n}x duplicate example {text!r}")
        for text in texts:
            key = text.lower().strip()
            if exact.setdefault(key, intent) != intent:
                errors.append(f"{text!r} is under {exact[key]} and {intent}")
            key = loose(text)
            if not key:
                continue
            if near.setdefault(key, intent) != intent:
                errors.append(f"{text!r} equals an example of {near[key]} once punctuation goes")
        loose_counts = Counter(loose(t) for t in texts)
        for text, n in loose_counts.items():
            if n > 1 and text:
                warnings.append(f"{intent}: {n} examples differ only in punctuation: {text!r}")

    # entities
    official: set[str] = set()
    if KOMMUNER.is_file():
        import csv

        with KOMMUNER.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        official = {r["name"] for r in rows}
        table = set(lookups.get("municipality", []))
        for r in rows:
            for name in (r["name"], r["name_ascii"]):
                if name not in table:
                    errors.append(f"lookup municipality lacks {name!r}")
        for variant, name in synonyms.items():
            if name not in official:
                errors.append(f"synonym {variant!r} maps to {name!r}, not an official name")
    else:
        warnings.append(f"{KOMMUNER} not found: municipality names not checked")
    lowered = {n.lower(): n for n in official}
    for where, entity, value in annotated:
        if entity == "municipality" and official:
            resolved = value if value in official else synonyms.get(value.lower())
            resolved = resolved or lowered.get(value.lower())
            if resolved not in official:
                errors.append(f"{where}: municipality {value!r} resolves to no official name")

    # held-out set: the training data must share no example with it
    if args.heldout.is_file():
        doc = yaml.safe_load(args.heldout.read_text(encoding="utf-8")) or {}
        held = {
            strip(raw)[0].lower().strip()
            for item in doc.get("nlu", []) or []
            if "intent" in item
            for raw in lines_of(item.get("examples"), args.heldout.name, [])
        }
        for intent, texts in examples.items():
            for text in texts:
                if text.lower().strip() in held:
                    errors.append(f"{intent}: {text!r} is also in the held-out set; rephrase it")
    else:
        warnings.append(f"{args.heldout} not found: overlap with the held-out set not checked")

    # report
    total = 0
    print(f"{'intent':<24} {'examples':>8} {'entity annotations':>19}")
    with_entities = Counter(where.split(":", 1)[1] for where, _, _ in annotated)
    for intent in INTENTS:
        n = len(examples.get(intent, []))
        total += n
        print(f"{intent:<24} {n:>8} {with_entities.get(intent, 0):>19}")
    print(f"{'total':<24} {total:>8} {len(annotated):>19}")
    print(
        f"files: {', '.join(p.name for p in files)}; synonyms: {len(synonyms)} variants; "
        f"lookup municipality: {len(lookups.get('municipality', []))} entries"
    )
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
