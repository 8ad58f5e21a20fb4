"""Changes to the flags of an authoring document, as ``python -m flagstone flag`` makes them.

Each function takes a decoded authoring document, leaves it as it was, and returns the new
document (a copy in which only the flag changed differs); validating the result is the
caller's (``python -m flagstone flag`` does it under the file's lock, see
:func:`flagstone.abtests.storage.patch_document`). A flag or rule that is not there raises
:class:`FlagNotFound` (a ``LookupError``); a document in another format, or a change that
cannot be made as asked, ``ConfigError``.

``rollout`` sets one variant's share of a split rule (by default the flag's unnamed split
rule, which buckets with the flag's name as salt, added at the end of the rules when there is
none). A share that would take the split past 100 % is taken from the other variants, the
last first. In a split the variants' buckets lie in the order written, so growing the first
or the last variant's share keeps every unit it had (which a rollout of one variant, or of
two, always is).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError, FlagNotFound, Problem
from ...model.paths import key_path
from .models import FORMAT

__all__ = [
    "FlagNotFound",
    "add_rule",
    "create_flag",
    "delete_flag",
    "find_rule",
    "flag_of",
    "remove_rule",
    "require_authoring",
    "rollout",
    "set_default",
    "set_enabled",
    "set_value",
]

Document = dict[str, Any]


def flag_of(document: Mapping[str, Any], flag: str) -> dict[str, Any]:
    """The JSON of ``flag`` in an authoring document; :class:`FlagNotFound` without it,
    ``ConfigError`` for a document in another format."""
    require_authoring(document)
    flags = document.get("flags")
    if not isinstance(flags, Mapping) or not isinstance(flags.get(flag), Mapping):
        raise FlagNotFound(f"no flag {flag!r}")
    found: dict[str, Any] = flags[flag]
    return found


def create_flag(
    document: Mapping[str, Any],
    flag: str,
    variants: Mapping[str, Any],
    *,
    default: str | None = None,
    description: str | None = None,
) -> Document:
    """A new flag with ``variants`` (name → value), a ``default`` and a ``description``."""
    require_authoring(document)
    new = copy.deepcopy(dict(document))
    flags = new.setdefault("flags", {})
    if not isinstance(flags, dict):
        raise ConfigError([Problem("$.flags", "expected an object keyed by name")])
    if flag in flags:
        raise ConfigError([Problem(key_path("$.flags", flag), f"flag {flag!r} exists already")])
    body: dict[str, Any] = {}
    if description is not None:
        body["description"] = description
    body["variants"] = dict(variants)
    if default is not None:
        body["default"] = default
    flags[flag] = body
    return new


def delete_flag(document: Mapping[str, Any], flag: str) -> Document:
    """The document without ``flag``."""
    new, _ = _with_flag(document, flag)
    del new["flags"][flag]
    return new


def set_value(document: Mapping[str, Any], flag: str, variant: str, value: Any) -> Document:
    """``variant`` of ``flag`` valued ``value`` (a variant that is not there is added)."""
    new, body = _with_flag(document, flag)
    variants = body.setdefault("variants", {})
    if not isinstance(variants, dict):
        raise ConfigError([Problem(f"{_path(flag)}.variants", "expected an object")])
    variants[variant] = value
    return new


def set_default(document: Mapping[str, Any], flag: str, variant: str | None) -> Document:
    """``flag`` serving ``variant`` when no rule matches (``None``: no default)."""
    new, body = _with_flag(document, flag)
    if variant is None:
        body.pop("default", None)
    else:
        body["default"] = variant
    return new


def set_enabled(document: Mapping[str, Any], flag: str, enabled: bool) -> Document:
    """``flag`` killed (``enabled`` false: archived, every evaluation gets the caller's
    default) or revived (the ``enabled`` key removed: its rules are as they were)."""
    new, body = _with_flag(document, flag)
    if enabled:
        body.pop("enabled", None)
    else:
        _put_after(body, "enabled", False, after=("description",))
    return new


def rollout(
    document: Mapping[str, Any],
    flag: str,
    variant: str,
    percent: float,
    *,
    rule: str | None = None,
) -> Document:
    """``variant`` served to ``percent`` % of the units of a split rule of ``flag``: the rule
    named (or at index) ``rule``, by default the flag's unnamed split rule (added last when
    there is none). 0 takes the variant out of the split."""
    if not 0 <= percent <= 100:
        raise ConfigError([Problem(f"{_path(flag)}.rules", f"{percent:g} is not a percentage")])
    new, body = _with_flag(document, flag)
    rules = body.setdefault("rules", [])
    if not isinstance(rules, list):
        raise ConfigError([Problem(f"{_path(flag)}.rules", "expected a list")])
    if rule is not None:
        target = rules[find_rule(body, flag, rule)]
    else:
        target = next((r for r in rules if _is_flag_split(r)), None)
        if target is None:
            target = {"serve": {}}
            rules.append(target)
    serve = target.get("serve")
    if isinstance(serve, str):
        serve = {serve: 100}
    elif not isinstance(serve, dict):
        serve = {}
    serve = dict(serve)
    share = _number(percent)
    if share:
        serve[variant] = share
    else:
        serve.pop(variant, None)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in serve.values())
    excess = sum(serve.values()) - 100 if numbers else 0  # else: validation says what is wrong
    for other in reversed([name for name in serve if name != variant]):
        if excess <= 1e-9:
            break
        taken = min(serve[other], excess)
        serve[other] = _number(serve[other] - taken)
        excess -= taken
        if not serve[other]:
            del serve[other]
    target["serve"] = serve
    return new


def add_rule(
    document: Mapping[str, Any], flag: str, rule: Mapping[str, Any], *, position: int | None = None
) -> Document:
    """``flag`` with ``rule`` (a rule's JSON) inserted at ``position`` (default: last)."""
    new, body = _with_flag(document, flag)
    rules = body.setdefault("rules", [])
    if not isinstance(rules, list):
        raise ConfigError([Problem(f"{_path(flag)}.rules", "expected a list")])
    if position is None:
        rules.append(dict(rule))
    else:
        rules.insert(position, dict(rule))
    return new


def remove_rule(document: Mapping[str, Any], flag: str, rule: str) -> Document:
    """``flag`` without the rule named (or at index) ``rule``."""
    new, body = _with_flag(document, flag)
    index = find_rule(body, flag, rule)
    del body["rules"][index]
    return new


def find_rule(body: Mapping[str, Any], flag: str, rule: str) -> int:
    """The index of the rule of a flag's JSON named ``rule`` (or, for an unnamed rule, at
    that index); :class:`FlagNotFound` when there is none."""
    rules = body.get("rules")
    rules = rules if isinstance(rules, list) else []
    for index, item in enumerate(rules):
        if isinstance(item, Mapping) and item.get("name") == rule:
            return index
    if rule.isdigit() and int(rule) < len(rules):
        item = rules[int(rule)]
        if isinstance(item, Mapping) and item.get("name") is None:
            return int(rule)
    raise FlagNotFound(f"flag {flag!r} has no rule {rule!r}")


def require_authoring(document: Mapping[str, Any]) -> None:
    """``ConfigError`` (at ``$.format``) unless ``document`` is an authoring document."""
    if document.get("format") != FORMAT:
        raise ConfigError(
            [
                Problem(
                    "$.format",
                    f"not an authoring document (format {FORMAT!r}); python -m flagstone "
                    "convert writes one from a native snapshot",
                )
            ]
        )


def _with_flag(document: Mapping[str, Any], flag: str) -> tuple[Document, dict[str, Any]]:
    flag_of(document, flag)
    new = dict(document)
    new["flags"] = dict(document["flags"])
    body: dict[str, Any] = copy.deepcopy(dict(document["flags"][flag]))
    new["flags"][flag] = body
    return new, body


def _is_flag_split(rule: Any) -> bool:
    """The flag's unnamed split rule: it buckets with the flag's name."""
    return (
        isinstance(rule, Mapping)
        and isinstance(rule.get("serve"), Mapping)
        and rule.get("name") is None
        and rule.get("salt") is None
    )


def _path(flag: str) -> str:
    return key_path("$.flags", flag)


def _number(value: float) -> int | float:
    rounded = round(value, 10)
    return int(rounded) if rounded == int(rounded) else rounded


def _put_after(body: dict[str, Any], key: str, value: Any, *, after: tuple[str, ...]) -> None:
    """Set ``body[key]``, placing a new key after the last of ``after`` present (else
    first), so a hand-written flag reads in its usual order."""
    if key in body:
        body[key] = value
        return
    items = list(body.items())
    position = max((i + 1 for i, (k, _) in enumerate(items) if k in after), default=0)
    items.insert(position, (key, value))
    body.clear()
    body.update(items)
