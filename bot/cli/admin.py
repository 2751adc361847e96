"""Commands for municipal staff: caseworkers, invite codes, children's links, municipalities.

Every command prints a short line for people, or one JSON document with ``--json``.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.casework import codes
from bot.casework import service as casework
from bot.config import get_settings, secret_key
from bot.storage.db import Database, ensure_schema
from bot.storage.models import Caseworker, ChildLink

caseworker_app = typer.Typer(help="Caseworkers (rådgivere).", no_args_is_help=True)
invite_app = typer.Typer(
    help="Invite codes that link a child to a caseworker.", no_args_is_help=True
)
child_app = typer.Typer(help="Children's links to caseworkers.", no_args_is_help=True)
municipality_app = typer.Typer(help="Municipality settings.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def register(app: typer.Typer) -> None:
    app.add_typer(caseworker_app, name="caseworker")
    app.add_typer(invite_app, name="invite")
    app.add_typer(child_app, name="child")
    app.add_typer(municipality_app, name="municipality")


@contextmanager
def _session() -> Iterator[Session]:
    db = Database(get_settings().database_url)
    try:
        ensure_schema(db.engine)
        with db.unit_of_work() as session:
            yield session
    except casework.CaseworkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()


def _out(as_json: bool, document: dict[str, Any], line: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
    else:
        typer.echo(line)


def _municipality_code(value: str | None) -> str | None:
    """A municipality by code ("751") or name ("Aarhus", "aarhus", "Koebenhavn")."""
    if not value:
        return None
    from bot.content.loader import load
    from bot.nlu.text import fold

    store = load(get_settings().content_dir)
    for m in store.municipalities.municipalities:
        if value.strip() in (m.code, m.code.lstrip("0")) or fold(value) in (
            fold(m.name),
            fold(m.name_ascii),
        ):
            return m.code
    typer.echo(f"error: unknown municipality {value!r}", err=True)
    raise typer.Exit(1)


def _caseworker_doc(worker: Caseworker) -> dict[str, Any]:
    return {
        "id": worker.id,
        "name": worker.name,
        "title": worker.title,
        "email": worker.email,
        "phone": worker.phone,
        "office_hours": worker.office_hours,
        "municipality": worker.municipality_code,
        "active": worker.active,
    }


# -- caseworkers -----------------------------------------------------------------------------

NameOpt = Annotated[str | None, typer.Option("--name", help="Full name.")]
PhoneOpt = Annotated[str | None, typer.Option("--phone", help="Phone number.")]
TitleOpt = Annotated[str | None, typer.Option("--title", help="Job title, in Danish.")]
MunicipalityOpt = Annotated[
    str | None, typer.Option("--municipality", help="Municipality code or name.")
]
HoursOpt = Annotated[
    str | None, typer.Option("--office-hours", help='e.g. "man-tor 9-15; fre 9-12".')
]


@caseworker_app.command("add")
def caseworker_add(
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    email: Annotated[str, typer.Option("--email", help="Work e-mail (messages go here).")],
    phone: PhoneOpt = None,
    title: TitleOpt = None,
    municipality: MunicipalityOpt = None,
    office_hours: HoursOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a caseworker."""
    code = _municipality_code(municipality)
    with _session() as session:
        worker = casework.add_caseworker(
            session,
            name=name,
            email=email,
            phone=phone,
            title=title,
            municipality_code=code,
            office_hours=office_hours,
        )
        doc = _caseworker_doc(worker)
    _out(as_json, doc, f"caseworker {doc['id']} added: {doc['email']}")


@caseworker_app.command("list")
def caseworker_list(as_json: JsonOpt = False) -> None:
    """List caseworkers."""
    with _session() as session:
        rows = [
            _caseworker_doc(w) for w in session.scalars(select(Caseworker).order_by(Caseworker.id))
        ]
    if as_json:
        _out(True, {"caseworkers": rows}, "")
        return
    for row in rows:
        state = "" if row["active"] else " (deactivated)"
        typer.echo(f"{row['id']:>4}  {row['email']:40} {row['name']}{state}")


