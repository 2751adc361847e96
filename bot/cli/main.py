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
    help="Content editors' tools: check, preview, approve, status, diff (see content/README.md).",
    no_args_is_help=True,
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
    report = evaluate(file, lambda t: understand(t, engine, safety), engine.threshold)
    report["engine"] = engine.name
    stats = getattr(engine, "stats", None)  # rasa: how many Rasa answered, how many embedded
    if stats is not None:
        report["answered_by"] = stats
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


DirOpt = Annotated[
    Path | None, typer.Option("--dir", help="Content folder (default: the configured one).")
]
FactsOpt = Annotated[
    Path | None,
    typer.Option(
        "--facts",
        help="The fact base (default: $BARNEBOT_FACTS_FILE, else "
        "shared/reference/barnets-lov-facts.md next to the checkout; skipped if absent).",
    ),
]


def _content_root(directory: Path | None) -> Path:
    from bot.config import get_settings

    return directory or get_settings().content_dir


@content_app.command("check")
def content_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Content folder (default: the configured one).")
    ] = None,
    as_json: JsonOpt = False,
    facts: FactsOpt = None,
) -> None:
    """Check content: schema, ids, LIX, length, templates, law and sources, links and phone
    numbers in texts, approval. Danish messages with file and line. Exit 1 on error."""
    from bot.content.check import check

    root = _content_root(directory)
    problems = check(root, facts=facts)
    if as_json:
        _print_json(
            {
                "ok": not problems,
                "problems": [
                    {"path": str(p.path), "line": p.line, "message": p.message, "kind": p.kind}
                    for p in problems
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
    ids: Annotated[
        list[str], typer.Argument(help="Topic ids, or helplines/municipalities/ui/email.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who approves (name and role).")],
    directory: DirOpt = None,
    facts: FactsOpt = None,
) -> None:
    """Approve content: records approver, time, next version and the content's hash, and adds
    a line to CHANGELOG.md. Refuses a document that `content check` finds problems in."""
    from bot.content.approval import CHANGELOG, approve_document
    from bot.content.check import check, document_problems
    from bot.content.loader import EMAIL_DOCUMENT, document_path

    root = _content_root(directory)
    if not by.strip():
        typer.echo("Skriv, hvem der godkender: --by \"Navn, rolle\"", err=True)
        raise typer.Exit(1)
    paths = {}
    for doc_id in ids:
        path = document_path(root, doc_id)
        exists = path.parent.is_dir() if doc_id == EMAIL_DOCUMENT else path.is_file()
        if not exists:
            typer.echo(f"{doc_id}: findes ikke (se barnebot content status)", err=True)
            raise typer.Exit(1)
        paths[doc_id] = path
    # Only content that passes the checks is approved. A file that cannot be read at all
    # (anywhere in the folder) stops the checks, so it stops approval too.
    problems = check(root, facts=facts)
    schema_broken = [p for p in problems if p.kind == "schema"]
    blocking = schema_broken or [
        p for path in paths.values() for p in document_problems(problems, path)
    ]
    if blocking:
        for problem in blocking:
            typer.echo(str(problem), err=True)
        typer.echo(
            "Intet er godkendt: ret fejlene først (barnebot content check viser dem alle).",
            err=True,
        )
        raise typer.Exit(1)
    for doc_id, path in paths.items():
        approved = approve_document(root, doc_id, path, by)
        how = "" if approved.changed else " (samme indhold som før)"
        typer.echo(f"{doc_id}: godkendt som version {approved.version}{how}")
    typer.echo(
        f"Skrevet i {root / CHANGELOG}. En barnebot, der kører, bruger det godkendte "
        "indhold inden for få sekunder."
    )


@content_app.command("status")
def content_status(directory: DirOpt = None, as_json: JsonOpt = False) -> None:
    """Every document: draft, approved or changed after approval; version, approver, date."""
    from bot.content.status import STATE_WORDS, status

    root = _content_root(directory)
    rows = status(root)
    if as_json:
        _print_json({"content_dir": str(root), "documents": [r.as_json() for r in rows]})
        return
    typer.echo(f"{'Id':<22} {'Tilstand':<26} {'Version':>7}  {'Godkendt':<17} Godkendt af")
    for row in rows:
        when = f"{row.approved_at:%d.%m.%Y %H.%M}" if row.approved_at else "–"
        version = "–" if row.version is None else str(row.version)
        typer.echo(
            f"{row.doc_id:<22} {STATE_WORDS[row.state]:<26} {version:>7}  {when:<17} "
            f"{row.approved_by or '–'}"
        )
        if row.problem:
            typer.echo(f"{'':<22} {row.problem}")
    counts = {state: sum(r.state == state for r in rows) for state in STATE_WORDS}
    typer.echo(
        f"\n{counts['approved']} godkendt · {counts['changed']} ændret efter godkendelse · "
        f"{counts['draft']} kladder · {counts['invalid']} med fejl. Tidspunkter i UTC."
    )


@content_app.command("preview")
def content_preview(
    topic_id: Annotated[str, typer.Argument(metavar="ID", help="The topic's id, e.g. complaint.")],
    age: Annotated[
        int | None, typer.Option("--age", min=0, max=30, help="The child's age.")
    ] = None,
    detail: Annotated[bool, typer.Option("--detail", help="The 'Læs mere' text.")] = False,
    municipality: Annotated[
        str | None, typer.Option("--municipality", help="The child's municipality, e.g. Aarhus.")
    ] = None,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a topic exactly as a child sees it (text, source line, buttons), approved or not."""
    import difflib

    from bot.content.loader import ContentError, load
    from bot.dialogue.responder import Responder

    root = _content_root(directory)
    try:
        store = load(root)
    except ContentError as exc:
        typer.echo(f"{exc}\nRet fejlen først (barnebot content check viser alle fejl).", err=True)
        raise typer.Exit(1) from None
    topic = store.topics.get(topic_id)
    if topic is None:
        by_title = {t.title.lower(): t.id for t in store.topics.values()}
        close = difflib.get_close_matches(topic_id, list(store.topics), n=3) + [
            by_title[t] for t in difflib.get_close_matches(topic_id.lower(), list(by_title), n=2)
        ]
        hint = f" Mente du: {', '.join(close)}?" if close else ""
        typer.echo(f"Emnet {topic_id!r} findes ikke.{hint}", err=True)
        raise typer.Exit(1)
    place = None
    if municipality is not None:
        wanted = municipality.strip().lower()
        place = next(
            (
                m
                for m in store.municipalities.municipalities
                if wanted in (m.name.lower(), m.name_ascii.lower())
            ),
            None,
        )
        if place is None:
            typer.echo(f"Kommunen {municipality!r} findes ikke i municipalities.yml.", err=True)
            raise typer.Exit(1)
    reply = Responder(store, drafts=True).topic(
        topic_id, age=age, municipality=place, detail=detail
    )
    if topic.approved_hash is None:
        state = "kladde: ikke godkendt, så børn får holdesvaret i stedet"
    elif not topic.is_approved:
        state = "ændret efter godkendelsen: børn får holdesvaret, til emnet er godkendt igen"
    else:
        state = f"godkendt af {topic.approved_by}"
    if as_json:
        _print_json(
            {
                "id": topic_id,
                "version": topic.version,
                "approved": topic.is_approved,
                "age": age,
                "detail": detail,
                "text": reply.text,
                "buttons": [{"label": b.label, "payload": b.payload} for b in reply.buttons],
            }
        )
        return
    who = f"et barn på {age} år" if age is not None else "et barn, der ikke har sagt sin alder"
    typer.echo(f"Emnet {topic.title!r} ({topic_id}), version {topic.version}, {state}.")
    typer.echo(f"Sådan ser {'Læs mere-teksten' if detail else 'svaret'} ud for {who}:")
    line = "─" * 40
    typer.echo(f"{line}\n{reply.text}\n{line}")
    for number, button in enumerate(reply.buttons, 1):
        typer.echo(f"  [{number}] {button.label}")
    typer.echo(f"{len(reply.text)} tegn (højst {store.settings.max_chars}).")


@content_app.command("diff")
def content_diff(
    rev: Annotated[
        str, typer.Argument(help="A git revision: HEAD (default), HEAD~1, a commit id, a tag.")
    ] = "HEAD",
    directory: DirOpt = None,
) -> None:
    """What changed in the content since a git revision, in words an editor reads."""
    from bot.content.diff import DiffError, changes

    root = _content_root(directory)
    try:
        for line in changes(root, rev):
            typer.echo(line)
    except DiffError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


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
