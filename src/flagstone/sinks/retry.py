"""How often and how patiently a failed delivery is tried again."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, up to ``attempts`` tries in all.

    The n-th wait (n = 0, 1, …) is ``min(max_backoff, initial_backoff * multiplier**n)``
    shortened by a random fraction of up to ``jitter`` (0: no jitter, 1: anywhere between
    zero and the full wait), so that many processes failing together do not retry together.
    """

    attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoffs must be >= 0")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``retry`` (0 for the first retry)."""
        try:
            ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier**retry)
        except OverflowError:
            ceiling = self.max_backoff
        if not self.jitter:
            return ceiling
        draw = (rng or random).random()
        return ceiling * (1.0 - self.jitter * draw)

    def backoffs(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits between the ``attempts`` tries (``attempts - 1`` of them)."""
        for retry in range(self.attempts - 1):
            yield self.backoff(retry, rng)
