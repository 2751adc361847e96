"""``barnebot``: chat, nlu, content and db commands. Every command has ``--help``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli import admin, forwarding
from bot.logs import configure_logging

app = typer.Typer(
    help="barnebot: børns rettigheder efter Barnets lov, i et sprog børn forstår.",
    no_args_is_help=True,
    add_completion=False,
)
nlu_app = typer.Typer(
    help="Understanding: parse a message, evaluate an engine.", no_args_is_help=True
)
content_app = typer.Typer(
    help="Content editors' tools: check and approve content.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")
app.add_typer(content_app, name="content")
app.add_typer(db_app, name="db")
admin.register(app)
forwarding.register(app)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False,
) -> None:
    configure_logging(logging.INFO if verbose else logging.WARNING)


@app.command()
def chat(
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine protocol: JSON lines on stdin/stdout.")
    ] = False,
) -> None:
    """Talk to the bot in the terminal, as a child would (no token, no server needed)."""
    from bot.channels import terminal
    from bot.runtime import build

    if not logging.getLogger().isEnabledFor(logging.INFO):
        # A child at the terminal should not see operator warnings; -v shows them.
        logging.getLogger().setLevel(logging.ERROR)
    runtime = build()
    try:
        if as_json:
            terminal.json_lines(runtime.assistant.handle)
        else:
            terminal.interactive(runtime.assistant.handle)
    finally:
        runtime.close()


@app.command()
def run() -> None:
    """Run the Telegram bot: long polling, or a webhook when BARNEBOT_WEBHOOK_URL is set.

    Needs TELEGRAM_TOKEN; TELEGRAM_BASE_URL points it at another Bot API server. Stops
    cleanly on SIGTERM or Ctrl-C. Logs are JSON lines on stderr, without any child's words.
    """
    from bot.channels.telegram.app import run as run_telegram
    from bot.config import get_settings

    settings = get_settings()
    if not settings.telegram_token:
        typer.echo("TELEGRAM_TOKEN is not set: get a token from @BotFather.", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_telegram(settings))


@nlu_app.command("parse")
def nlu_parse(text: Annotated[str, typer.Argument(help="The message to understand.")]) -> None:
    """Print what the bot would act on, in the shape of Rasa's /model/parse answer."""
    from bot.config import get_settings
    from bot.nlu.pipeline import understand
    from bot.runtime import build_embedded, build_nlu
    from bot.safety.layer import SafetyLayer

    settings = get_settings()
    embedded = build_embedded(settings)
    _print_json(understand(text, build_nlu(settings, embedded), SafetyLayer(classifier=embedded)))


