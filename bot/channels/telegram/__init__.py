"""The Telegram channel (python-telegram-bot 22): translates updates ⇄ the core, nothing more.

Modules, one concern each:

``translate``  Telegram update → ``UserMessage`` (pure)
``formatting`` ``Reply`` → HTML chunks under Telegram's limit + inline keyboard (pure)
``flood``      per-chat incoming flood control that never loses a child's last message
``texts``      the channel's own child-facing texts and command menu, from ``content/ui.yml``
``send``       sending with retries, flood-control waits and the "typing…" action
``handlers``   the PTB handlers and the global error handler
``updates``    polling that skips an update PTB cannot read instead of stalling on it
``health``     the health endpoint
``app``        ``barnebot run``: building the ``Application``, polling or webhook, shutdown
"""