@caseworker_app.command("update")
def caseworker_update(
    email: Annotated[str, typer.Argument(help="The caseworker's current e-mail.")],
    name: NameOpt = None,
    phone: PhoneOpt = None,
    title: TitleOpt = None,
    municipality: MunicipalityOpt = None,
    office_hours: HoursOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a caseworker's details."""
    code = _municipality_code(municipality)
    with _session() as session:
        worker = casework.update_caseworker(
            session,
            email,
            name=name,
            phone=phone,
            title=title,
            municipality_code=code,
            office_hours=office_hours,
        )
        doc = _caseworker_doc(worker)
    _out(as_json, doc, f"caseworker {doc['id']} updated")


@caseworker_app.command("deactivate")
def caseworker_deactivate(
    email: Annotated[str, typer.Argument(help="The caseworker's e-mail.")],
    as_json: JsonOpt = False,
) -> None:
    """Deactivate a caseworker (no new codes; reassign their children)."""
    with _session() as session:
        doc = _caseworker_doc(casework.deactivate_caseworker(session, email))
    _out(as_json, doc, f"caseworker {doc['id']} deactivated")


@caseworker_app.command("import")
def caseworker_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV: name,email,phone,title,municipality,office_hours", exists=True),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Add caseworkers from a CSV file (one transaction: all or none)."""
    with file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes_by_row = [_municipality_code(r.get("municipality") or None) for r in rows]
    with _session() as session:
        added = [
            casework.add_caseworker(
                session,
                name=r.get("name", ""),
                email=r.get("email", ""),
                phone=r.get("phone") or None,
                title=r.get("title") or None,
                municipality_code=code,
                office_hours=r.get("office_hours") or None,
            ).id
            for r, code in zip(rows, codes_by_row, strict=True)
        ]
    _out(as_json, {"added": len(added), "ids": added}, f"{len(added)} caseworkers added")


# -- invites ---------------------------------------------------------------------------------


@invite_app.command("create")
def invite_create(
    caseworker: Annotated[str, typer.Option("--caseworker", help="The caseworker's e-mail.")],
    child_name: Annotated[
        str | None, typer.Option("--child-name", help="A name or pseudonym (never a CPR number).")
    ] = None,
    qr: Annotated[
        Path | None, typer.Option("--qr", help="Write a QR code PNG for a letter here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a single-use invite code for one child."""
    settings = get_settings()
    with _session() as session:
        code, invite = casework.create_invite(
            session,
            caseworker_email=caseworker,
            key=secret_key(settings),
            child_name=child_name,
            days=settings.invite_days,
        )
        expires: datetime = invite.expires_at
    link = f"https://t.me/{settings.telegram_username}?start={code}"
    if qr is not None:
        import segno

        segno.make(link, error="m").save(str(qr), scale=8, border=4)
    doc = {
        "code": codes.display(code),
        "link": link,
        "expires_at": expires.isoformat(),
        "qr": str(qr) if qr else None,
    }
    _out(as_json, doc, f"code {doc['code']}  link {link}  expires {expires:%Y-%m-%d}")


@invite_app.command("revoke")
def invite_revoke(
    code: Annotated[str, typer.Argument(help="The code, e.g. ABCDE-FGHJK.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an unused invite code."""
    with _session() as session:
        done = casework.revoke_invite(session, code, secret_key(get_settings()))
    _out(as_json, {"revoked": done}, "revoked" if done else "no unused code like that")
    if not done:
        raise typer.Exit(1)


# -- children --------------------------------------------------------------------------------


@child_app.command("list")
def child_list(
    caseworker: Annotated[str, typer.Option("--caseworker", help="The caseworker's e-mail.")],
    as_json: JsonOpt = False,
) -> None:
    """The children linked to a caseworker (link id and display name)."""
    with _session() as session:
        rows = [
            {"link": link.id, "display_name": link.display_name, "linked_at": link.linked_at}
            for link in casework.links_of(session, caseworker)
        ]
    if as_json:
        _out(True, {"children": rows}, "")
        return
    for row in rows:
        typer.echo(f"{row['link']:>5}  {row['display_name'] or '-'}")


@child_app.command("reassign")
def child_reassign(
    link: Annotated[int, typer.Argument(help="The link id (see child list).")],
    to: Annotated[str, typer.Option("--to", help="The new caseworker's e-mail.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a child a new caseworker; the child is told the new name at their next message."""
    with _session() as session:
        moved: ChildLink = casework.reassign(session, link, to)
        doc = {"link": moved.id, "caseworker": moved.caseworker.email}
    _out(as_json, doc, f"link {link} now with {to}")


@child_app.command("unlink")
def child_unlink(
    link: Annotated[int, typer.Argument(help="The link id (see child list).")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a child's link to their caseworker."""
    with _session() as session:
        casework.unlink(session, link)
    _out(as_json, {"unlinked": link}, f"link {link} removed")


# -- municipalities --------------------------------------------------------------------------


@municipality_app.command("set-email")
def municipality_set_email(
    municipality: Annotated[str, typer.Argument(help="Municipality code or name.")],
    email: Annotated[
        str | None, typer.Argument(help="General address for children without a code.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Where messages from children without a code go (omit EMAIL to clear)."""
    code = _municipality_code(municipality)
    assert code is not None
    with _session() as session:
        casework.set_general_email(session, code, email)
    _out(as_json, {"municipality": code, "general_email": email}, f"{code}: {email or '-'}")
