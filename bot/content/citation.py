"""The source line under a rights answer: which § it rests on, and where to read it."""

from __future__ import annotations

from bot.content.schema import Topic


def citation(topic: Topic, prefix: str) -> str:
    """The § labels of a topic's legal sources and one link, short enough for a phone screen.

    Sources without a § (an authority's guidance page) are cited only when there is no §.
    A source marked ``status: unverified`` is never cited: the line tells a child what the
    answer rests on, and an unverified source is kept in the YAML for editors only.
    Every source, with its fact ids and status, stays in the YAML for editors.
    """
    citable = [s for s in topic.sources if s.status != "unverified"]
    if not citable:
        return ""
    legal = [s for s in citable if "§" in s.paragraph] or citable[:1]
    by_law: dict[str, list[str]] = {}
    for source in legal:
        paragraphs = by_law.setdefault(source.law, [])
        if source.paragraph not in paragraphs:
            paragraphs.append(source.paragraph)
    labels = [f"{law} {', '.join(paragraphs)}" for law, paragraphs in by_law.items()]
    return f"{prefix} {' · '.join(labels)}\n{legal[0].url}"
