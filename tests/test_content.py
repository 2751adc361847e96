"""The shipped content is valid, approved, plain; and the checker catches broken content."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot import intents
from bot.channels.telegram.texts import MENU_COMMANDS
from bot.content.approval import approve
from bot.content.check import (
    LEGAL_STATEMENT,
    REQUIRED_UI_KEYS,
    SAMPLE_AGES,
    bad_link,
    bad_phone,
    check,
)
from bot.content.citation import citation
from bot.content.context import template_context
from bot.content.facts import RANK, find_facts, level_of, parse_facts
from bot.content.loader import ContentError, load
from bot.content.readability import lix
from bot.content.render import render

from .conftest import DATA, REPO

CONTENT = REPO / "content"


@pytest.fixture(scope="module")
def store():  # type: ignore[no-untyped-def]
    return load(CONTENT)


def test_shipped_content_passes_every_check() -> None:
    problems = check(CONTENT)
    assert problems == [], "\n".join(str(p) for p in problems)


def test_every_intent_has_an_approved_topic(store) -> None:  # type: ignore[no-untyped-def]
    for intent in intents.ALL:
        topic = store.topics[intent]
        assert topic.is_approved, intent
        assert topic.version >= 1 and topic.approved_by and topic.approved_at


def test_every_rights_topic_names_its_source(store) -> None:  # type: ignore[no-untyped-def]
    for intent in intents.RIGHTS:
        topic = store.topics[intent]
        assert topic.kind == "rights"
        assert topic.sources, intent
        for source in topic.sources:
            assert source.url.startswith("https://"), intent
        assert any("§" in s.paragraph for s in topic.sources), intent


def test_every_child_facing_answer_is_plain_danish(store) -> None:  # type: ignore[no-untyped-def]
    """LIX ≤ the editors' limit (30) for every answer and variant, at every sample age."""
    limit = store.settings.lix_max_answer
    worst = []
    for topic in store.topics.values():
        for age in SAMPLE_AGES:
            text = render(topic.answer_for(age), template_context(store, age=age))
            score = lix(text)
            worst.append((score.score, topic.id))
            assert score.score <= limit, (topic.id, age, score)
            assert len(text) <= store.settings.max_chars, (topic.id, age)
    assert max(worst)[0] <= limit


def test_every_topic_offers_a_next_step(store) -> None:  # type: ignore[no-untyped-def]
    for topic in store.topics.values():
        if topic.kind in ("rights", "safety", "fallback"):
            assert topic.buttons, topic.id


def test_all_98_municipalities_and_only_sourced_contact_data(store) -> None:  # type: ignore[no-untyped-def]
    rows = store.municipalities.municipalities
    assert len(rows) == 98 == len({m.code for m in rows})
    for m in rows:
        if m.phone or m.child_family_url:
            assert m.verified and m.sources, m.name


def test_urgent_answer_has_112_and_a_24_7_line(store) -> None:  # type: ignore[no-untyped-def]
    text = render(store.topics["urgent_help"].answer, template_context(store))
    assert "112" in text
    assert store.helplines.by_id()["boernetelefonen"].phone in text
    assert "robot" in text.lower()


# -- the checker catches broken content -----------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _messages(root: Path) -> str:
    return "\n".join(str(p) for p in check(root))


def test_checker_reports_schema_error_with_line(broken: Path) -> None:
    path = broken / "topics" / "complaint.yml"
    _edit(path, kind="klage")
    problems = check(broken)
    assert any(p.path == path and p.line and "kind" in p.message for p in problems)


def test_checker_reports_unknown_template_variable(broken: Path) -> None:
    _edit(broken / "topics" / "complaint.yml", answer="Hej {{ navn }}. Du kan klage.")
    assert "ukendt variabel i skabelonen: navn" in _messages(broken)


