"""Forwarding: children's messages from the outbox table to caseworkers, by SMTP.

``run_worker`` runs inside ``barnebot run``; ``barnebot forward`` runs it on its own;
``barnebot outbox status`` is the operator's view. See ``outbox.py`` for the state machine.
"""

from bot.forwarding.worker import OutboxWorker, Summary, run_once, run_worker

__all__ = ["OutboxWorker", "Summary", "run_once", "run_worker"]
