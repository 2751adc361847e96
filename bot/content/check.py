"""``barnebot content check``: every problem an editor should fix, in Danish, with a line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2

from bot import intents
from bot.content.citation import citation
from bot.content.context import SAMPLE_VALUES, template_context
from bot.content.loader import ContentError, ContentStore, iter_problems, load
from bot.content.readability import lix
from bot.content.render import ALLOWED_VARIABLES, render, undeclared_variables
from bot.content.schema import Approval, Topic

SAMPLE_AGES = (None, 8, 9, 10, 12, 15, 17, 20)
MIN_LIX_WORDS = 10


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def _line_of(path: Path, needle: str) -> int | None:
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return number
    except OSError:
        return None
    return None


def _texts(topic: Topic) -> Iterator[tuple[str, str, bool]]:
    """(field name, template, is it a 'læs mere' text) for every child-facing text."""
    yield "answer", topic.answer, False
    for i, variant in enumerate(topic.variants):
        yield f"variants[{i}].answer", variant.answer, False
    if topic.more:
        yield "more", topic.more, True


def _check_template(
    store: ContentStore,
    path: Path,
    name: str,
    source: str,
    limit: float,
    first_key: str,
    suffix: str = "",
) -> Iterator[Problem]:
    """``suffix`` is what the bot adds under the text (the source line): it counts for length."""
    line = _line_of(path, first_key)
    try:
        unknown = undeclared_variables(source) - ALLOWED_VARIABLES
    except jinja2.TemplateSyntaxError as exc:
        yield Problem(path, f"{name}: skabelonfejl: {exc.message}", line)
        return
    if unknown:
        names = ", ".join(sorted(unknown))
        yield Problem(path, f"{name}: ukendt variabel i skabelonen: {names}", line)
        return
    sample_municipality = store.municipalities.municipalities[0]
    worst = None
    for age in SAMPLE_AGES:
        context = template_context(
            store, age=age, municipality=sample_municipality, **SAMPLE_VALUES
        )
        try:
            text = render(source, context)
        except jinja2.TemplateError as exc:
            yield Problem(path, f"{name}: kan ikke vises (alder {age}): {exc}", line)
            return
        shown = len(text) + (len(suffix) + 2 if suffix else 0)
        if shown > store.settings.max_chars:
            yield Problem(
                path,
                f"{name}: {shown} tegn (med kildehenvisning) er for langt til én skærm "
                f"(højst {store.settings.max_chars})",
                line,
            )
            return
        score = lix(text)
        if worst is None or score.score > worst.score:
            worst = score
    # LIX says nothing about a label of a few words ("Mine rettigheder"); judge prose only.
    if worst is not None and worst.words >= MIN_LIX_WORDS and worst.score > limit:
        yield Problem(
            path,
            f"{name}: LIX {worst.score:.0f} er over grænsen {limit:.0f}. "
            f"Længste sætning: «{worst.longest_sentence}»",
            line,
        )


def _check_approval(path: Path, doc_id: str, doc: Approval) -> Iterator[Problem]:
    if doc.approved_hash is None:
        yield Problem(path, f"{doc_id}: er ikke godkendt (kladde)", 1)
    elif not doc.is_approved:
        yield Problem(
            path,
            f"{doc_id}: er ændret efter godkendelsen og bliver ikke vist, "
            f"før den er godkendt igen (barnebot content approve {doc_id} --by NAVN)",
            _line_of(path, "approved_hash"),
        )


def check(root: Path, *, require_approval: bool = True) -> list[Problem]:
    problems = [Problem(e.path, e.message, e.line) for e in iter_problems(root)]
    if problems:
        return problems
    try:
        store = load(root)
    except ContentError as exc:  # pragma: no cover - iter_problems found nothing
        return [Problem(exc.path, exc.message, exc.line)]

    for intent in intents.ALL:
        if intent not in store.topics:
            problems.append(
                Problem(root / "topics", f"intenten {intent!r} har intet emne ({intent}.yml)")
            )
    for menu_id in store.settings.menu_topics:
        if menu_id not in store.topics:
            problems.append(
                Problem(root / "settings.yml", f"menuen peger på ukendt emne {menu_id!r}")
            )

    settings = store.settings
    for topic_id, topic in store.topics.items():
        path = store.files[topic_id]
        prefix = store.ui.texts.get("source_prefix", "")
        for name, source, is_more in _texts(topic):
            limit = settings.lix_max_more if is_more else settings.lix_max_answer
            first_key = name.split("[")[0].split(".")[-1] + ":"
            suffix = citation(topic, prefix)
            problems.extend(_check_template(store, path, name, source, limit, first_key, suffix))
        for i, src in enumerate(topic.sources):
            if src.status != "verified" and not src.note:
                problems.append(
                    Problem(
                        path,
                        f"sources[{i}] ({src.label}) er ikke verificeret: skriv i 'note', "
                        "hvad der mangler, og brug det ikke som en sikker regel",
                        _line_of(path, src.paragraph),
                    )
                )

    ui_path = root / "ui.yml"
    for key, source in store.ui.texts.items():
        problems.extend(
            _check_template(store, ui_path, key, source, settings.lix_max_answer, f"{key}:")
        )

    if require_approval:
        files = {
            **store.files,
            "helplines": root / "helplines.yml",
            "municipalities": root / "municipalities.yml",
            "ui": ui_path,
        }
        for doc_id, doc in store.documents():
            problems.extend(_check_approval(files[doc_id], doc_id, doc))
    return problems