def test_checker_reports_template_syntax_error(broken: Path) -> None:
    _edit(broken / "topics" / "complaint.yml", answer="Hej {{ age ")
    assert "skabelonfejl" in _messages(broken)


def test_checker_reports_hard_text_with_lix(broken: Path) -> None:
    hard = (
        "Kommunalbestyrelsens afgørelser vedrørende særlig støtte kan påklages til "
        "Ankestyrelsen af forældremyndighedsindehaveren samt den unge, såfremt vedkommende "
        "er fyldt ti år og sagen vedrører støtteforanstaltninger efter lovgivningen."
    )
    _edit(broken / "topics" / "complaint.yml", answer=hard, variants=[])
    assert "LIX" in _messages(broken) and "Længste sætning" in _messages(broken)


def test_checker_reports_text_too_long_for_one_screen(broken: Path) -> None:
    _edit(broken / "topics" / "complaint.yml", answer="Du kan klage. " * 80, variants=[])
    assert "for langt til én skærm" in _messages(broken)


def test_checker_reports_button_to_missing_topic(broken: Path) -> None:
    _edit(broken / "topics" / "complaint.yml", buttons=["no_such_topic"])
    assert "ukendt emne" in _messages(broken)


def test_checker_reports_missing_topic(broken: Path) -> None:
    (broken / "topics" / "aftercare.yml").unlink()
    assert "'aftercare' har intet emne" in _messages(broken)


def test_checker_reports_rights_topic_without_source(broken: Path) -> None:
    _edit(broken / "topics" / "complaint.yml", sources=[])
    assert "mindst én kilde" in _messages(broken)


def test_checker_reports_bad_phone_number(broken: Path) -> None:
    data = yaml.safe_load((broken / "helplines.yml").read_text(encoding="utf-8"))
    data["helplines"][0]["phone"] = "ring til mig"
    (broken / "helplines.yml").write_text(yaml.safe_dump(data, allow_unicode=True))
    assert "ugyldigt telefonnummer" in _messages(broken)


def test_changed_after_approval_is_detected_and_reapproval_fixes_it(broken: Path) -> None:
    path = broken / "topics" / "complaint.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("Det er gratis at klage.", "Det er gratis at klage!", 1), encoding="utf-8"
    )
    assert "ændret efter godkendelsen" in _messages(broken)
    assert not load(broken).topics["complaint"].is_approved
    before = load(CONTENT).topics["complaint"].version
    version, _ = approve(path, "Test Redaktør")
    assert version == before + 1
    assert load(broken).topics["complaint"].is_approved
    assert _messages(broken) == ""


def test_load_refuses_invalid_yaml_with_line(broken: Path) -> None:
    (broken / "topics" / "complaint.yml").write_text("id: complaint\nanswer: [unclosed\n")
    with pytest.raises(ContentError) as err:
        load(broken)
    assert err.value.line is not None


# -- the corpus of deliberately broken content (tests/data/broken_content) ------------------

BROKEN = DATA / "broken_content"
_HEADER = re.compile(r"^(?:#|\{#)\s*(case|target|expect|delete|reported-in):\s*(.*?)\s*(?:#\})?$")
CASES = sorted(p for p in BROKEN.iterdir() if p.suffix in (".yml", ".j2"))


def _header(path: Path) -> dict[str, str]:
    header = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER.match(line)
        if not match:
            break
        header[match.group(1)] = match.group(2)
    return header


