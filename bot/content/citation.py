"""The source line under a rights answer: which § it rests on, and where to read it."""

from __future__ import annotations

from bot.content.schema import Topic


def citation(topic: Topic, prefix: str) -> str:
    """The § labels of a topic's legal sources and one link, short enough for a phone screen.

    Sources without a § (an authority's guidance page) are cited only when there is no §.
    Every source, with its fact ids and status, stays in the YAML for editors.
    """
    if not topic.sources:
        return ""
    legal = [s for s in topic.sources if "§" in s.paragraph] or topic.sources[:1]
    labels = dict.fromkeys(s.label for s in legal)
    return f"{prefix} {' · '.join(labels)}\n{legal[0].url}"
