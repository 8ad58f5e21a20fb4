"""Why a flag resolved the way it did: Confidence's resolve reasons and OpenFeature-style
error codes.

``Reason`` values are the strings Spotify Confidence uses (``RESOLVE_REASON_MATCH`` …) plus
flagstone's own ``RESOLVE_REASON_OVERRIDE``; ``ErrorCode`` says, next to the reason, what went
wrong when a resolution carries no usable variant because of an error (``None`` on success).
Both are ``str`` enums, so they compare equal to their string values and serialise as such.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["ErrorCode", "Reason"]


class Reason(str, Enum):
    """Why a flag resolved as it did (Confidence's ``ResolveReason`` plus ``OVERRIDE``)."""

    MATCH = "RESOLVE_REASON_MATCH"
    """A rule matched: the resolution carries its variant, or none for a client default."""
    NO_SEGMENT_MATCH = "RESOLVE_REASON_NO_SEGMENT_MATCH"
    """No rule matched the context; use the application's default."""
    FLAG_ARCHIVED = "RESOLVE_REASON_FLAG_ARCHIVED"
    """The flag exists but is archived."""
    TARGETING_KEY_ERROR = "RESOLVE_REASON_TARGETING_KEY_ERROR"
    """The targeting key in the context is not a string or whole number, or is too long."""
    ERROR = "RESOLVE_REASON_ERROR"
    """Resolution failed; ``Resolution.error`` says why."""
    UNRECOGNIZED_TARGETING_RULE = "RESOLVE_REASON_UNRECOGNIZED_TARGETING_RULE"
    """Kept for parity with Confidence. flagstone rejects such rules when validating
    (strict mode) or, like Confidence's general resolver, skips the rule (lenient mode)."""
    MATERIALIZATION_NOT_SUPPORTED = "RESOLVE_REASON_MATERIALIZATION_NOT_SUPPORTED"
    """A rule needs sticky assignments (materializations) but the client has no store."""
    TYPE_MISMATCH = "RESOLVE_REASON_TYPE_MISMATCH"
    """``get_value`` found a value of another type than the default's."""
    FLAG_NOT_FOUND = "RESOLVE_REASON_FLAG_NOT_FOUND"
    """No such flag, or the client may not see it."""
    OVERRIDE = "RESOLVE_REASON_OVERRIDE"
    """A treatment override (A/B-test ``treatmentOverrides`` or ``flagstone.testing``)."""

    def __str__(self) -> str:
        return self.value


class ErrorCode(str, Enum):
    """What went wrong, in the OpenFeature spirit; ``Resolution.error`` is ``None`` on success."""

    NOT_READY = "NOT_READY"
    """A remote client has not received its first snapshot yet."""
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    TARGETING_KEY_ERROR = "TARGETING_KEY_ERROR"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    """The evaluation context is not a mapping."""
    GENERAL = "GENERAL"

    def __str__(self) -> str:
        return self.value