@nlu_app.command("eval")
def nlu_eval(
    file: Annotated[Path, typer.Argument(help="Rasa NLU YAML file with examples.", exists=True)],
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the active engine (with the safety layer in front) on a held-out file."""
    from bot.config import get_settings
    from bot.nlu.evaluate import evaluate
    from bot.nlu.pipeline import understand
    from bot.runtime import build_embedded, build_nlu
    from bot.safety.layer import SafetyLayer

    settings = get_settings()
    embedded = build_embedded(settings)
    engine = build_nlu(settings, embedded)
    safety = SafetyLayer(classifier=embedded)
    report = evaluate(file, lambda t: understand(t, engine, safety), embedded.config.threshold)
    report["engine"] = engine.name
    if as_json:
        _print_json(report)
        return
    typer.echo(f"engine {engine.name}: {report['examples']} examples")
    typer.echo(
        f"accuracy {report['accuracy']:.3f}  macro-F1 {report['macro_f1']:.3f}  "
        f"confident wrong {report['confident_wrong']} "
        f"(threshold {report['threshold']})"
    )
    for name, row in sorted(report["per_intent"].items()):
        typer.echo(
            f"  {name:24} P {row['precision']:.2f}  R {row['recall']:.2f}  "
            f"F1 {row['f1']:.2f}  n={row['support']}"
        )
    for c in report["confusions"][:10]:
        typer.echo(f"  confused {c['expected']} → {c['predicted']}: {c['count']}")


safety_app = typer.Typer(help="The safety layer.", no_args_is_help=True)
app.add_typer(safety_app, name="safety")
CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "safety"


@safety_app.command("eval")
def safety_eval(
    crisis: Annotated[Path, typer.Option(help="YAML with `crisis:` items.")] = CORPUS
    / "crisis.yml",
    lookalikes: Annotated[Path, typer.Option(help="YAML with `lookalikes:` items.")] = CORPUS
    / "lookalikes.yml",
    as_json: JsonOpt = False,
) -> None:
    """Recall on crisis messages and false alarms on look-alikes (our own test corpus)."""
    from bot.config import get_settings
    from bot.runtime import build_embedded
    from bot.safety.evaluate import evaluate
    from bot.safety.layer import SafetyLayer

    report = evaluate(SafetyLayer(classifier=build_embedded(get_settings())), crisis, lookalikes)
    if as_json:
        _print_json(report)
        return
    typer.echo(
        f"crisis recall {report['crisis_recall']:.3f} of {report['crisis_messages']}; "
        f"look-alike false alarms {report['lookalike_false_alarm_rate']:.3f} "
        f"of {report['lookalikes']}"
    )
    for category, recall in report["recall_by_category"].items():
        typer.echo(f"  {category:22} {recall:.3f}")
    for item in report["missed"]:
        typer.echo(f"  MISSED  [{item.get('category')}] {item['text']}")
    for item in report["false_alarms"]:
        typer.echo(f"  FALSE ALARM  {item['text']}")


@content_app.command("check")
def content_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Content folder (default: the configured one).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check content: schema, LIX, length, templates, sources, approval. Exit 1 on error."""
    from bot.config import get_settings
    from bot.content.check import check

    root = directory or get_settings().content_dir
    problems = check(root)
    if as_json:
        _print_json(
            {
                "ok": not problems,
                "problems": [
                    {"path": str(p.path), "line": p.line, "message": p.message} for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            typer.echo(str(problem))
        typer.echo(f"{len(problems)} fejl" if problems else "Indholdet er i orden.")
    raise typer.Exit(1 if problems else 0)


@content_app.command("approve")
def content_approve(
    ids: Annotated[list[str], typer.Argument(help="Topic ids, or helplines/municipalities/ui.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (name and role).")],
    directory: Annotated[Path | None, typer.Option("--dir", help="Content folder.")] = None,
) -> None:
    """Approve content: records approver, time, next version and the content's hash."""
    from bot.config import get_settings
    from bot.content.approval import approve

    root = directory or get_settings().content_dir
    for doc_id in ids:
        path = root / f"{doc_id}.yml"
        if not path.is_file():
            path = root / "topics" / f"{doc_id}.yml"
        if not path.is_file():
            typer.echo(f"{doc_id}: findes ikke", err=True)
            raise typer.Exit(1)
        version, _ = approve(path, by)
        typer.echo(f"{doc_id}: godkendt som version {version}")


@db_app.command("rotate-keys")
def db_rotate_keys() -> None:
    """Re-encrypt stored message texts with the first key in BARNEBOT_MESSAGE_KEYS."""
    from bot.config import get_settings
    from bot.storage.conversations import rotate_keys
    from bot.storage.db import Database, ensure_schema

    db = Database(get_settings().database_url)
    ensure_schema(db.engine)
    with db.unit_of_work() as session:
        count = rotate_keys(session)
    db.dispose()
    typer.echo(f"{count} texts re-encrypted")


@app.command("retention")
def retention_run() -> None:
    """Delete inactive conversations and delivered messages past their retention time."""
    from bot.config import get_settings
    from bot.runtime import retention
    from bot.storage.db import Database, ensure_schema

    settings = get_settings()
    db = Database(settings.database_url)
    ensure_schema(db.engine)
    retention(db, settings)
    db.dispose()
    typer.echo("retention done")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (BARNEBOT_DATABASE_URL)."""
    from bot.config import get_settings
    from bot.storage.db import make_engine, upgrade

    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    typer.echo("database is up to date")
