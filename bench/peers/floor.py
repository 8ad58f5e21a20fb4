"""The floor: a minimal pure-Python resolver of the harness's flags, the least work their
semantics need (a dict lookup, the country comparison when the flag is targeted, one
128-bit MurmurHash3 bucket of ``"<flag>|<unit>"`` over 10 000 and a range scan), returning
the variant name. Every SDK's time is divided by the floor's, timed in the same round, so
the ratios hold across machines and loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import configs
import mmh3

__all__ = ["Floor"]

MASK = (1 << 64) - 1
RANGES = ((0, 5000, "control"), (5000, 10000, "treatment"))


class Floor:
    """The floor for one scenario (``loop``/``loop_raw`` as ``sdks.Target`` has them)."""

    def __init__(self, checkout_targeted: bool, others: int) -> None:
        keys = [configs.CHECKOUT, *configs.other_flag_keys(others)]
        self.table = {key: (key + "|", RANGES) for key in keys}
        self.resolve = self._targeted if checkout_targeted else self._untargeted

    def contexts(self, users: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        return [{"targeting_key": uid, **attributes} for uid, attributes in users]

    def _untargeted(self, flag: str, context: dict[str, Any]) -> str | None:
        salt, ranges = self.table[flag]
        bucket = (
            (mmh3.hash128(salt + context["targeting_key"], 0, True, False) & MASK) >> 4
        ) % 10000
        for lower, upper, variant in ranges:
            if lower <= bucket < upper:
                return variant
        return None

    def _targeted(self, flag: str, context: dict[str, Any]) -> str | None:
        salt, ranges = self.table[flag]
        if context.get("country") != configs.COUNTRY:
            return None
        bucket = (
            (mmh3.hash128(salt + context["targeting_key"], 0, True, False) & MASK) >> 4
        ) % 10000
        for lower, upper, variant in ranges:
            if lower <= bucket < upper:
                return variant
        return None

    def loop(self, flag: str, contexts: list[Any]) -> None:
        resolve: Callable[[str, dict[str, Any]], Any] = self.resolve
        for context in contexts:
            resolve(flag, context)

    def loop_raw(self, flag: str, users: list[tuple[str, dict[str, Any]]]) -> None:
        """The floor needs no context of its own: it reads the unit and the attributes."""
        table = self.table
        hash128 = mmh3.hash128
        for uid, _attributes in users:
            salt, ranges = table[flag]
            bucket = ((hash128(salt + uid, 0, True, False) & MASK) >> 4) % 10000
            for lower, upper, _variant in ranges:
                if lower <= bucket < upper:
                    break
