"""An authoring document as a validated snapshot: compiled, then validated as the native
snapshot it stands for, every problem reported at its path in the authoring document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ...errors import ConfigError, Problem
from ...model.limits import MAX_NESTING, nests_deeper_than
from ...model.snapshot import SNAPSHOT
from ...model.validation import snapshot_findings
from ..native import (
    ParsedSnapshot,
    _log_warnings,
    parse_snapshot,
    snapshot_version,
    translate_validation_error,
)
from .compile import compile_document

__all__ = ["parse"]


def parse(
    document: Mapping[str, Any], raw: bytes, *, strict: bool = True, source: str | None = None
) -> ParsedSnapshot:
    """Parse the decoded authoring ``document`` whose bytes are ``raw`` (which its version is
    the digest of, when it has no ``version``) into a validated snapshot; ``ConfigError``
    naming every problem with its authoring path. ``strict`` as for the native format."""
    if nests_deeper_than(document, MAX_NESTING):  # text was held to it by the decoder
        message = f"the document nests more than {MAX_NESTING} levels deep"
        raise ConfigError([Problem("$", message)], source=source)
    compiled = compile_document(document)
    problems = list(compiled.problems)
    try:
        model = SNAPSHOT.validate_python(compiled.native)
    except ValidationError as error:
        # only the parts passed as they are (clients, abtests, metrics) can get here
        if problems:
            problems += compiled.translate(translate_validation_error(error))
            raise ConfigError(_unique(problems), source=source) from None
        try:
            parse_snapshot(compiled.native, strict=strict)
        except ConfigError as native:
            raise ConfigError(_unique(compiled.translate(native.problems)), source=source) from None
        raise  # pragma: no cover - parse_snapshot refuses what the model refused
    # nesting: the authoring document was held to the limit above; its values sit deeper
    # in the native one, which is no reason to refuse them
    findings = snapshot_findings(model, strict=strict, known_names=compiled.broken, nesting=False)
    problems += compiled.translate(findings.problems)
    if problems:
        raise ConfigError(_unique(problems), source=source)
    warnings = compiled.translate(findings.warnings)
    if warnings:
        _log_warnings(warnings, source)
    return ParsedSnapshot(model, snapshot_version(model, raw), tuple(warnings))


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
