"""``barnebot content check``: every problem an editor should fix, in Danish, with a line.

The rules are explained to editors in ``content/README.md`` ("Det tjekker barnebot"). Besides
the schema (``schema.py``), a folder is checked for:

* ids: every intent has a topic, buttons and the menu point to topics that exist, templates
  name helplines that exist, fact ids exist in the fact base, the UI texts the code uses exist;
* templates: Jinja2 syntax, unknown variables, a text that cannot be shown at some age;
* plain language: LIX per text (with the longest sentence), one phone screen per message;
* the law: a text that states a legal rule (a §, "loven", "ret til", an age rule) needs a
  source with a § in its topic, and a rights topic needs a § source that is not unverified;
* certainty: a source that is not verified needs a note; a source may not be surer than the
  facts it cites (a fact marked UNVERIFIED in the fact base cannot be served as verified);
  an unverified helpline is never shown to a child;
* links and phone numbers written inside texts: well-formed ``https://`` links, Danish
  numbers in groups (``35 55 55 59``, ``116 111``);
* approval: drafts, and texts changed after they were approved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from jinja2 import nodes

from bot import intents
from bot.content.citation import citation
from bot.content.context import SAMPLE_VALUES, template_context
from bot.content.facts import FACT_ID, RANK, FactBase, find_facts, parse_facts
from bot.content.loader import (
    EMAIL_FOLDER,
    ContentError,
    ContentStore,
    iter_problems,
    load,
)
from bot.content.readability import lix
from bot.content.render import (
    ALLOWED_VARIABLES,
    EMAIL_VARIABLES,
    environment,
    render,
    undeclared_variables,
)
from bot.content.schema import PHONE_RE, Approval, Topic

SAMPLE_AGES = (None, 8, 9, 10, 12, 15, 17, 20)
#: what a topic's texts are rendered with (``Responder.topic``); the rest is for ui.yml only
TOPIC_VARIABLES = frozenset(
    {"age", "helplines", "municipality", "municipalities", "today", "topic"}
)
MIN_LIX_WORDS = 10

#: UI texts the code shows (``ui.yml``); a folder without one of them is refused, because the
#: bot would fail in a child's chat. tests/test_content.py keeps this list in step with the code.
REQUIRED_UI_KEYS = frozenset(
    {
        "age_noted",
        "btn_cancel_message",
        "btn_caseworker_help",
        "btn_edit",
        "btn_menu",
        "btn_more",
        "btn_no_keep",
        "btn_rights",
        "btn_send",
        "btn_write_message",
        "btn_yes_delete",
        "caseworker_card",
        "caseworker_changed",
        "cmd_besked",
        "cmd_hjaelp",
        "cmd_kontakt",
        "cmd_privatliv",
        "cmd_rettigheder",
        "cmd_slet",
        "cmd_snak",
        "cmd_start",
        "delete_cancelled",
        "delete_confirm",
        "delete_done",
        "did_you_mean",
        "empty_message",
        "fallback_again",
        "fallback_first",
        "greet_linked",
        "group_chat",
        "holding_answer",
        "link_busy",
        "link_failed",
        "link_locked",
        "link_success",
        "menu_prompt",
        "message_cancelled",
        "message_intro",
        "message_preview",
        "message_rewrite",
        "message_saved",
        "message_sent",
        "message_too_long",
        "municipality_ask",
        "municipality_contact",
        "municipality_unknown",
        "not_text",
        "rights_menu_prompt",
        "robot_reminder",
        "slow_down",
        "source_prefix",
        "stale_button",
        "technical_error",
        "unknown_command",
    }
)

#: words that state a legal rule: a §, the law, a right, an age limit
LEGAL_STATEMENT = re.compile(
    r"§|\bBarnets lov\b|\blov(?:en|ens|givningen)\b|\bret til\b|"
    r"\b(?:fra|når|indtil|til|før) du (?:er|fylder|bliver) (?:\d+|\{\{[^}]*\}\}) år\b|"
    r"\b(?:fra|under|over|mindst) \d+ år\b",
    re.IGNORECASE,
)
#: anything that looks like a link: scheme://…, a scheme without its colon, www.…, a domain
_LINK = re.compile(
    r"\b[a-z][a-z0-9+.-]*:/+\S+|\bhttps?//\S+|\bwww\.\S+|"
    r"\b[\w-]+(?:\.[\w-]+)*\.(?:dk|com|org|net|eu|nu|info|io)\b\S*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\S+@\S+")
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$", re.IGNORECASE)
#: digits in groups, or a run of five or more: what a phone number in a text looks like
_PHONE = re.compile(r"(?<![\w§,.])\+?\d[\d ]{3,}\d(?![\w])")
_TRAILING = ".,;:!?)»\"'"


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    line: int | None = None
    #: "schema" (the file cannot be read or does not fit the format: nothing else is checked
    #: then), "approval" (a draft, or changed after approval), "content" (the rest)
    kind: str = "content"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def _line_of(path: Path, needle: str, start: int = 1) -> int | None:
    """The first line at or after ``start`` that contains ``needle`` (``"\\nkey:"``: that
    starts with ``key:``)."""
    at_start = needle.startswith("\n")
    needle = needle.removeprefix("\n")
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if number < start:
                continue
            if line.startswith(needle) if at_start else needle in line:
                return number
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _texts(topic: Topic) -> Iterator[tuple[str, str, bool]]:
    """(field name, template, is it a 'læs mere' text) for every child-facing text."""
    yield "answer", topic.answer, False
    for i, variant in enumerate(topic.variants):
        yield f"variants[{i}].answer", variant.answer, False
    if topic.more:
        yield "more", topic.more, True


def _field_line(path: Path, name: str) -> int | None:
    """Line of a text field: ``answer``, ``more``, ``variants[1].answer`` (the 2nd variant)."""
    if name.startswith("variants["):
        index = int(name[len("variants[") : name.index("]")])
        line = _line_of(path, "variants:")
        for _ in range(index + 1):
            if line is None:
                return None
            line = _line_of(path, "answer:", line + 1)
        return line
    return _line_of(path, f"\n{name}:") or _line_of(path, f"{name}:")


def helpline_references(source: str) -> set[str]:
    """The helpline ids a template names (``helplines.boernetelefonen`` …)."""
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError:
        return set()
    found = set()
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name == "helplines":
            found.add(attr.attr)
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "helplines"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            found.add(item.arg.value)
    return found


def bad_link(token: str) -> str | None:
    """Why a link written in a text is malformed (Danish), or None when it is fine."""
    link = token.rstrip(_TRAILING)
    lower = link.lower()
    if re.match(r"^https?//", lower):
        return "mangler kolon efter https"
    if "://" not in lower and re.match(r"^[a-z][a-z0-9+.-]*:/", lower):
        return "skal starte med https://"
    if "://" in lower:
        scheme = lower.split("://", 1)[0]
        if scheme == "http":
            return "brug https:// (sikker forbindelse)"
        if scheme != "https":
            return "skal starte med https://"
        host = urlsplit(link).hostname or ""
    else:
        host = link.split("/", 1)[0]
        if host.lower().startswith("www."):
            host = host[4:]  # "www.cyberhus" has no domain: "cyberhus" is not one
    if not _HOST.match(host):
        return "adressen har ikke et gyldigt domæne (fx boerneraadet.dk)"
    return None


def bad_phone(token: str) -> str | None:
    """Why a phone number written in a text is malformed (Danish), or None when it is fine."""
    number = token.strip()
    digits = re.sub(r"\D", "", number)
    if number.startswith("+45"):
        number, digits = number[3:].strip(), digits[2:]
    if len(digits) in (8, 6) and PHONE_RE.match(number):
        return None
    return "skal være 8 cifre i grupper, fx 35 55 55 59 (eller et kort nummer som 116 111)"


def _check_links_and_phones(
    path: Path, name: str, text: str, line: int | None
) -> Iterator[Problem]:
    scrubbed = _EMAIL.sub(" ", text)
    for match in _LINK.finditer(scrubbed):
        why = bad_link(match.group(0))
        if why:
            token = match.group(0).rstrip(_TRAILING)
            yield Problem(
                path, f"{name}: forkert link «{token}»: {why}", _line_of(path, token) or line
            )
    for match in _PHONE.finditer(_LINK.sub(" ", scrubbed)):
        why = bad_phone(match.group(0))
        if why:
            token = match.group(0).strip()
            yield Problem(
                path,
                f"{name}: forkert telefonnummer «{token}»: {why}",
                _line_of(path, token) or line,
            )


def _check_template(
    store: ContentStore,
    path: Path,
    name: str,
    source: str,
    limit: float,
    line: int | None,
    suffix: str = "",
    topic: Topic | None = None,
) -> Iterator[Problem]:
    """Check one template. ``topic``: the topic it belongs to (None: a UI text); a topic is
    rendered as the bot renders it (with and without a known municipality, no caseworker).
    ``suffix`` is what the bot adds under the text (the source line): it counts for length."""
    try:
        used = undeclared_variables(source)
    except jinja2.TemplateSyntaxError as exc:
        at = line + exc.lineno if line and "\n" in source and exc.lineno else line
        yield Problem(path, f"{name}: skabelonfejl: {exc.message}", at)
        return
    unknown = used - ALLOWED_VARIABLES
    if unknown:
        names = ", ".join(sorted(unknown))
        yield Problem(path, f"{name}: ukendt variabel i skabelonen: {names}", line)
        return
    ui_only = used - TOPIC_VARIABLES if topic is not None else set()
    if ui_only:
        names = ", ".join(sorted(ui_only))
        yield Problem(
            path,
            f"{name}: variablen {names} findes kun i ui.yml, ikke i et emne "
            f"(her kan du bruge: {', '.join(sorted(TOPIC_VARIABLES))})",
            line,
        )
        return
    helplines = store.helplines.by_id()
    missing = sorted(helpline_references(source) - set(helplines))
    if missing:
        yield Problem(
            path,
            f"{name}: ukendt hjælpelinje: {', '.join(missing)} (se id'erne i helplines.yml)",
            line,
        )
        return
    for helpline_id in sorted(helpline_references(source)):
        if helplines[helpline_id].status == "unverified":
            yield Problem(
                path,
                f"{name}: hjælpelinjen {helpline_id!r} er ikke verificeret (status: unverified) "
                "og må ikke vises for børn",
                line,
            )
    sample_municipality = store.municipalities.municipalities[0]
    if topic is None:
        cases = [
            (
                age,
                template_context(store, age=age, municipality=sample_municipality, **SAMPLE_VALUES),
            )
            for age in SAMPLE_AGES
        ]
    else:
        cases = [
            (age, template_context(store, age=age, municipality=place, topic=topic))
            for place in (None, sample_municipality)
            for age in SAMPLE_AGES
        ]
    worst = None
    for age, context in cases:
        try:
            text = render(source, context)
        except jinja2.TemplateError as exc:
            known = "kendt" if context.get("municipality") else "ukendt"
            yield Problem(
                path, f"{name}: kan ikke vises (alder {age}, {known} kommune): {exc}", line
            )
            return
        if age is None:
            yield from _check_links_and_phones(path, name, text, line)
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


def _check_law(path: Path, topic: Topic) -> Iterator[Problem]:
    """Legal statements need a § source; unverified sources are never the basis of a rule."""
    citable = [s for s in topic.sources if s.status != "unverified"]
    with_paragraph = [s for s in topic.sources if "§" in s.paragraph]
    if topic.kind == "rights":
        if not with_paragraph:
            yield Problem(
                path,
                "emnet handler om rettigheder, men ingen kilde har en §. "
                "Tilføj den § og det link, svaret bygger på",
                _line_of(path, "sources:") or 1,
            )
        elif not any(s.status != "unverified" for s in with_paragraph):
            yield Problem(
                path,
                "emnet bygger kun på kilder med status: unverified, men svaret vises som en "
                "sikker regel. Find en verificeret kilde, eller skriv svaret om",
                _line_of(path, "status: unverified") or _line_of(path, "sources:") or 1,
            )
    if citable:
        return
    for name, source, _ in _texts(topic):
        match = LEGAL_STATEMENT.search(source)
        if match:
            yield Problem(
                path,
                f"{name}: teksten siger noget om loven («{match.group(0)}»), men emnet har "
                "ingen verificeret kilde. Tilføj en kilde med § og link under sources",
                _line_of(path, match.group(0)) or _field_line(path, name),
            )


def _check_sources(path: Path, topic: Topic, facts: FactBase | None) -> Iterator[Problem]:
    for i, src in enumerate(topic.sources):
        line = _line_of(path, src.url) or _line_of(path, src.paragraph)
        if src.status != "verified" and not src.note:
            yield Problem(
                path,
                f"sources[{i}] ({src.label}) er ikke verificeret: skriv i 'note', "
                "hvad der mangler, og brug det ikke som en sikker regel",
                line,
            )
        for fact_id in src.facts:
            if not FACT_ID.match(fact_id):
                yield Problem(path, f"sources[{i}]: fakta-id {fact_id!r} skal se ud som CO-1", line)
                continue
            if facts is None:
                continue
            fact = facts.facts.get(fact_id)
            if fact is None:
                yield Problem(
                    path,
                    f"sources[{i}]: ukendt fakta-id {fact_id!r} (findes ikke i {facts.path.name})",
                    line,
                )
            elif fact.level != "unknown" and RANK[src.status] > RANK[fact.level]:
                yield Problem(
                    path,
                    f"sources[{i}] ({src.label}) står som status: {src.status}, men faktaarket "
                    f"siger {fact.status!r} om {fact_id}. Et fakta, der ikke er verificeret, "
                    f"må ikke vises som sikkert: skriv status: {fact.level} og en note",
                    line,
                )


def _check_approval(path: Path, doc_id: str, doc: Approval) -> Iterator[Problem]:
    if doc.approved_hash is None:
        yield Problem(path, f"{doc_id}: er ikke godkendt (kladde)", 1, "approval")
    elif not doc.is_approved:
        yield Problem(
            path,
            f"{doc_id}: er ændret efter godkendelsen og bliver ikke vist, "
            f"før den er godkendt igen (barnebot content approve {doc_id} --by NAVN)",
            _line_of(path, "approved_hash") or 1,
            "approval",
        )


def _check_ids(root: Path, store: ContentStore) -> Iterator[Problem]:
    for intent in intents.ALL:
        if intent not in store.topics:
            yield Problem(root / "topics", f"intenten {intent!r} har intet emne ({intent}.yml)")
    settings_path = root / "settings.yml"
    for menu_id in store.settings.menu_topics:
        if menu_id not in store.topics:
            yield Problem(
                settings_path,
                f"menuen peger på ukendt emne {menu_id!r}",
                _line_of(settings_path, f"- {menu_id}") or 1,
            )
    ui_path = root / "ui.yml"
    for key in sorted(REQUIRED_UI_KEYS - set(store.ui.texts)):
        yield Problem(
            ui_path, f"teksten {key!r} mangler: botten bruger den", _line_of(ui_path, "texts:")
        )
    helplines_path = root / "helplines.yml"
    seen: set[str] = set()
    for helpline in store.helplines.helplines:
        if helpline.id in seen:
            yield Problem(
                helplines_path,
                f"id {helpline.id!r} findes to gange",
                _line_of(helplines_path, f"id: {helpline.id}"),
            )
        seen.add(helpline.id)
    municipalities_path = root / "municipalities.yml"
    codes: set[str] = set()
    for municipality in store.municipalities.municipalities:
        if municipality.code in codes:
            yield Problem(
                municipalities_path,
                f"kommunekoden {municipality.code} findes to gange",
                _line_of(municipalities_path, f"name: {municipality.name}"),
            )
        codes.add(municipality.code)


def _check_email(store: ContentStore) -> Iterator[Problem]:
    if store.email is None:
        return
    folder = store.root / EMAIL_FOLDER
    for name, source in store.email.templates.items():
        path = folder / name
        try:
            unknown = undeclared_variables(source) - EMAIL_VARIABLES
        except jinja2.TemplateSyntaxError as exc:
            yield Problem(path, f"skabelonfejl: {exc.message}", exc.lineno or 1)
            continue
        if unknown:
            first = sorted(unknown)[0]
            yield Problem(
                path,
                f"ukendt variabel i skabelonen: {', '.join(sorted(unknown))} "
                f"(kan bruge: {', '.join(sorted(EMAIL_VARIABLES))})",
                _line_of(path, first) or 1,
            )


def check(root: Path, *, require_approval: bool = True, facts: Path | None = None) -> list[Problem]:
    """Every problem in the content folder ``root``.

    ``facts``: the fact base; when None it is looked for next to the checkout
    (``shared/reference/barnets-lov-facts.md``) and the fact-id checks are skipped if absent.
    """
    problems = [Problem(e.path, e.message, e.line, "schema") for e in iter_problems(root)]
    if problems:
        return problems
    try:
        store = load(root)
    except ContentError as exc:  # pragma: no cover - iter_problems found nothing
        return [Problem(exc.path, exc.message, exc.line, "schema")]
    fact_file = facts or find_facts(root)
    fact_base = parse_facts(fact_file) if fact_file is not None else None

    problems.extend(_check_ids(root, store))
    settings = store.settings
    prefix = store.ui.texts.get("source_prefix", "")
    for topic_id, topic in store.topics.items():
        path = store.files[topic_id]
        for name, source, is_more in _texts(topic):
            limit = settings.lix_max_more if is_more else settings.lix_max_answer
            suffix = citation(topic, prefix)
            line = _field_line(path, name)
            problems.extend(_check_template(store, path, name, source, limit, line, suffix, topic))
        problems.extend(_check_law(path, topic))
        problems.extend(_check_sources(path, topic, fact_base))

    ui_path = root / "ui.yml"
    for key, source in store.ui.texts.items():
        line = _line_of(ui_path, f"{key}:")
        problems.extend(_check_template(store, ui_path, key, source, settings.lix_max_answer, line))
        match = LEGAL_STATEMENT.search(source)
        if match:
            problems.append(
                Problem(
                    ui_path,
                    f"{key}: teksten siger noget om loven («{match.group(0)}»), men tekster i "
                    "ui.yml kan ikke have en kilde. Skriv det i et emne med § og link",
                    line,
                )
            )
    problems.extend(_check_email(store))

    if require_approval:
        for doc_id, doc in store.documents():
            problems.extend(_check_approval(store.path_of(doc_id), doc_id, doc))
    return problems


def document_problems(problems: list[Problem], path: Path) -> list[Problem]:
    """The problems in one document's file(s) that approving it would not fix."""
    folder = path.parent if path.parent.name == EMAIL_FOLDER else None
    return [
        p
        for p in problems
        if p.kind != "approval"
        and (p.path == path or (folder is not None and p.path.parent == folder))
    ]
