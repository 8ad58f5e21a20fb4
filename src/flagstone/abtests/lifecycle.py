"""The A/B-test lifecycle on a native snapshot document: create, read, change and move tests
through their states with the APIs' rules enforced (the Confidence A/B-test API's states;
updates only in a draft, as the Experiments API and the Alexa API allow them).

``AbTests`` holds a snapshot document (the JSON-ready ``dict`` a file holds). The document is
validated whole once, at the first change; each operation is then one of the transitions of
:mod:`flagstone.abtests.transitions`, which validates only what it changed and makes a new
document, so a refused change leaves the document exactly as it was. Operations return the
test as JSON (camelCase, as the Confidence A/B-test API's responses show it).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..model.abtests import INSTANCE_PREFIX
from ..model.states import ACTIONS, shape_state, shape_states
from . import transitions
from .document import Change, Document, full_name, unknown_test
from .transitions import new_abtest_id, now_timestamp

__all__ = [
    "INSTANCE_PREFIX",
    "AbTests",
    "get_test",
    "list_in_shape",
    "list_tests",
    "new_abtest_id",
    "now_timestamp",
]

_STATES = tuple(ACTIONS)


class AbTests:
    """The A/B tests of one snapshot document, with the lifecycle's operations.

    ``document`` is copied; read the result from :attr:`document`. ``strict`` is the
    validation mode every change is checked in (see ``flagstone.formats.parse_snapshot``);
    ``id_factory`` makes the ids of tests created without one. The document is validated
    whole at the first change (``ConfigError`` naming every problem it has); every change
    after that validates the test it changed.
    """

    def __init__(
        self,
        document: Mapping[str, Any] | None = None,
        *,
        strict: bool = True,
        id_factory: Callable[[], str] = new_abtest_id,
    ) -> None:
        self._raw: Mapping[str, Any] = copy.deepcopy(dict(document or {}))
        self._parsed: Document | None = None
        self._strict = strict
        self._new_id = id_factory

    @property
    def document(self) -> dict[str, Any]:
        """The snapshot document as it stands after the last successful operation (a copy)."""
        return copy.deepcopy(dict(self._raw))

    # -- reading ----------------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        """The test named ``name`` (``workflows/abtest/instances/<id>`` or just ``<id>``)."""
        return copy.deepcopy(dict(get_test(self._raw, name)))

    def list(
        self,
        *,
        state: str | None = None,
        page_size: int = 50,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """Tests in document order, ``page_size`` at a time: ``{"abtests": [...],
        "nextPageToken": ...}``; an empty token means there is no next page. ``state``
        keeps only tests in that state (``"live"`` or the Confidence API's ``"state:live"``)."""
        page = list_tests(self._raw, state=state, page_size=page_size, page_token=page_token)
        return copy.deepcopy(page)

    def overrides(self, name: str) -> dict[str, str]:
        """The test's treatment overrides: unit → variant."""
        return dict(self.get(name).get("treatmentOverrides") or {})

    # -- creating and changing --------------------------------------------------------------

    def create(self, body: Mapping[str, Any], *, abtest_id: str | None = None) -> dict[str, Any]:
        """Create a draft from a Confidence A/B-test API create body (``displayName``,
        ``flags``, ``abtest.treatments``, ``segment``, ``metrics``, ``stats``, …).

        The id is ``abtest_id``, else the one in the body's ``name``, else a new one.
        Display names are unique among the document's tests, as the APIs' names are. An
        exclusive allocation given as a ``proportion`` gets its ``bucketRanges`` here.
        """
        return self._apply(
            transitions.create(
                self._parsed_document(), body, abtest_id=abtest_id, new_id=self._new_id
            )
        )

    def update(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change a draft: each field given replaces the one the test has (``null`` removes
        it); fields not given stay."""
        return self._apply(transitions.update(self._parsed_document(), name, changes))

    def update_segment(
        self, name: str, segment: Mapping[str, Any], update_mask: str | Sequence[str]
    ) -> dict[str, Any]:
        """The Confidence A/B-test API's ``:updateSegment``: replace the segment's fields named in
        ``update_mask`` (``"targeting"``, ``"allocation"``, or both, comma-separated or as a
        list). A live test takes only a larger allocation, with the same exclusivity tags,
        and no new targeting (units already in the test would leave it)."""
        return self._apply(
            transitions.update_segment(self._parsed_document(), name, segment, update_mask)
        )

    def set_exposure(
        self,
        name: str,
        *,
        proportion: float | str | None = None,
        percentage: float | None = None,
    ) -> dict[str, Any]:
        """Set the share of the targeted units that enter the test: ``proportion`` in
        [0, 1] or ``percentage`` in [0, 100] (Alexa's ``exposurePercentage``). Any value in
        a draft; only a larger one while live, and then every unit already in the test keeps
        its place and its variant."""
        return self._apply(
            transitions.set_exposure(
                self._parsed_document(), name, proportion=proportion, percentage=percentage
            )
        )

    def set_override(self, name: str, unit: str, variant: str | None) -> dict[str, Any]:
        """Serve ``variant`` (a treatment's full or short name) to ``unit`` whatever its
        bucket, in draft (preview) and live; ``None`` removes the unit's override."""
        return self._apply(transitions.set_override(self._parsed_document(), name, unit, variant))

    # -- transitions ------------------------------------------------------------------------

    def enable(self, name: str) -> dict[str, Any]:
        """Serve the draft's treatment overrides (Alexa's CREATED → ENABLED)."""
        return self._apply(transitions.enable(self._parsed_document(), name))

    def launch(self, name: str) -> dict[str, Any]:
        """Draft → live. The test must name an active flag and its variants, and its flag
        must not be in another live test unless the two share an exclusivity tag."""
        return self._apply(transitions.launch(self._parsed_document(), name))

    def end(self, name: str) -> dict[str, Any]:
        """Live → ended: nobody enters or is served any more; ``endTime`` is now."""
        return self._apply(transitions.end(self._parsed_document(), name))

    def archive(self, name: str) -> dict[str, Any]:
        """Any state → archived (a live test stops serving; exclusive buckets are given
        back)."""
        return self._apply(transitions.archive(self._parsed_document(), name))

    def pause(self, name: str) -> dict[str, Any]:
        """Stop intake of a live test: units recorded in its materialization keep their
        variant, no new unit enters (the Experiments API's ``stop``). Needs a
        ``materialization`` and, in the clients, a materialization store."""
        return self._apply(transitions.pause(self._parsed_document(), name))

    def resume(self, name: str) -> dict[str, Any]:
        """Open a paused test's intake again."""
        return self._apply(transitions.resume(self._parsed_document(), name))

    def delete(self, name: str) -> None:
        """Remove a test that is not live (end it first)."""
        self._apply(transitions.delete(self._parsed_document(), name))

    def set_alexa_state(
        self, name: str, target_state: str, *, stopped_reason: str | None = None
    ) -> dict[str, Any]:
        """Alexa's "update A/B test state": ``ENABLED`` (serve overrides), ``RUNNING``
        (launch) or ``STOPPED`` (end), each from the states that allow it (see
        ``flagstone.model.states.ALEXA_TARGETS``)."""
        return self._apply(
            transitions.set_alexa_state(
                self._parsed_document(), name, target_state, stopped_reason=stopped_reason
            )
        )

    # -- machinery --------------------------------------------------------------------------

    def _parsed_document(self) -> Document:
        """The document with its model, validated whole the first time it is asked for."""
        if self._parsed is None:
            self._parsed = Document.parse(self._raw, strict=self._strict)
        return self._parsed

    def _apply(self, change: Change) -> dict[str, Any]:
        """Make the change's document current; the changed test as JSON (a copy)."""
        self._parsed = change.document
        self._raw = change.document.raw
        return copy.deepcopy(dict(change.test)) if change.test is not None else {}


def get_test(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The JSON of the test named ``name`` (``workflows/abtest/instances/<id>`` or just
    ``<id>``) in a snapshot document (not a copy); ``AbTestNotFound`` if there is none."""
    full = full_name(name)
    for instance in _instances(document):
        if instance.get("name") == full:
            return instance
    raise unknown_test(full)


def list_tests(
    document: Mapping[str, Any],
    *,
    state: str | None = None,
    page_size: int = 50,
    page_token: str | None = None,
) -> dict[str, Any]:
    """A page of the tests of a snapshot document (not copies), as :meth:`AbTests.list`
    gives it; ``ValueError`` for an unknown state, a page size outside 1 to 1000 or a token
    this listing did not give out."""
    if state is not None and state.startswith("state:"):
        state = state.removeprefix("state:")
    tests = list(_instances(document))
    states = [test.get("state", "draft") for test in tests]
    return _page(tests, states, _STATES, state, page_size, page_token)


def list_in_shape(
    document: Document,
    *,
    state: str | None = None,
    page_size: int = 50,
    page_token: str | None = None,
) -> dict[str, Any]:
    """A page of the tests of ``document`` (their JSON, not copies) with ``state`` given and
    matched in the names of the shape the document is managed in (``document.shape``: the
    Alexa states, the Experiments-API statuses, or the native states); ``ValueError`` as for
    :func:`list_tests`, an unknown state naming the shape's."""
    tests = list(_instances(document.raw))
    states = [shape_state(instance, document.shape) for instance in document.model.abtests]
    return _page(tests, states, shape_states(document.shape), state, page_size, page_token)


def _page(
    tests: Sequence[Mapping[str, Any]],
    states: Sequence[str],
    known: Sequence[str],
    state: str | None,
    page_size: int,
    page_token: str | None,
) -> dict[str, Any]:
    """The page of ``tests`` (whose states are ``states``) in ``state``, among the ``known``
    states."""
    if state is not None and state not in known:
        raise ValueError(f"unknown state {state!r}; one of {', '.join(known)}")
    if not 1 <= page_size <= 1000:
        raise ValueError("page_size is between 1 and 1000")
    matching = [
        test for test, test_state in zip(tests, states, strict=True) if state in (None, test_state)
    ]
    start = _read_token(page_token, state) if page_token else 0
    page = matching[start : start + page_size]
    end = start + len(page)
    token = _make_token(end, state) if end < len(matching) else ""
    return {"abtests": page, "nextPageToken": token}


def _instances(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    abtests = document.get("abtests") or []
    return iter(abtests if isinstance(abtests, list) else [])


def _make_token(offset: int, state: str | None) -> str:
    raw = json.dumps({"offset": offset, "state": state}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, state: str | None) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        offset = decoded["offset"]
        same_filter = decoded["state"] == state
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"page token {token!r} is not one this list gave out") from None
    if not isinstance(offset, int) or offset < 0 or not same_filter:
        raise ValueError(f"page token {token!r} belongs to another listing")
    return offset
