"""Compile a validated snapshot, once, into an immutable evaluation plan for one client, and
resolve flags from it.

``compile`` builds the ``Plan`` (``flag``: the compiled types) from a parsed snapshot:
targeting into predicate closures (``targeting``), segments and allocations (``segments``),
rules and assignments (``rules``); ``resolver`` is the rule loop, and ``fastpath`` its unrolled
form for the commonest flag. Nothing is parsed per call.
"""

from .compile import compile_plan
from .flag import FlagPlan, PendingPlan, Plan
from .resolver import resolve_flag

__all__ = ["FlagPlan", "PendingPlan", "Plan", "compile_plan", "resolve_flag"]
