"""The real ``barnebot`` command, run as a child, an editor and an operator would run it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from .conftest import BARNEBOT, DATA, REPO


def run(
    args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BARNEBOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["chat"],
        ["nlu"],
        ["nlu", "parse"],
        ["nlu", "eval"],
        ["content"],
        ["content", "check"],
        ["content", "approve"],
        ["content", "status"],
        ["content", "preview"],
        ["content", "diff"],
        ["db"],
        ["db", "upgrade"],
    ],
)
def test_every_command_has_help(args: list[str], cli_env: dict[str, str]) -> None:
    result = run([*args, "--help"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_chat_json_protocol(cli_env: dict[str, str]) -> None:
    lines = [
        {"text": "hej"},
        {"button": "topic:complaint"},
        {"text": "jeg er 12", "chat": "other"},
        {"button": "forged:payload"},
        "not json",
    ]
    stdin = (
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n"
    )
    result = run(["chat", "--json"], cli_env, stdin)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    greet, complaint, other, forged, bad = out
    assert "robot" in greet["replies"][0]["text"].lower()
    assert all({"label", "payload"} <= set(b) for r in greet["replies"] for b in r["buttons"])
    assert "§" in complaint["replies"][-1]["text"]
    assert "robot" in other["replies"][0]["text"].lower()  # a new child: first contact
    assert forged["replies"] and forged["replies"][-1]["buttons"]
    assert bad["replies"] == [] and "error" in bad


def test_chat_interactive_numbers_press_buttons(cli_env: dict[str, str]) -> None:
    result = run(["chat"], cli_env, "1\nkan jeg klage\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "robot" in result.stdout.lower()
    assert "klage" in result.stdout and "§" in result.stdout


def test_chat_answers_first_message_quickly(cli_env: dict[str, str]) -> None:
    run(["chat", "--json"], cli_env, '{"text": "hej"}\n')  # warm the model cache
    started = time.perf_counter()
    result = run(["chat", "--json"], cli_env, '{"text": "hvad er en bisidder"}\n')
    elapsed = time.perf_counter() - started
    assert result.returncode == 0 and "replies" in result.stdout
    assert elapsed < 10  # the benchmark measures the real figure; this only guards hangs


def test_nlu_parse_prints_rasa_shape(cli_env: dict[str, str]) -> None:
    result = run(["nlu", "parse", "jeg er 11 og vil klage"], cli_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["intent"]["name"] == "complaint"
    assert {"entity": "age", "value": 11}.items() <= doc["entities"][0].items()
    assert doc["intent_ranking"] and doc["safety"]["flagged"] is False


def test_nlu_parse_reports_safety_as_urgent(cli_env: dict[str, str]) -> None:
    doc = json.loads(run(["nlu", "parse", "min stedfar slaar mig"], cli_env).stdout)
    assert doc["intent"]["name"] == "urgent_help"
    assert doc["safety"]["flagged"] is True and "violence" in doc["safety"]["categories"]


def test_nlu_eval_json(cli_env: dict[str, str]) -> None:
    result = run(["nlu", "eval", str(DATA / "nlu_heldout.yml"), "--json"], cli_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    for key in (
        "accuracy",
        "macro_f1",
        "per_intent",
        "confusions",
        "predictions",
        "confident_wrong",
        "out_of_scope",
    ):
        assert key in doc
    first = doc["predictions"][0]
    assert set(first) == {"text", "expected", "predicted", "confidence"}


def test_content_check_passes_shipped_and_fails_broken(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    ok = run(["content", "check"], cli_env)
    assert ok.returncode == 0, ok.stdout
    broken = tmp_path / "content"
    shutil.copytree(REPO / "content", broken)
    topic = broken / "topics" / "complaint.yml"
    topic.write_text(
        topic.read_text(encoding="utf-8").replace(
            "Det er gratis at klage.", "Det er gratis at klage!", 1
        )
    )
    bad = run(["content", "check", str(broken)], cli_env)
    assert bad.returncode == 1
    assert "complaint.yml" in bad.stdout and "godkend" in bad.stdout
    as_json = json.loads(run(["content", "check", str(broken), "--json"], cli_env).stdout)
    assert as_json["ok"] is False and as_json["problems"]


def test_db_upgrade_creates_the_schema(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "BARNEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    result = run(["db", "upgrade"], env)
    assert result.returncode == 0, result.stderr
    tables = set(inspect(create_engine(env["BARNEBOT_DATABASE_URL"])).get_table_names())
    assert {"conversations", "answer_log", "alembic_version"} <= tables
