"""The shipped content is valid, approved, plain; and the checker catches broken content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot import intents
from bot.content.approval import approve
from bot.content.check import SAMPLE_AGES, check
from bot.content.context import template_context
from bot.content.loader import ContentError, load
from bot.content.readability import lix
from bot.content.render import render

from .conftest import REPO

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
