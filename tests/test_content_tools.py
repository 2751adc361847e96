"""The editors' tools (status, approve + history, preview, diff) and publishing without restart
(the watcher, the atomic swap in the assistant, what is served while a text is unapproved)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.content.approval import CHANGELOG, approve
from bot.content.diff import DiffError, changes, describe, word_changes
from bot.content.live import ContentWatcher, fingerprint, prepare
from bot.content.loader import ContentError, ContentStore, load
from bot.content.status import status
from bot.dialogue.messages import Reply, UserMessage
from bot.dialogue.responder import Responder
from bot.runtime import Runtime
from bot.storage.models import AnswerLog

from .conftest import REPO
from .test_cli import run

CONTENT = REPO / "content"
OLD = "Det er gratis at klage."
NEW = "Det koster ikke noget at klage."
EDITOR = "Test Redaktør, jurist"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    return copy


@pytest.fixture
def env(root: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BARNEBOT_", "TELEGRAM_"))}
    return {**base, "BARNEBOT_CONTENT_DIR": str(root)}


def edit(root: Path, old: str = OLD, new: str = NEW, topic: str = "complaint") -> Path:
    path = root / "topics" / f"{topic}.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def holding_text(store: ContentStore) -> str:
    return Responder(store).holding().text


# -- status ----------------------------------------------------------------------------------


def test_status_lists_every_document_with_its_state(root: Path, env: dict[str, str]) -> None:
    rows = {r.doc_id: r for r in status(root)}
    assert len(rows) == len(list((root / "topics").glob("*.yml"))) + 4
    assert all(r.state == "approved" and r.version and r.approved_by for r in rows.values())
    edit(root)
    (root / "topics" / "thanks.yml").write_text(
        "id: thanks\nkind: social\ntitle: Tak\nanswer: Det var så lidt.\n", encoding="utf-8"
    )
    (root / "topics" / "goodbye.yml").write_text("id: goodbye\nanswer: [\n", encoding="utf-8")
    result = run(["content", "status", "--json"], env)
    assert result.returncode == 0, result.stderr
    states = {d["id"]: d for d in json.loads(result.stdout)["documents"]}
    assert states["complaint"]["state"] == "changed"
    assert states["complaint"]["version"] == rows["complaint"].version
    assert states["thanks"]["state"] == "draft" and states["thanks"]["version"] == 0
    assert states["goodbye"]["state"] == "invalid" and "linje" in states["goodbye"]["problem"]
    assert states["ui"]["state"] == "approved" and states["email"]["state"] == "approved"
    human = run(["content", "status"], env).stdout
    assert "ændret efter godkendelse" in human and "kladde" in human and "fejl i filen" in human


# -- approve and the history -------------------------------------------------------------------


def test_approve_bumps_the_version_and_writes_the_history(root: Path, env: dict[str, str]) -> None:
    before = load(root).topics["complaint"].version
    history = (root / CHANGELOG).read_text(encoding="utf-8")
    edit(root)
    result = run(["content", "approve", "complaint", "--by", EDITOR], env)
    assert result.returncode == 0, result.stderr
    assert f"complaint: godkendt som version {before + 1}" in result.stdout
    topic = load(root).topics["complaint"]
    assert topic.is_approved and topic.version == before + 1 and topic.approved_by == EDITOR
    added = (root / CHANGELOG).read_text(encoding="utf-8").removeprefix(history)
    assert added.count("\n") == 1
    cells = [c.strip() for c in added.strip().strip("|").split("|")]
    assert cells[1:4] == ["complaint", str(before + 1), EDITOR]
    assert topic.approved_hash and topic.approved_hash.removeprefix("sha256:").startswith(cells[4])
    assert run(["content", "check"], env).returncode == 0


def test_approve_refuses_content_with_problems(root: Path, env: dict[str, str]) -> None:
    path = edit(
        root,
        OLD,
        "Kommunalbestyrelsens afgørelser vedrørende støtteforanstaltninger "
        "kan påklages af forældremyndighedsindehaveren til Ankestyrelsen.",
    )
    text = path.read_text(encoding="utf-8")
    result = run(["content", "approve", "complaint", "--by", EDITOR], env)
    assert result.returncode == 1
    assert "LIX" in result.stderr and "Intet er godkendt" in result.stderr
    assert path.read_text(encoding="utf-8") == text
    missing = run(["content", "approve", "klage", "--by", EDITOR], env)
    assert missing.returncode == 1 and "findes ikke" in missing.stderr


def test_approve_refuses_while_a_file_cannot_be_read(root: Path, env: dict[str, str]) -> None:
    edit(root)
    (root / "topics" / "goodbye.yml").write_text("id: goodbye\nanswer: [\n", encoding="utf-8")
    result = run(["content", "approve", "complaint", "--by", EDITOR], env)
    assert result.returncode == 1 and "goodbye.yml" in result.stderr
    assert not load_topic_approved(root, "complaint")


def load_topic_approved(root: Path, topic_id: str) -> bool:
    from bot.content.loader import parse_document

    return parse_document(root / "topics" / f"{topic_id}.yml").is_approved


def test_approving_unchanged_content_keeps_the_version(root: Path) -> None:
    version = load(root).topics["thanks"].version
    assert approve(root / "topics" / "thanks.yml", EDITOR)[0] == version


# -- preview --------------------------------------------------------------------------------


def test_preview_is_what_a_child_gets(env: dict[str, str]) -> None:
    store = load(CONTENT)
    reply = Responder(store).topic("complaint", age=12)
    result = run(["content", "preview", "complaint", "--age", "12"], env)
    assert result.returncode == 0, result.stderr
    assert reply.text in result.stdout
    for number, button in enumerate(reply.buttons, 1):
        assert f"  [{number}] {button.label}" in result.stdout
    assert "godkendt af" in result.stdout and "12 år" in result.stdout
    as_json = json.loads(run(["content", "preview", "complaint", "--json"], env).stdout)
    plain = Responder(store).topic("complaint", age=None)
    assert as_json["text"] == plain.text
    assert [b["payload"] for b in as_json["buttons"]] == [b.payload for b in plain.buttons]
    detail = run(["content", "preview", "complaint", "--detail"], env).stdout
    assert "Ankestyrelsen" in detail and "Læs mere" in detail


def test_preview_shows_a_draft_and_says_children_do_not_see_it(
    root: Path, env: dict[str, str]
) -> None:
    edit(root)
    result = run(["content", "preview", "complaint"], env)
    assert result.returncode == 0, result.stderr
    assert NEW in result.stdout and "holdesvaret" in result.stdout
    unknown = run(["content", "preview", "klage"], env)
    assert unknown.returncode == 1 and "Mente du: complaint" in unknown.stderr


def test_preview_with_a_municipality(env: dict[str, str]) -> None:
    result = run(["content", "preview", "who_is_my_caseworker", "--municipality", "Aarhus"], env)
    assert result.returncode == 0, result.stderr
    bad = run(["content", "preview", "complaint", "--municipality", "Atlantis"], env)
    assert bad.returncode == 1 and "Atlantis" in bad.stderr


# -- diff -----------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.dk", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    checkout = tmp_path / "checkout"
    shutil.copytree(CONTENT, checkout / "content")
    git(checkout, "init", "-q")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "content")
    yield checkout / "content"


def test_diff_tells_an_editor_what_changed(repo: Path) -> None:
    assert list(changes(repo))[-1] == "Ingen ændringer."
    edit(repo)
    report = "\n".join(changes(repo))
    assert "Emnet 'Klage' (complaint):" in report
    assert "  svaret er ændret:" in report
    assert f"- {OLD}" in report and f"+ {NEW}" in report
    assert "«er gratis» → «koster ikke noget»" in report
    assert "svaret for 10 år og op er ændret" in report
    assert "ikke godkendt endnu" in report
    approve(repo / "topics" / "complaint.yml", EDITOR)
    report = "\n".join(changes(repo))
    assert f"version 1 → 2, godkendt af {EDITOR}" in report
    assert "ikke godkendt" not in report
    git(repo.parent, "commit", "-qam", "klage: ny tekst")
    assert list(changes(repo))[-1] == "Ingen ændringer."
    assert f"+ {NEW}" in "\n".join(changes(repo, "HEAD~1"))


def test_diff_describes_sources_buttons_ui_and_new_or_removed_topics(repo: Path) -> None:
    edit(
        repo,
        "buttons: [party_rights, support_person, free_lawyer, access_to_records]",
        "buttons: [party_rights, support_person]",
    )
    edit(
        repo,
        "    status: partly_verified\n    note: Numrene",
        "    status: unverified\n    note: Numrene",
    )
    ui = repo / "ui.yml"
    ui.write_text(
        ui.read_text(encoding="utf-8").replace("Hvad vil du vide mere om?", "Hvad vil du vide?"),
        encoding="utf-8",
    )
    (repo / "topics" / "thanks.yml").unlink()
    report = "\n".join(changes(repo))
    assert (
        "knapperne er ændret: party_rights, support_person, free_lawyer, access_to_records"
        " → party_rights, support_person" in report
    )
    assert "status «partly_verified» → «unverified»" in report
    assert "tekst 'menu_prompt' er ændret" in report
    assert "Emnet 'Tak' (thanks): er slettet." in report or "(thanks): er slettet." in report


def test_diff_fails_kindly_outside_git(root: Path, env: dict[str, str]) -> None:
    with pytest.raises(DiffError, match="ikke en del af et git-arkiv"):
        list(changes(root))
    result = run(["content", "diff"], env)
    assert result.returncode == 1 and "git" in result.stderr and "Traceback" not in result.stderr


def test_diff_fails_kindly_on_an_unknown_revision(repo: Path) -> None:
    with pytest.raises(DiffError, match="findes ikke i git"):
        list(changes(repo, "no-such-revision"))


def test_word_changes_and_unreadable_files() -> None:
    assert word_changes("Det er gratis.", "Det er helt gratis.") == "tilføjet «helt»"
    lines = describe("topics/complaint.yml", "id: complaint\n", "id: [complaint\n")
    assert "kan ikke læses" in lines[0]


# -- publishing without restart: the watcher ------------------------------------------------


async def _no_publish(store: ContentStore) -> None:
    raise AssertionError("poll() does not publish")


def test_fingerprint_changes_with_the_contents(root: Path) -> None:
    first = fingerprint(root)
    assert fingerprint(root) == first
    path = edit(root)
    changed = fingerprint(root)
    assert changed != first
    path.write_text(path.read_text(encoding="utf-8").replace(NEW, OLD), encoding="utf-8")
    assert fingerprint(root) == first


def test_an_edited_topic_is_held_and_served_again_once_approved(root: Path) -> None:
    watcher = ContentWatcher(root, load(root), _no_publish)
    assert watcher.poll() is None  # nothing changed
    edit(root)
    edited = watcher.poll()
    assert edited is not None
    reply = Responder(edited).topic("complaint", age=None)
    assert reply.text == holding_text(edited) and reply.topic is None
    assert Responder(edited).topic("placement", age=None).topic == "placement"
    approve(root / "topics" / "complaint.yml", EDITOR)
    approved = watcher.poll()
    assert approved is not None
    reply = Responder(approved).topic("complaint", age=None)
    assert NEW in reply.text and reply.meta["version"] == "2"


def test_a_broken_folder_is_refused_and_the_old_content_kept(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start = load(root)
    watcher = ContentWatcher(root, start, _no_publish)
    path = root / "topics" / "complaint.yml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good[: len(good) // 2], encoding="utf-8")  # half written
    with caplog.at_level("ERROR", logger="bot.content.live"):
        assert watcher.poll() is None
        assert watcher.poll() is None  # refused once, not again every second
    refused = [r for r in caplog.records if r.getMessage().startswith("content reload refused")]
    assert len(refused) == 1
    assert refused[0].file == str(path)  # type: ignore[attr-defined]
    assert watcher.current is start
    path.write_text(good, encoding="utf-8")
    assert watcher.poll() is not None  # the whole file is there again: taken up


def test_a_file_changing_while_it_is_read_is_read_again(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = ContentWatcher(root, load(root), _no_publish)
    edit(root)
    prints = iter(["a", "b", "c", "c", "c"])
    monkeypatch.setattr("bot.content.live.fingerprint", lambda _root: next(prints))
    assert watcher.poll() is None  # "a" before, "b" after: still being written
    assert watcher.poll() is not None  # "c" before and after


def test_unapproved_ui_helplines_municipalities_are_not_taken_up(root: Path) -> None:
    start = load(root)
    ui = root / "ui.yml"
    ui.write_text(
        ui.read_text(encoding="utf-8").replace(
            "Hej! Jeg er barnebot.", "Hej! Jeg hedder barnebot."
        ),
        "utf-8",
    )
    edit(root)
    store = prepare(root, start)
    assert store.ui is start.ui  # the approved UI texts stay
    assert not store.topics["complaint"].is_approved  # the topic is loaded (and held)
    approve(ui, EDITOR)
    assert "Jeg hedder barnebot" in prepare(root, start).ui.texts["welcome"]


def test_a_folder_without_a_text_the_bot_needs_is_refused(root: Path) -> None:
    ui = root / "ui.yml"
    text = ui.read_text(encoding="utf-8")
    ui.write_text(text.replace("  source_prefix:", "  source_prefiks:"), encoding="utf-8")
    approve(ui, EDITOR)
    with pytest.raises(ContentError, match="source_prefix"):
        prepare(root, load(CONTENT))


def test_the_watcher_reloads_on_request(root: Path) -> None:
    published: list[ContentStore] = []

    async def publish(store: ContentStore) -> None:
        published.append(store)

    async def scenario() -> None:
        stop = asyncio.Event()
        watcher = ContentWatcher(root, load(root), publish, interval=30)
        task = asyncio.create_task(watcher.run(stop))
        await asyncio.sleep(0.05)
        watcher.wake.set()  # what SIGHUP does: reload now, changed or not
        for _ in range(200):
            if published:
                break
            await asyncio.sleep(0.02)
        stop.set()
        watcher.wake.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert len(published) == 1


# -- publishing without restart: the assistant ---------------------------------------------


def _ask(runtime: Runtime, chat: str = "test:content") -> list[Reply]:
    return runtime.assistant.handle(UserMessage(chat, button="topic:complaint"))


def test_the_assistant_swaps_content_and_logs_the_version_served(
    runtime: Runtime, root: Path
) -> None:
    first = _ask(runtime)[-1]
    assert OLD in first.text and first.meta["version"] == "1"
    edit(root)
    held = load(root)
    runtime.assistant.use_content(held)
    assert _ask(runtime)[-1].text == holding_text(held)
    approve(root / "topics" / "complaint.yml", EDITOR)
    runtime.assistant.use_content(load(root))
    again = _ask(runtime)[-1]
    assert NEW in again.text and again.meta["version"] == "2"
    with runtime.db.unit_of_work() as session:
        logged = session.scalars(
            select(AnswerLog.topic_version).where(AnswerLog.topic_id == "complaint")
        ).all()
    assert sorted(logged) == [1, 2]  # the held answer is not logged as the topic


def test_a_message_is_answered_wholly_from_the_content_it_started_with(
    runtime: Runtime, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(root)
    approve(root / "topics" / "complaint.yml", EDITOR)
    newer = load(root)
    assistant = runtime.assistant
    dispatch = assistant._dispatch

    def publish_midway(turn, message):  # type: ignore[no-untyped-def]
        assistant.use_content(newer)  # the watcher publishes while this message is handled
        dispatch(turn, message)

    monkeypatch.setattr(assistant, "_dispatch", publish_midway)
    during = _ask(runtime)[-1]
    assert OLD in during.text and during.meta["version"] == "1"
    monkeypatch.undo()
    after = _ask(runtime)[-1]
    assert NEW in after.text and after.meta["version"] == "2"