@pytest.fixture(scope="module")
def facts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fact base made from the shipped content (each fact as sure as the surest claim about
    it allows), plus CW-4, which the real fact base marks UNVERIFIED. The tests do not depend
    on ../shared being there."""
    levels: dict[str, int] = {}
    for topic in load(CONTENT).topics.values():
        for source in topic.sources:
            for fact in source.facts:
                levels[fact] = min(levels.get(fact, 2), RANK[source.status])
    levels["CW-4"] = 0
    words = {0: "UNVERIFIED", 1: "PARTLY VERIFIED", 2: "VERIFIED"}
    rows = [
        f"| {f} | a fact | – | § 1 | {words[n]} | https://example.dk |" for f, n in levels.items()
    ]
    path = tmp_path_factory.mktemp("facts") / "barnets-lov-facts.md"
    path.write_text(
        "| # | Fact | Age | § | Status | Source |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    return path


def test_the_corpus_has_one_case_per_kind_of_problem() -> None:
    headers = [_header(p) for p in CASES]
    assert len(CASES) >= 30
    assert all({"case", "target", "expect"} <= set(h) for h in headers), CASES
    assert len({h["expect"] for h in headers}) == len(headers), "two cases expect the same"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_checker_catches_each_broken_file(case: Path, tmp_path: Path, facts_file: Path) -> None:
    header = _header(case)
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    target = root / header["target"]
    if header.get("delete") == "true":
        target.unlink()
    else:
        target.write_text(case.read_text(encoding="utf-8"), encoding="utf-8")
    problems = check(root, facts=facts_file)
    where = root / header.get("reported-in", header["target"])
    hits = [p for p in problems if p.path == where and header["expect"] in p.message]
    assert hits, f"{header['case']}: expected «{header['expect']}» in {where}:\n" + "\n".join(
        str(p) for p in problems
    )
    if where.is_file():
        assert all(p.line for p in hits), hits
    # Nothing else is reported, except the same problem where the file is used and the
    # approval of the document that was broken.
    allowed = {target, where, root / "email" / "approval.yml"}
    stray = [p for p in problems if p.path not in allowed and header["expect"] not in p.message]
    assert not stray, "\n".join(str(p) for p in stray)


def test_shipped_content_agrees_with_the_real_fact_base() -> None:
    path = find_facts(CONTENT)
    if path is None:
        pytest.skip("the fact base (shared/reference/barnets-lov-facts.md) is not here")
    facts = parse_facts(path)
    assert len(facts.facts) > 100
    problems = check(CONTENT, facts=path)
    assert problems == [], "\n".join(str(p) for p in problems)


def test_fact_status_is_read_by_its_leading_verdict() -> None:
    assert level_of("VERIFIED (content); § numbers PARTLY VERIFIED") == "verified"
    assert level_of("PARTLY VERIFIED (pre-BL source)") == "partly_verified"
    assert level_of("UNVERIFIED (from memory)") == "unverified"
    assert level_of('"nothing found" (searched BL §§ 1–8)') == "unverified"
    assert level_of("–") == "unknown"


# -- rules, one by one ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "ok"),
    [
        ("https://www.lovguiden.dk/loven/6", True),
        ("https://boerneraadet.dk.", True),
        ("boerneraadet.dk", True),
        ("www.cyberhus.dk", True),
        ("http://www.cyberhus.dk", False),
        ("https//www.cyberhus.dk", False),
        ("htps://www.cyberhus.dk", False),
        ("https://cyberhus", False),
        ("https:/cyberhus.dk", False),
        ("www.cyberhus", False),
    ],
)
def test_links_in_texts(link: str, ok: bool) -> None:
    assert (bad_link(link) is None) is ok, bad_link(link)


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("35 55 55 59", True),
        ("116 111", True),
        ("70 201 201", True),
        ("+45 35 55 55 59", True),
        ("35 55 555", False),
        ("3555 5559", False),
        ("355555591", False),
    ],
)
def test_phone_numbers_in_texts(number: str, ok: bool) -> None:
    assert (bad_phone(number) is None) is ok, number


def test_legal_statements_are_recognised() -> None:
    for text in (
        "Efter § 6 må du",
        "Barnets lov siger",
        "Loven siger",
        "Du har ret til en bisidder",
        "Fra du er 10 år, kan du klage",
        "Når du fylder {{ age }} år",
        "Personen skal være mindst 15 år",
    ):
        assert LEGAL_STATEMENT.search(text), text
    for text in ("Du har lov til at sige nej", "Det kan jeg ikke love", "Du er 12 år"):
        assert not LEGAL_STATEMENT.search(text), text


def test_an_unverified_source_is_never_in_the_source_line(store) -> None:  # type: ignore[no-untyped-def]
    topic = store.topics["change_caseworker"]
    assert any(s.status == "unverified" for s in topic.sources)
    line = citation(topic, "Kilde:")
    assert "Retssikkerhedsloven § 4" not in line and "familieadvokaten" not in line
    assert line.startswith("Kilde: Barnets lov § 6, stk. 1")


def test_required_ui_texts_are_the_ones_the_code_uses() -> None:
    """Every ui.yml key the code names is required; content without it would crash a chat."""
    keys = set(yaml.safe_load((CONTENT / "ui.yml").read_text(encoding="utf-8"))["texts"])
    named: set[str] = set()
    for path in (REPO / "bot").rglob("*.py"):
        if "content" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in keys
            ):
                named.add(node.value)
    named |= {f"cmd_{name}" for name in MENU_COMMANDS}
    assert named <= REQUIRED_UI_KEYS, sorted(named - REQUIRED_UI_KEYS)
    assert keys >= REQUIRED_UI_KEYS


def test_every_schema_message_is_danish_with_a_line(broken: Path) -> None:
    path = broken / "topics" / "complaint.yml"
    _edit(path, kind="klage", answr="x", variants=[{"min_age": "ti", "answer": "Hej"}])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["title"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = [p for p in check(broken) if p.path == path]
    messages = "\n".join(p.message for p in problems)
    assert "kind: skal være en af" in messages
    assert "answr: ukendt felt" in messages
    assert "variants.0.min_age: skal være et helt tal" in messages
    assert "title: feltet mangler" in messages
    assert all(p.line for p in problems)
    assert "Input should" not in messages and "Field required" not in messages


def test_email_templates_are_approved_as_one_document(broken: Path) -> None:
    assert load(CONTENT).email is not None and load(CONTENT).email.is_approved  # type: ignore[union-attr]
    template = broken / "email" / "message.txt.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\nHilsen barnebot\n")
    assert "email: er ændret efter godkendelsen" in _messages(broken)
    approve(broken / "email" / "approval.yml", "Test Redaktør")
    assert _messages(broken) == ""
    assert load(broken).email.version == load(CONTENT).email.version + 1  # type: ignore[union-attr]


# -- the editor guide -----------------------------------------------------------------------

GUIDE = CONTENT / "README.md"


def guide_prose(text: str) -> str:
    """The guide's running text: code blocks and tables out, wrapped lines joined."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        item = re.match(r"^(- |\d+\. |> )", line)
        if not line or line.startswith(("#", "|")) or (item and current):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if not line or line.startswith(("#", "|")):
                continue
        current.append(line[item.end() :] if item else line)
    if current:
        paragraphs.append(" ".join(current))
    return re.sub(r"`[^`]*`", "X", "\n".join(paragraphs))


def test_the_editor_guide_is_plain_danish() -> None:
    score = lix(guide_prose(GUIDE.read_text(encoding="utf-8")))
    assert score.words > 1500
    assert score.score <= 30, score


def test_the_editor_guide_names_only_real_commands_and_options() -> None:
    from typer.core import TyperGroup
    from typer.main import get_command

    from bot.cli.main import content_app

    group = get_command(content_app)
    assert isinstance(group, TyperGroup)
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"barnebot content (\w+)", text))
    assert {"check", "preview", "approve", "status", "diff"} <= named
    for name in named:
        command = group.commands[name]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for line in re.findall(rf"barnebot content {name}[^`\n]*", text):
            for option in re.findall(r"--[a-z]+", line):
                assert option in options, (name, option)
    for option in ("--age", "--detail", "--municipality", "--by", "--dir", "--facts"):
        assert option in text
