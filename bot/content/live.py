"""Publishing without restart: a running bot takes up newly approved content by itself.

The content folder is watched (a fingerprint of every content file, once a second) and
reloaded on SIGHUP. A new folder is loaded completely and checked before anything changes:
if it cannot be loaded (a schema error, a half-written file) it is refused, the operator
gets one clear log line naming the file, and the bot keeps serving what it served before.
An accepted folder is handed to ``publish`` as one new ``ContentStore``.

What "approved" means at run time:

* a topic changed after its approval is loaded but not served (``Responder.servable``): the
  child gets the holding answer with the helplines, and the operator sees an error;
* helplines, municipalities and UI texts have no holding answer, so a new version of one of
  them that is not approved is not taken up: the bot keeps the version it has (error logged);
* the e-mail templates are read by the forwarding worker at start; their approval is checked
  and reported, never used to hold back a child's message to the caseworker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import jinja2

from bot.content.check import REQUIRED_UI_KEYS
from bot.content.context import template_context
from bot.content.loader import (
    EMAIL_DOCUMENT,
    EMAIL_FOLDER,
    ContentError,
    ContentStore,
    load,
)
from bot.content.render import compile_template, render
from bot.content.schema import Approval

log = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0
#: documents that have no holding answer: an unapproved new version is not taken up
_WHOLE = ("helplines", "municipalities", "ui")
_PATTERNS = ("*.yml", "topics/*.yml", f"{EMAIL_FOLDER}/*.yml", f"{EMAIL_FOLDER}/*.j2")


def content_files(root: Path) -> list[Path]:
    return sorted({p for pattern in _PATTERNS for p in root.glob(pattern) if p.is_file()})


def fingerprint(root: Path) -> str:
    """Changes whenever a content file is added, removed or changed (contents, not mtimes)."""
    digest = hashlib.sha256()
    for path in content_files(root):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\1unreadable")
        digest.update(b"\0")
    return digest.hexdigest()


def prepare(root: Path, current: ContentStore | None) -> ContentStore:
    """Load ``root`` completely and decide what of it may be served; raises ContentError.

    ``current``: what the bot serves now; its helplines, municipalities and UI texts are kept
    when the new folder's version of them is not approved.
    """
    store = load(root)
    if current is not None:
        kept: dict[str, Approval] = {}
        for name in _WHOLE:
            new: Approval = getattr(store, name)
            old: Approval = getattr(current, name)
            if not new.is_approved and new.content_hash() != old.content_hash():
                log.error(
                    "content changed but not approved; the previous version stays in use",
                    extra={"doc": name, "file": str(store.path_of(name))},
                )
                kept[name] = old
        if kept:
            store = dataclasses.replace(store, **kept)  # type: ignore[arg-type]
    _refuse_if_unservable(store)
    return store


def _refuse_if_unservable(store: ContentStore) -> None:
    """A folder the bot could not answer a child from is refused as a whole."""
    ui_path = store.path_of("ui")
    missing = sorted(REQUIRED_UI_KEYS - set(store.ui.texts))
    if missing:
        raise ContentError(ui_path, f"teksten {missing[0]!r} mangler: botten bruger den")
    for key, source in store.ui.texts.items():
        try:
            compile_template(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ContentError(ui_path, f"{key}: skabelonfejl: {exc.message}") from exc
    try:  # the answer every failure falls back on must itself work
        render(store.text("holding_answer"), template_context(store))
    except jinja2.TemplateError as exc:
        raise ContentError(ui_path, f"holding_answer: kan ikke vises: {exc}") from exc


def report(store: ContentStore, previous: ContentStore | None = None) -> list[str]:
    """Log what an operator must know about ``store``; returns the ids that changed."""
    before = dict(previous.documents()) if previous is not None else {}
    now = dict(store.documents())
    changed = sorted(set(before) - set(now))  # removed
    for doc_id, doc in now.items():
        old = before.get(doc_id)
        if previous is not None:
            same = (
                old is not None
                and old.content_hash() == doc.content_hash()
                and old.approved_hash == doc.approved_hash
            )
            if same:
                continue
            changed.append(doc_id)
        if doc.is_approved:
            if previous is not None:
                log.info("content published", extra={"doc": doc_id, "version": doc.version})
            continue
        state = "draft" if doc.approved_hash is None else "changed after approval"
        where = {"doc": doc_id, "state": state, "file": str(store.path_of(doc_id))}
        if doc_id == EMAIL_DOCUMENT:
            log.error(
                "e-mail templates not approved; still used for caseworkers' mail", extra=where
            )
        elif doc_id not in _WHOLE:  # those: prepare() logged it, or build() did at start
            log.error(
                "content not approved; the topic is not served (children get the holding "
                "answer) until it is approved with barnebot content approve",
                extra=where,
            )
    return changed


class ContentWatcher:
    """Reload the content folder when it changes or on request (SIGHUP)."""

    def __init__(
        self,
        root: Path,
        current: ContentStore,
        publish: Callable[[ContentStore], Awaitable[None]],
        interval: float = WATCH_INTERVAL,
    ) -> None:
        self.root = root
        self.current = current
        self.publish = publish
        self.interval = interval
        self.wake = asyncio.Event()
        self._seen = fingerprint(root)

    def poll(self, force: bool = False) -> ContentStore | None:
        """A new store to publish, or None (nothing changed, changing right now, or refused)."""
        before = fingerprint(self.root)
        if before == self._seen and not force:
            return None
        try:
            store = prepare(self.root, self.current)
        except ContentError as exc:
            if fingerprint(self.root) != before:
                return None  # still being written: look again at the next tick
            self._seen = before
            log.error(
                "content reload refused; still serving the previous content",
                extra={"file": str(exc.path), "line": exc.line, "problem": exc.message[:300]},
            )
            return None
        if fingerprint(self.root) != before:
            return None  # changed while it was read: load it again at the next tick
        self._seen = before
        previous, self.current = self.current, store
        changed = report(store, previous)
        log.info("content reloaded", extra={"changed": changed})
        return store

    async def run(self, stop: asyncio.Event) -> None:
        """The companion task: poll every ``interval`` seconds, at once when woken."""
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.interval)
            if stop.is_set():
                return
            forced = self.wake.is_set()
            self.wake.clear()
            try:
                store = await asyncio.to_thread(self.poll, forced)
            except Exception as error:  # the bot keeps serving; the next tick tries again
                log.error("content reload failed", extra={"error": type(error).__name__})
                continue
            if store is not None:
                await self.publish(store)
