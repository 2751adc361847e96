"""Exponential backoff with jitter for failed deliveries.

Our own ten lines rather than tenacity: tenacity drives a retry loop inside one process, but
an outbox message's retry state (attempts, next_attempt_at) lives in the database, so that it
survives restarts and is shared by every worker. All we need is the delay.
"""

from __future__ import annotations

import random


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based).

    ``base·2^(attempt-1)``, capped at ``cap``, then "equal jitter": a random point in the upper
    half, so workers that failed together do not come back together, and never sooner than
    half the nominal delay.
    """
    nominal = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 62))
    return nominal / 2 + (rng or random).uniform(0, nominal / 2)
