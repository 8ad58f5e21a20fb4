"""Readers that turn a JSON document of a known shape into a validated snapshot model.

Only the native shape (Confidence's resolver state plus ``abtests``) exists so far; a reader
never guesses a shape.
"""

from .native import ParsedSnapshot, parse_snapshot, snapshot_version

__all__ = ["ParsedSnapshot", "parse_snapshot", "snapshot_version"]
