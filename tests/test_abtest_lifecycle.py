"""The A/B-test lifecycle (``flagstone.AbTests``) as seed 000 describes it, with the rules of
seeds 001 and 002: create, get, list, update, update_segment, launch, end, archive, delete,
enable, pause, resume, treatment overrides and exposure.

The state machine is checked pair by pair: every (state, action) is legal or illegal
according to ``LEGAL`` below, a table written from the seeds and the lifecycle's docstrings.
Timestamps come from the clock, so freezegun fixes them. The builders here (``snapshot``,
``body``, ``in_state``) are shared with the other ``test_abtest_*`` modules.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

import flagstone
from flagstone import AbTestNotFound, AbTests, ConfigError, LifecycleError, Reason

FLAG = "flags/checkout"
PREFIX = "workflows/abtest/instances/"
NAME = f"{PREFIX}checkout"
T0 = "2025-11-01T10:00:00Z"
"""When the test under test is created."""
T1 = "2025-11-02T09:30:00Z"
"""When it is moved into the state a test needs."""
T2 = "2025-11-03T17:45:00Z"
"""When the action under test happens."""

SWEDEN = {
    "criteria": {
        "country": {
            "attribute": {"attributeName": "country", "eqRule": {"value": {"stringValue": "SE"}}}
        }
    },
    "expression": {"and": {"operands": [{"ref": "country"}]}},
}
"""Seed 000's targeting example: country is SE."""


# -- builders (shared with the other test_abtest_* modules) ------------------------------------


def flag(name: str = FLAG, *, state: str = "ACTIVE") -> dict[str, Any]:
    """A flag with variants ``control`` and ``treatment`` and no rules of its own, so units
    the test does not serve get NO_SEGMENT_MATCH."""
    return {
        "name": name,
        "state": state,
        "variants": [
            {"name": "control", "value": {"treatment": "C"}},
            {"name": "treatment", "value": {"treatment": "T1"}},
        ],
        "rules": [],
    }


def snapshot(*flags: dict[str, Any]) -> dict[str, Any]:
    """A snapshot document of account ``acme`` with ``flags`` (``flags/checkout`` if none)."""
    return {
        "account": {"name": "accounts/acme"},
        "flags": list(flags) or [flag()],
        "segments": [],
    }


def treatments(flag_name: str = FLAG) -> list[dict[str, Any]]:
    """Seed 000's treatments: control and treatment, 5000 basis points each."""
    return [
        {"variant": f"{flag_name}/variants/control", "weight": "5000"},
        {"variant": f"{flag_name}/variants/treatment", "weight": "5000"},
    ]


def body(
    display_name: str = "Checkout flow", *, flag_name: str = FLAG, **fields: Any
) -> dict[str, Any]:
    """A seed-000 create body for a 50/50 test of ``flag_name``; ``fields`` are added."""
    return {
        "displayName": display_name,
        "flags": {"targetingKeySelector": "targeting_key"},
        "stats": {"testHorizonStrategy": "SEQUENTIAL"},
        "abtest": {"treatments": treatments(flag_name)},
        "metrics": {"entity": "entities/user", "metrics": []},
        **fields,
    }


def serve(tests: AbTests, unit: str, flag_name: str = FLAG, **context: Any) -> flagstone.Resolution:
    """How a client built from the lifecycle's current document resolves ``flag_name``."""
    client = flagstone.Client.from_dict(tests.document)
    try:
        return client.evaluate(flag_name, {"targeting_key": unit, **context})
    finally:
        client.close()


def problem_paths(error: ConfigError) -> list[str]:
    return [problem.path for problem in error.problems]


# -- the state machine table ---------------------------------------------------------------

STATES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "draft": ({}, ()),
    "draft-unpreviewed": ({"preview": False}, ()),
    "live": ({"materialization": "materializations/checkout"}, ("launch",)),
    "live-without-materialization": ({}, ("launch",)),
    "live-paused": ({"materialization": "materializations/checkout"}, ("launch", "pause")),
    "ended": ({}, ("launch", "end")),
    "archived": ({}, ("launch", "end", "archive")),
}
"""Each state a test can be in: the create body's extra fields and the actions that lead
there. ``draft`` serves its overrides (preview, the native default), ``draft-unpreviewed``
does not (Alexa's CREATED); ``live`` has a materialization, so its intake can pause."""

NATIVE: dict[str, str] = {
    "draft": "draft",
    "draft-unpreviewed": "draft",
    "live": "live",
    "live-without-materialization": "live",
    "live-paused": "live",
    "ended": "ended",
    "archived": "archived",
}
"""The seed-000 state name of each state above."""

ACTIONS: dict[str, Callable[[AbTests, str], Any]] = {
    "update": lambda tests, name: tests.update(name, {"description": "changed"}),
    "update-segment": lambda tests, name: tests.update_segment(
        name, {"allocation": {"proportion": 0.6}}, "allocation"
    ),
    "enable": lambda tests, name: tests.enable(name),
    "launch": lambda tests, name: tests.launch(name),
    "override": lambda tests, name: tests.set_override(name, "qa-1", "treatment"),
    "exposure": lambda tests, name: tests.set_exposure(name, proportion=0.7),
    "pause": lambda tests, name: tests.pause(name),
    "resume": lambda tests, name: tests.resume(name),
    "end": lambda tests, name: tests.end(name),
    "archive": lambda tests, name: tests.archive(name),
    "delete": lambda tests, name: tests.delete(name),
}
"""One call of each action, each valid in content, so only the state decides. Tests are
created with an allocation of 0.5: the segment update (0.6) and the exposure (0.7) grow it."""

LEGAL: dict[str, set[str]] = {
    # seed 000: a draft takes targeting/allocation and launches; seeds 001/002: only a
    # draft takes updates; seed 002: exposure any value before running, overrides set before
    # running; an ENABLED (previewing) draft cannot be enabled again; drafts can be deleted.
    "draft": {"update", "update-segment", "launch", "override", "exposure", "archive", "delete"},
    "draft-unpreviewed": {
        "update",
        "update-segment",
        "enable",
        "launch",
        "override",
        "exposure",
        "archive",
        "delete",
    },
    # a live test grows its allocation, keeps taking overrides, ends or is archived; never
    # updated, never deleted; its intake pauses only with a materialization (seed 001 stop).
    "live": {"update-segment", "override", "exposure", "pause", "end", "archive"},
    "live-without-materialization": {"update-segment", "override", "exposure", "end", "archive"},
    # paused intake: no allocation change (no unit may enter), resume instead of pause.
    "live-paused": {"override", "resume", "end", "archive"},
    "ended": {"archive", "delete"},
    "archived": {"delete"},
}
"""What each state allows (the issue: launch draft → live, end live → ended, archive any
state but archived, delete anything not live)."""

PAIRS = [(state, action) for state in STATES for action in ACTIONS]
LEGAL_PAIRS = [(state, action) for state, action in PAIRS if action in LEGAL[state]]
ILLEGAL_PAIRS = [(state, action) for state, action in PAIRS if action not in LEGAL[state]]


def in_state(state: str, *, document: dict[str, Any] | None = None) -> tuple[AbTests, str]:
    """A lifecycle holding one test, ``NAME``, created at T0 with an allocation of 0.5 and
    brought into ``state`` at T1."""
    extra, steps = STATES[state]
    with freeze_time(T0):
        tests = AbTests(document or snapshot())
        tests.create(
            body(segment={"allocation": {"proportion": 0.5}}, **extra), abtest_id="checkout"
        )
    with freeze_time(T1):
        for step in steps:
            ACTIONS[step](tests, NAME)
    return tests, NAME


def states_allowing(action: str) -> list[str]:
    return [state for state in STATES if action in LEGAL[state]]


def test_the_table_covers_every_action_of_every_state() -> None:
    assert set(LEGAL) == set(STATES)
    assert all(allowed <= set(ACTIONS) for allowed in LEGAL.values())


@pytest.mark.parametrize("state", STATES)
def test_each_state_is_reachable_through_the_lifecycle(state: str) -> None:
    tests, name = in_state(state)
    instance = tests.get(name)
    assert instance["state"] == NATIVE[state]
    assert instance.get("intake", "open") == ("paused" if state == "live-paused" else "open")
    assert instance.get("preview", True) is (state != "draft-unpreviewed")


# -- legal and illegal transitions ------------------------------------------------------------


@pytest.mark.parametrize(("state", "action"), [p for p in LEGAL_PAIRS if p[1] != "delete"])
def test_a_legal_action_stamps_update_time_from_the_clock(state: str, action: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        ACTIONS[action](tests, name)
    assert tests.get(name)["updateTime"] == T2


@pytest.mark.parametrize(("state", "action"), [p for p in LEGAL_PAIRS if p[1] != "delete"])
def test_a_legal_action_returns_the_test_as_it_now_stands(state: str, action: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        returned = ACTIONS[action](tests, name)
    assert returned == tests.get(name)


@pytest.mark.parametrize(("state", "action"), [p for p in LEGAL_PAIRS if p[1] != "delete"])
def test_a_legal_action_keeps_the_create_time(state: str, action: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        ACTIONS[action](tests, name)
    assert tests.get(name)["createTime"] == T0


@pytest.mark.parametrize(("state", "action"), ILLEGAL_PAIRS)
def test_an_illegal_action_raises_a_lifecycle_error_with_the_state_and_allowed_actions(
    state: str, action: str
) -> None:
    tests, name = in_state(state)
    with freeze_time(T2), pytest.raises(LifecycleError) as caught:
        ACTIONS[action](tests, name)
    assert caught.value.state == NATIVE[state]
    assert set(caught.value.allowed) == LEGAL[state]


@pytest.mark.parametrize(("state", "action"), ILLEGAL_PAIRS)
def test_an_illegal_action_message_names_the_state_and_every_allowed_action(
    state: str, action: str
) -> None:
    tests, name = in_state(state)
    with freeze_time(T2), pytest.raises(LifecycleError) as caught:
        ACTIONS[action](tests, name)
    message = str(caught.value)
    assert NATIVE[state] in message
    assert action in message
    for allowed in LEGAL[state]:
        assert allowed in message, allowed


@pytest.mark.parametrize(("state", "action"), ILLEGAL_PAIRS)
def test_an_illegal_action_leaves_the_document_unchanged(state: str, action: str) -> None:
    tests, name = in_state(state)
    before = tests.document
    with freeze_time(T2), pytest.raises(LifecycleError):
        ACTIONS[action](tests, name)
    assert tests.document == before


@pytest.mark.parametrize("state", states_allowing("launch"))
def test_launch_makes_a_draft_live_from_now(state: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        tests.launch(name)
    instance = tests.get(name)
    assert instance["state"] == "live"
    assert instance["launchTime"] == T2


@pytest.mark.parametrize("state", states_allowing("end"))
def test_end_ends_a_live_test_now(state: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        tests.end(name)
    instance = tests.get(name)
    assert instance["state"] == "ended"
    assert instance["endTime"] == T2


@pytest.mark.parametrize("state", states_allowing("end"))
def test_end_keeps_the_launch_time(state: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        tests.end(name)
    assert tests.get(name)["launchTime"] == T1


@pytest.mark.parametrize("state", states_allowing("archive"))
def test_archive_archives(state: str) -> None:
    tests, name = in_state(state)
    with freeze_time(T2):
        tests.archive(name)
    assert tests.get(name)["state"] == "archived"


@pytest.mark.parametrize("state", states_allowing("delete"))
def test_delete_removes_the_test(state: str) -> None:
    tests, name = in_state(state)
    tests.delete(name)
    with pytest.raises(AbTestNotFound):
        tests.get(name)
    assert tests.document.get("abtests") == []


@pytest.mark.parametrize("state", states_allowing("enable"))
def test_enable_turns_the_preview_of_overrides_on(state: str) -> None:
    tests, name = in_state(state)
    tests.enable(name)
    instance = tests.get(name)
    assert instance["state"] == "draft"
    assert instance["preview"] is True


@pytest.mark.parametrize("state", states_allowing("pause"))
def test_pause_pauses_intake_and_keeps_the_test_live(state: str) -> None:
    tests, name = in_state(state)
    tests.pause(name)
    instance = tests.get(name)
    assert instance["state"] == "live"
    assert instance["intake"] == "paused"


@pytest.mark.parametrize("state", states_allowing("resume"))
def test_resume_opens_intake_again(state: str) -> None:
    tests, name = in_state(state)
    tests.resume(name)
    instance = tests.get(name)
    assert instance["state"] == "live"
    assert instance.get("intake", "open") == "open"


@pytest.mark.parametrize("action", ["end", "archive"])
def test_ending_or_archiving_a_paused_test_leaves_no_paused_intake(action: str) -> None:
    tests, name = in_state("live-paused")
    ACTIONS[action](tests, name)
    assert tests.get(name).get("intake", "open") == "open"


def test_pause_without_a_materialization_says_it_needs_one() -> None:
    tests, name = in_state("live-without-materialization")
    with pytest.raises(LifecycleError, match="materialization"):
        tests.pause(name)


def test_an_action_on_an_unknown_test_is_not_found() -> None:
    tests, _ = in_state("draft")
    with pytest.raises(AbTestNotFound):
        tests.launch("nosuchtest")


# -- create ---------------------------------------------------------------------------------


def create_one(**fields: Any) -> tuple[AbTests, dict[str, Any]]:
    tests = AbTests(snapshot())
    with freeze_time(T0):
        return tests, tests.create(body(**fields))


def test_create_makes_a_draft() -> None:
    _, created = create_one()
    assert created["state"] == "draft"


def test_create_stamps_create_and_update_time_with_the_clock() -> None:
    tests = AbTests(snapshot())
    with freeze_time("2025-11-01T10:00:00Z"):
        created = tests.create(body())
    assert created["createTime"] == "2025-11-01T10:00:00Z"
    assert created["updateTime"] == "2025-11-01T10:00:00Z"


def test_create_keeps_the_body() -> None:
    _, created = create_one()
    for field, value in body().items():
        assert created[field] == value, field


def test_create_stores_what_it_returns() -> None:
    tests, created = create_one()
    assert tests.get(created["name"]) == created
    assert tests.document["abtests"] == [created]


def test_create_accepts_the_seed_000_create_body() -> None:
    seed_body = {
        "displayName": "Checkout Flow Experiment",
        "flags": {"targetingKeySelector": "targeting_key"},
        "stats": {"testHorizonStrategy": "SEQUENTIAL"},
        "abtest": {"treatments": treatments()},
        "metrics": {
            "assignmentTable": "assignmentTables/my-assignment-table",
            "entity": "entities/user",
            "bucket": "DAYS",
            "metrics": [
                {
                    "metric": "metrics/conversion-rate",
                    "metricRole": {"metricKind": "SUCCESS", "minimumDetectableEffect": 0.01},
                    "preferredDirection": "INCREASE",
                }
            ],
        },
    }
    tests = AbTests(snapshot())
    with freeze_time(T0):
        created = tests.create(seed_body)
    assert created["displayName"] == "Checkout Flow Experiment"
    assert created["metrics"] == seed_body["metrics"]


def test_a_generated_id_is_20_lowercase_letters_and_digits() -> None:
    _, created = create_one()
    assert created["name"].startswith(PREFIX)
    assert re.fullmatch(r"[a-z0-9]{20}", created["name"].removeprefix(PREFIX))


def test_generated_ids_differ() -> None:
    tests = AbTests(snapshot())
    names = {tests.create(body(f"Test {i}"))["name"] for i in range(50)}
    assert len(names) == 50


def test_create_uses_the_id_factory_it_is_given() -> None:
    ids = iter(["first", "second"])
    tests = AbTests(snapshot(), id_factory=lambda: next(ids))
    assert tests.create(body("A"))["name"] == f"{PREFIX}first"
    assert tests.create(body("B"))["name"] == f"{PREFIX}second"


def test_create_draws_another_id_when_the_factory_repeats_a_taken_one() -> None:
    ids = iter(["same", "same", "other"])
    tests = AbTests(snapshot(), id_factory=lambda: next(ids))
    tests.create(body("A"))
    assert tests.create(body("B"))["name"] == f"{PREFIX}other"


def test_create_honours_the_abtest_id() -> None:
    tests = AbTests(snapshot())
    assert tests.create(body(), abtest_id="checkout-experiment")["name"] == (
        f"{PREFIX}checkout-experiment"
    )


def test_create_honours_the_name_in_the_body() -> None:
    tests = AbTests(snapshot())
    created = tests.create(body(name=f"{PREFIX}checkout-experiment"))
    assert created["name"] == f"{PREFIX}checkout-experiment"


def test_create_refuses_a_body_name_outside_the_instances_collection() -> None:
    tests = AbTests(snapshot())
    with pytest.raises(ConfigError) as caught:
        tests.create(body(name="experiments/checkout"))
    assert problem_paths(caught.value) == ["$.abtests[0].name"]


def test_create_refuses_a_name_that_is_taken() -> None:
    tests = AbTests(snapshot())
    tests.create(body("First"), abtest_id="checkout")
    before = tests.document
    with pytest.raises(ConfigError) as caught:
        tests.create(body("Second"), abtest_id="checkout")
    assert problem_paths(caught.value) == ["$.abtests[1].name"]
    assert tests.document == before


def test_create_refuses_a_display_name_that_is_taken() -> None:
    tests = AbTests(snapshot())
    tests.create(body("Checkout flow"))
    before = tests.document
    with pytest.raises(ConfigError) as caught:
        tests.create(body("Checkout flow"))
    assert problem_paths(caught.value) == ["$.abtests[1].displayName"]
    assert tests.document == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", "live"),
        ("createTime", "2025-01-01T00:00:00Z"),
        ("updateTime", "2025-01-01T00:00:00Z"),
        ("launchTime", "2025-01-01T00:00:00Z"),
        ("intake", "paused"),
    ],
)
def test_create_refuses_fields_the_lifecycle_sets(field: str, value: str) -> None:
    tests = AbTests(snapshot())
    with pytest.raises(ConfigError) as caught:
        tests.create(body(**{field: value}))
    assert problem_paths(caught.value) == [f"$.abtests[0].{field}"]
    assert tests.document == AbTests(snapshot()).document


def test_create_names_every_problem_of_invalid_treatments() -> None:
    tests = AbTests(snapshot())
    invalid = body(
        abtest={
            "treatments": [
                {"variant": f"{FLAG}/variants/control", "weight": 5000},
                {"variant": f"{FLAG}/variants/bold", "weight": 4000},
            ]
        }
    )
    with pytest.raises(ConfigError) as caught:
        tests.create(invalid)
    paths = problem_paths(caught.value)
    assert "$.abtests[0].abtest.treatments[1].variant" in paths  # unknown variant
    assert "$.abtests[0].abtest.treatments" in paths  # 9000 basis points, not 10000


def test_a_refused_create_leaves_the_document_unchanged() -> None:
    tests = AbTests(snapshot())
    tests.create(body("Kept"))
    before = tests.document
    invalid = body("New", abtest={"treatments": [{"variant": f"{FLAG}/variants/bold"}]})
    with pytest.raises(ConfigError):
        tests.create(invalid)
    assert tests.document == before


def test_a_created_draft_serves_nobody() -> None:
    tests, _ = create_one()
    assert serve(tests, "user-1").reason is Reason.NO_SEGMENT_MATCH


def test_the_lifecycle_does_not_change_the_document_it_was_given() -> None:
    document = snapshot()
    tests = AbTests(document)
    tests.create(body())
    assert document == snapshot()


def test_document_is_a_copy() -> None:
    tests, created = create_one()
    tests.document["abtests"].clear()
    assert tests.get(created["name"]) == created


# -- get --------------------------------------------------------------------------------------


def test_get_finds_a_test_by_its_full_name() -> None:
    tests, name = in_state("live")
    assert tests.get(name)["name"] == name


def test_get_finds_a_test_by_its_id() -> None:
    tests, name = in_state("live")
    assert tests.get("checkout") == tests.get(name)


@pytest.mark.parametrize("name", ["nosuchtest", f"{PREFIX}nosuchtest"])
def test_get_of_an_unknown_test_raises_ab_test_not_found(name: str) -> None:
    tests, _ = in_state("draft")
    with pytest.raises(AbTestNotFound):
        tests.get(name)


def test_ab_test_not_found_is_a_lookup_error() -> None:
    tests, _ = in_state("draft")
    with pytest.raises(LookupError):
        tests.get("nosuchtest")


def test_get_returns_a_copy() -> None:
    tests, name = in_state("draft")
    tests.get(name)["state"] = "live"
    assert tests.get(name)["state"] == "draft"


# -- list -------------------------------------------------------------------------------------

FLAGS = [f"flags/f{i}" for i in range(7)]


@pytest.fixture
def seven() -> AbTests:
    """Seven tests t0..t6 of seven flags, in document order; t1, t3 and t5 are live, t6 is
    ended."""
    tests = AbTests(snapshot(*(flag(f) for f in FLAGS)))
    for i, flag_name in enumerate(FLAGS):
        tests.create(body(f"Test {i}", flag_name=flag_name), abtest_id=f"t{i}")
    for i in (1, 3, 5, 6):
        tests.launch(f"t{i}")
    tests.end("t6")
    return tests


def walk(tests: AbTests, **options: Any) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = tests.list(page_token=token, **options)
        yield page
        token = page["nextPageToken"]
        if not token:
            return


def names(page: dict[str, Any]) -> list[str]:
    return [instance["name"].removeprefix(PREFIX) for instance in page["abtests"]]


def test_list_gives_every_test_in_document_order(seven: AbTests) -> None:
    assert names(seven.list()) == [f"t{i}" for i in range(7)]


def test_list_of_an_empty_document_is_empty() -> None:
    assert AbTests(snapshot()).list() == {"abtests": [], "nextPageToken": ""}


def test_list_gives_the_tests_as_get_does(seven: AbTests) -> None:
    assert seven.list()["abtests"] == [seven.get(f"t{i}") for i in range(7)]


@pytest.mark.parametrize("state", ["live", "state:live"])
def test_list_filters_by_state(seven: AbTests, state: str) -> None:
    assert names(seven.list(state=state)) == ["t1", "t3", "t5"]


@pytest.mark.parametrize(("state", "expected"), [("draft", ["t0", "t2", "t4"]), ("ended", ["t6"])])
def test_list_filters_by_each_state(seven: AbTests, state: str, expected: list[str]) -> None:
    assert names(seven.list(state=state)) == expected


def test_list_of_an_unknown_state_is_a_value_error(seven: AbTests) -> None:
    with pytest.raises(ValueError):
        seven.list(state="running")


@pytest.mark.parametrize("page_size", [1, 2, 3, 6, 7, 50])
def test_paging_returns_every_test_exactly_once_in_document_order(
    seven: AbTests, page_size: int
) -> None:
    walked = [name for page in walk(seven, page_size=page_size) for name in names(page)]
    assert walked == [f"t{i}" for i in range(7)]


@pytest.mark.parametrize("page_size", [1, 2, 3, 6, 7, 50])
def test_every_page_but_the_last_is_full(seven: AbTests, page_size: int) -> None:
    pages = list(walk(seven, page_size=page_size))
    assert all(len(page["abtests"]) == page_size for page in pages[:-1])
    assert 1 <= len(pages[-1]["abtests"]) <= page_size


def test_the_last_page_has_an_empty_token(seven: AbTests) -> None:
    pages = list(walk(seven, page_size=3))
    assert [page["nextPageToken"] != "" for page in pages] == [True, True, False]


def test_a_page_ending_exactly_at_the_last_test_has_an_empty_token(seven: AbTests) -> None:
    assert seven.list(page_size=7)["nextPageToken"] == ""


@pytest.mark.parametrize("state", ["live", "state:live"])
def test_paging_a_filtered_list_returns_each_match_once(seven: AbTests, state: str) -> None:
    walked = [name for page in walk(seven, state=state, page_size=1) for name in names(page)]
    assert walked == ["t1", "t3", "t5"]


def test_a_token_from_another_filter_is_a_value_error(seven: AbTests) -> None:
    token = seven.list(page_size=1)["nextPageToken"]
    with pytest.raises(ValueError):
        seven.list(state="live", page_size=1, page_token=token)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"offset": -1, "state": None}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"offset": "1", "state": None}).encode()).decode(),
    ],
)
def test_a_token_the_list_did_not_give_out_is_a_value_error(seven: AbTests, token: str) -> None:
    with pytest.raises(ValueError):
        seven.list(page_token=token)


@pytest.mark.parametrize("page_size", [0, -1, 1001])
def test_a_page_size_outside_1_to_1000_is_a_value_error(seven: AbTests, page_size: int) -> None:
    with pytest.raises(ValueError):
        seven.list(page_size=page_size)


@pytest.mark.parametrize(("page_size", "count"), [(1, 1), (1000, 7)])
def test_page_sizes_1_and_1000_are_accepted(seven: AbTests, page_size: int, count: int) -> None:
    assert len(seven.list(page_size=page_size)["abtests"]) == count


# -- update -----------------------------------------------------------------------------------


def test_update_changes_the_fields_given_and_keeps_the_others() -> None:
    tests, name = in_state("draft")
    before = tests.get(name)
    tests.update(name, {"description": "Hypothesis: one page converts better"})
    after = tests.get(name)
    assert after["description"] == "Hypothesis: one page converts better"
    for field in ("displayName", "abtest", "segment", "metrics", "stats", "flags", "state"):
        assert after[field] == before[field], field


def test_update_replaces_a_field_as_a_whole() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"metrics": {"entity": "entities/account"}})
    assert tests.get(name)["metrics"] == {"entity": "entities/account"}


def test_update_with_null_removes_the_field() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"stats": None})
    assert "stats" not in tests.get(name)


def test_update_moves_the_update_time_with_the_clock() -> None:
    with freeze_time(T0) as frozen:
        tests = AbTests(snapshot())
        name = tests.create(body())["name"]
        frozen.tick(timedelta(minutes=5))
        updated = tests.update(name, {"description": "later"})
    assert updated["createTime"] == "2025-11-01T10:00:00Z"
    assert updated["updateTime"] == "2025-11-01T10:05:00Z"


@pytest.mark.parametrize(
    "field",
    ["name", "state", "createTime", "updateTime", "launchTime", "intake", "pendingTransition"],
)
def test_update_refuses_fields_the_lifecycle_owns(field: str) -> None:
    tests, name = in_state("draft")
    before = tests.document
    with pytest.raises(ConfigError) as caught:
        tests.update(name, {field: "x"})
    assert problem_paths(caught.value) == [f"$.abtests[0].{field}"]
    assert tests.document == before


def test_an_update_leaving_an_invalid_test_is_a_config_error_and_changes_nothing() -> None:
    tests, name = in_state("draft")
    before = tests.document
    invalid = {"abtest": {"treatments": [{"variant": f"{FLAG}/variants/bold", "weight": 10_000}]}}
    with pytest.raises(ConfigError) as caught:
        tests.update(name, invalid)
    assert "$.abtests[0].abtest.treatments[0].variant" in problem_paths(caught.value)
    assert tests.document == before


def test_an_update_to_another_tests_display_name_is_refused() -> None:
    tests = AbTests(snapshot())
    tests.create(body("First"), abtest_id="first")
    tests.create(body("Second"), abtest_id="second")
    before = tests.document
    with pytest.raises(ConfigError) as caught:
        tests.update("second", {"displayName": "First"})
    assert problem_paths(caught.value) == ["$.abtests[1].displayName"]
    assert tests.document == before


def test_an_update_keeping_the_tests_own_display_name_is_accepted() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"displayName": "Checkout flow", "description": "same name"})
    assert tests.get(name)["displayName"] == "Checkout flow"


@pytest.mark.parametrize("state", ["live", "ended", "archived"])
def test_update_outside_draft_names_the_state_and_what_it_allows(state: str) -> None:
    tests, name = in_state(state)
    with pytest.raises(LifecycleError) as caught:
        tests.update(name, {"description": "too late"})
    assert caught.value.state == state
    assert "update" not in caught.value.allowed


# -- update_segment ---------------------------------------------------------------------------

SEGMENT = "segments/pztjlarivt3tyfie5gsb"


def test_a_targeting_mask_sets_the_targeting_and_keeps_the_allocation() -> None:
    tests, name = in_state("draft")
    tests.update_segment(name, {"name": SEGMENT, "targeting": SWEDEN}, "targeting")
    segment = tests.get(name)["segment"]
    assert segment["targeting"] == SWEDEN
    assert segment["allocation"] == {"proportion": 0.5}


def test_an_allocation_mask_sets_the_allocation_and_ignores_other_fields() -> None:
    tests, name = in_state("draft")
    proportion = {"proportion": {"value": "0.2"}}
    tests.update_segment(name, {"targeting": SWEDEN, "allocation": proportion}, "allocation")
    segment = tests.get(name)["segment"]
    assert segment["allocation"] == proportion
    assert "targeting" not in segment


@pytest.mark.parametrize(
    "mask",
    [
        "targeting,allocation",
        "allocation,targeting",
        " targeting , allocation ",
        ["targeting", "allocation"],
    ],
)
def test_a_mask_naming_both_sets_both(mask: str | list[str]) -> None:
    tests, name = in_state("draft")
    allocation = {"proportion": 0.3}
    tests.update_segment(name, {"targeting": SWEDEN, "allocation": allocation}, mask)
    segment = tests.get(name)["segment"]
    assert segment["targeting"] == SWEDEN
    assert segment["allocation"] == allocation


def test_a_field_in_the_mask_but_not_in_the_segment_is_cleared() -> None:
    tests, name = in_state("draft")
    tests.update_segment(name, {}, "allocation")
    assert "allocation" not in tests.get(name)["segment"]


def test_the_seeds_two_segment_calls_give_a_test_of_half_of_sweden() -> None:
    tests = AbTests(snapshot())
    name = tests.create(body(segment={"name": SEGMENT}))["name"]
    tests.update_segment(name, {"name": SEGMENT, "targeting": SWEDEN}, "targeting")
    tests.update_segment(
        name, {"name": SEGMENT, "allocation": {"proportion": {"value": "0.5"}}}, "allocation"
    )
    assert tests.get(name)["segment"] == {
        "name": SEGMENT,
        "targeting": SWEDEN,
        "allocation": {"proportion": {"value": "0.5"}},
    }


def test_a_launched_test_serves_only_the_units_its_targeting_admits() -> None:
    tests, name = in_state("draft")
    tests.update_segment(name, {"targeting": SWEDEN, "allocation": None}, "targeting,allocation")
    tests.launch(name)
    for i in range(50):
        assert serve(tests, f"user-{i}", country="SE").reason is Reason.MATCH
        assert serve(tests, f"user-{i}", country="NO").reason is Reason.NO_SEGMENT_MATCH


@pytest.mark.parametrize("mask", ["", "name", "targeting,name", "targeting;allocation", []])
def test_a_mask_naming_anything_but_targeting_and_allocation_is_a_config_error(
    mask: str | list[str],
) -> None:
    tests, name = in_state("draft")
    before = tests.document
    with pytest.raises(ConfigError):
        tests.update_segment(name, {"targeting": SWEDEN}, mask)
    assert tests.document == before


def test_a_segment_naming_another_segment_is_a_config_error() -> None:
    tests = AbTests(snapshot())
    name = tests.create(body(segment={"name": SEGMENT}))["name"]
    before = tests.document
    with pytest.raises(ConfigError):
        tests.update_segment(name, {"name": "segments/other", "targeting": {}}, "targeting")
    assert tests.document == before


@pytest.mark.parametrize("state", ["live", "live-paused"])
def test_a_live_test_refuses_new_targeting(state: str) -> None:
    tests, name = in_state(state)
    before = tests.document
    with pytest.raises(LifecycleError) as caught:
        tests.update_segment(name, {"targeting": SWEDEN}, "targeting")
    assert caught.value.state == "live"
    assert tests.document == before


def test_a_live_test_takes_a_larger_allocation() -> None:
    tests, name = in_state("live")
    tests.update_segment(name, {"allocation": {"proportion": {"value": "0.8"}}}, "allocation")
    assert tests.get(name)["segment"]["allocation"] == {"proportion": {"value": "0.8"}}


def test_a_live_test_refuses_a_smaller_allocation() -> None:
    tests, name = in_state("live")
    before = tests.document
    with pytest.raises(LifecycleError) as caught:
        tests.update_segment(name, {"allocation": {"proportion": 0.4}}, "allocation")
    assert caught.value.state == "live"
    assert tests.document == before


def test_a_draft_takes_a_smaller_allocation() -> None:
    tests, name = in_state("draft")
    tests.update_segment(name, {"allocation": {"proportion": 0.1}}, "allocation")
    assert tests.get(name)["segment"]["allocation"] == {"proportion": 0.1}


def test_an_invalid_allocation_is_a_config_error_and_changes_nothing() -> None:
    tests, name = in_state("draft")
    before = tests.document
    with pytest.raises(ConfigError):
        tests.update_segment(name, {"allocation": {"proportion": 1.5}}, "allocation")
    assert tests.document == before


# -- launch -----------------------------------------------------------------------------------


def test_a_launched_test_serves_its_treatments() -> None:
    tests, name = in_state("draft")
    tests.update_segment(name, {"allocation": None}, "allocation")
    tests.launch(name)
    served = {serve(tests, f"user-{i}").variant for i in range(100)}
    assert served == {"control", "treatment"}


def test_launch_refuses_a_test_of_an_archived_flag() -> None:
    tests, name = in_state("draft", document=snapshot(flag(state="ARCHIVED")))
    before = tests.document
    with pytest.raises(ConfigError) as caught:
        tests.launch(name)
    assert problem_paths(caught.value) == ["$.abtests[0].abtest.treatments"]
    assert FLAG in str(caught.value)
    assert tests.document == before


def test_launch_refuses_a_test_of_an_unknown_flag() -> None:
    document = snapshot()
    document["abtests"] = [
        {
            "name": NAME,
            "state": "draft",
            "abtest": {"treatments": treatments("flags/nosuchflag")},
        }
    ]
    tests = AbTests(document)
    with pytest.raises(ConfigError, match="flags/nosuchflag"):
        tests.launch(NAME)
    assert tests.document == document


def two_tests_of_one_flag(first_tags: list[str] | None, second_tags: list[str] | None) -> AbTests:
    """``first`` (live) and ``second`` (draft), both of ``flags/checkout``, each at 0.3 with
    the given exclusivity tags."""

    def segment(tags: list[str] | None) -> dict[str, Any]:
        allocation: dict[str, Any] = {"proportion": 0.3}
        if tags:
            allocation["exclusivityTags"] = tags
        return {"allocation": allocation}

    tests = AbTests(snapshot())
    tests.create(body("First", segment=segment(first_tags)), abtest_id="first")
    tests.create(body("Second", segment=segment(second_tags)), abtest_id="second")
    tests.launch("first")
    return tests


@pytest.mark.parametrize(
    ("first_tags", "second_tags"),
    [(None, None), (["checkout"], None), (None, ["checkout"]), (["checkout"], ["search"])],
)
def test_launch_refuses_a_second_live_test_of_a_flag_without_a_shared_tag(
    first_tags: list[str] | None, second_tags: list[str] | None
) -> None:
    tests = two_tests_of_one_flag(first_tags, second_tags)
    before = tests.document
    with pytest.raises(ConfigError, match=f"{PREFIX}first"):
        tests.launch("second")
    assert tests.document == before


@pytest.mark.parametrize(
    ("first_tags", "second_tags"), [(["checkout"], ["checkout"]), (["a", "b"], ["b", "c"])]
)
def test_two_tests_of_a_flag_sharing_an_exclusivity_tag_run_side_by_side(
    first_tags: list[str], second_tags: list[str]
) -> None:
    tests = two_tests_of_one_flag(first_tags, second_tags)
    tests.launch("second")
    assert tests.get("second")["state"] == "live"


def test_launch_is_accepted_once_the_other_live_test_of_the_flag_ended() -> None:
    tests = two_tests_of_one_flag(None, None)
    tests.end("first")
    tests.launch("second")
    assert tests.get("second")["state"] == "live"


@pytest.mark.parametrize("end_time", ["2025-11-03T17:44:59Z", "2025-11-01T00:00:00Z"])
def test_launch_refuses_an_end_time_already_past(end_time: str) -> None:
    tests, name = in_state("draft")
    tests.update(name, {"endTime": end_time})
    before = tests.document
    with freeze_time(T2), pytest.raises(ConfigError) as caught:
        tests.launch(name)
    assert problem_paths(caught.value) == ["$.abtests[0].endTime"]
    assert tests.document == before


def test_launch_refuses_an_end_time_past_written_with_a_utc_offset() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"endTime": "2025-11-03T18:00:00+02:00"})  # 16:00Z, before T2
    with freeze_time(T2), pytest.raises(ConfigError):
        tests.launch(name)


def test_launch_refuses_an_end_time_past_by_a_fraction_of_a_second() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"endTime": "2025-11-03T17:45:00Z"})
    with freeze_time("2025-11-03T17:45:00.500Z"), pytest.raises(ConfigError):
        tests.launch(name)


def test_launch_accepts_an_end_time_in_the_future() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"endTime": "2025-12-01T00:00:00Z"})
    with freeze_time(T2):
        tests.launch(name)
    assert tests.get(name)["endTime"] == "2025-12-01T00:00:00Z"


# -- end, archive, delete ---------------------------------------------------------------------


@pytest.mark.parametrize("action", ["end", "archive"])
def test_an_ended_or_archived_test_serves_nobody(action: str) -> None:
    tests, name = in_state("live")
    tests.update_segment(name, {"allocation": {"proportion": 1.0}}, "allocation")
    tests.set_override(name, "qa-1", "treatment")
    ACTIONS[action](tests, name)
    for unit in ["qa-1", *(f"user-{i}" for i in range(50))]:
        assert serve(tests, unit).reason is Reason.NO_SEGMENT_MATCH, unit


def test_end_replaces_a_scheduled_end_time_with_now() -> None:
    tests, name = in_state("draft")
    tests.update(name, {"endTime": "2026-01-01T00:00:00Z"})
    with freeze_time(T1):
        tests.launch(name)
    with freeze_time(T2):
        tests.end(name)
    assert tests.get(name)["endTime"] == T2


def test_delete_of_an_unknown_test_raises_ab_test_not_found() -> None:
    tests, _ = in_state("ended")
    with pytest.raises(AbTestNotFound):
        tests.delete("nosuchtest")


def test_delete_keeps_the_other_tests() -> None:
    tests = AbTests(snapshot())
    tests.create(body("A"), abtest_id="a")
    tests.create(body("B"), abtest_id="b")
    tests.delete("a")
    assert [t["name"] for t in tests.list()["abtests"]] == [f"{PREFIX}b"]


def test_a_deleted_tests_display_name_can_be_used_again() -> None:
    tests, name = in_state("draft")
    tests.delete(name)
    assert tests.create(body("Checkout flow"))["displayName"] == "Checkout flow"


# -- treatment overrides ----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "draft-unpreviewed", "live", "live-paused"])
def test_an_override_is_kept_on_the_test(state: str) -> None:
    tests, name = in_state(state)
    tests.set_override(name, "qa-1", "treatment")
    assert tests.overrides(name) == {"qa-1": "treatment"}


def test_setting_an_override_again_replaces_it() -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", "treatment")
    tests.set_override(name, "qa-1", "control")
    assert tests.overrides(name) == {"qa-1": "control"}


def test_overrides_of_several_units_are_kept_together() -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", "treatment")
    tests.set_override(name, "qa-2", f"{FLAG}/variants/control")
    assert tests.overrides(name) == {"qa-1": "treatment", "qa-2": f"{FLAG}/variants/control"}


@pytest.mark.parametrize("variant", ["treatment", f"{FLAG}/variants/treatment"])
def test_a_draft_previews_its_overrides(variant: str) -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", variant)
    resolution = serve(tests, "qa-1")
    assert resolution.reason is Reason.OVERRIDE
    assert resolution.variant == "treatment"


def test_a_draft_preview_serves_nobody_else() -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", "treatment")
    assert serve(tests, "user-1").reason is Reason.NO_SEGMENT_MATCH


def test_a_live_test_serves_its_overrides_whatever_the_allocation() -> None:
    tests, name = in_state("draft")
    tests.set_exposure(name, proportion=0)
    tests.launch(name)
    tests.set_override(name, "qa-1", "treatment")
    resolution = serve(tests, "qa-1")
    assert resolution.reason is Reason.OVERRIDE
    assert resolution.variant == "treatment"


@pytest.mark.parametrize("state", ["ended", "archived"])
def test_overrides_are_refused_once_the_test_is_over(state: str) -> None:
    tests, name = in_state(state)
    with pytest.raises(LifecycleError):
        tests.set_override(name, "qa-1", "treatment")


def test_an_override_naming_a_variant_outside_the_treatments_is_a_config_error() -> None:
    tests, name = in_state("draft")
    before = tests.document
    with pytest.raises(ConfigError):
        tests.set_override(name, "qa-1", "bold")
    assert tests.document == before


def test_an_override_for_an_empty_unit_is_a_config_error() -> None:
    tests, name = in_state("draft")
    with pytest.raises(ConfigError):
        tests.set_override(name, "", "treatment")


def test_removing_an_override_forgets_it() -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", "treatment")
    tests.set_override(name, "qa-2", "control")
    tests.set_override(name, "qa-1", None)
    assert tests.overrides(name) == {"qa-2": "control"}


def test_removing_the_last_override_leaves_no_overrides_field() -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", "treatment")
    tests.set_override(name, "qa-1", None)
    assert tests.overrides(name) == {}
    assert "treatmentOverrides" not in tests.get(name)


def test_a_removed_override_is_no_longer_served() -> None:
    tests, name = in_state("draft")
    tests.set_override(name, "qa-1", "treatment")
    tests.set_override(name, "qa-1", None)
    assert serve(tests, "qa-1").reason is Reason.NO_SEGMENT_MATCH


def test_removing_an_override_that_is_not_there_raises_ab_test_not_found() -> None:
    tests, name = in_state("draft")
    before = tests.document
    with pytest.raises(AbTestNotFound):
        tests.set_override(name, "qa-1", None)
    assert tests.document == before


def test_overrides_of_an_unknown_test_raise_ab_test_not_found() -> None:
    tests, _ = in_state("draft")
    with pytest.raises(AbTestNotFound):
        tests.overrides("nosuchtest")


def test_a_test_without_overrides_has_none() -> None:
    tests, name = in_state("live")
    assert tests.overrides(name) == {}


# -- exposure ---------------------------------------------------------------------------------


def allocation_of(tests: AbTests, name: str) -> dict[str, Any]:
    allocation: dict[str, Any] = tests.get(name)["segment"]["allocation"]
    return allocation


@pytest.mark.parametrize(
    ("given", "proportion"),
    [
        ({"proportion": 0.25}, 0.25),
        ({"proportion": "0.25"}, 0.25),
        ({"percentage": 25}, 0.25),
        ({"percentage": 40.5}, 0.405),
        ({"percentage": 0}, 0.0),
        ({"percentage": 100}, 1.0),
        ({"proportion": 0}, 0.0),
        ({"proportion": 1}, 1.0),
    ],
)
def test_exposure_sets_the_allocation_proportion(given: dict[str, Any], proportion: float) -> None:
    tests, name = in_state("draft")
    tests.set_exposure(name, **given)
    assert allocation_of(tests, name)["proportion"] == pytest.approx(proportion)


def test_a_percentage_and_the_same_proportion_admit_the_same_units() -> None:
    by_percentage, name = in_state("draft")
    by_percentage.set_exposure(name, percentage=40)
    by_percentage.launch(name)
    by_proportion, _ = in_state("draft")
    by_proportion.set_exposure(name, proportion=0.4)
    by_proportion.launch(name)
    contexts = [{"targeting_key": f"user-{i}"} for i in range(2000)]
    with (
        flagstone.Client.from_dict(by_percentage.document) as first,
        flagstone.Client.from_dict(by_proportion.document) as second,
    ):
        one = [first.evaluate(FLAG, context).variant for context in contexts]
        other = [second.evaluate(FLAG, context).variant for context in contexts]
    assert one == other
    assert 0 < sum(v is not None for v in one) < len(contexts)


def test_exposure_sets_an_allocation_on_a_test_without_a_segment() -> None:
    tests = AbTests(snapshot())
    name = tests.create(body())["name"]
    tests.set_exposure(name, percentage=20)
    assert tests.get(name)["segment"] == {"allocation": {"proportion": 0.2}}


@pytest.mark.parametrize("given", [{}, {"proportion": 0.5, "percentage": 50}])
def test_exposure_takes_exactly_one_of_proportion_and_percentage(given: dict[str, Any]) -> None:
    tests, name = in_state("draft")
    with pytest.raises(ValueError):
        tests.set_exposure(name, **given)


@pytest.mark.parametrize(
    "given",
    [
        {"proportion": -0.01},
        {"proportion": 1.01},
        {"proportion": float("nan")},
        {"proportion": "half"},
        {"percentage": -1},
        {"percentage": 100.5},
        {"percentage": True},
    ],
)
def test_exposure_outside_its_bounds_is_a_config_error(given: dict[str, Any]) -> None:
    tests, name = in_state("draft")
    before = tests.document
    with pytest.raises(ConfigError):
        tests.set_exposure(name, **given)
    assert tests.document == before


@pytest.mark.parametrize("state", ["draft", "draft-unpreviewed"])
def test_a_draft_takes_a_lower_exposure(state: str) -> None:
    tests, name = in_state(state)
    tests.set_exposure(name, percentage=10)
    assert allocation_of(tests, name)["proportion"] == pytest.approx(0.1)


@pytest.mark.parametrize("state", ["live", "live-without-materialization"])
def test_a_live_test_takes_a_higher_exposure(state: str) -> None:
    tests, name = in_state(state)
    tests.set_exposure(name, percentage=60)
    assert allocation_of(tests, name)["proportion"] == pytest.approx(0.6)


@pytest.mark.parametrize("given", [{"percentage": 49}, {"proportion": 0.1}, {"percentage": 0}])
def test_a_live_test_refuses_a_lower_exposure(given: dict[str, Any]) -> None:
    tests, name = in_state("live")
    before = tests.document
    with pytest.raises(LifecycleError) as caught:
        tests.set_exposure(name, **given)
    assert caught.value.state == "live"
    assert tests.document == before


def test_a_live_test_without_an_allocation_exposes_everyone_and_cannot_be_lowered() -> None:
    tests = AbTests(snapshot())
    name = tests.create(body())["name"]
    tests.launch(name)
    with pytest.raises(LifecycleError):
        tests.set_exposure(name, percentage=50)


@pytest.mark.parametrize("state", ["live-paused", "ended", "archived"])
def test_exposure_is_refused_while_intake_is_paused_and_once_over(state: str) -> None:
    tests, name = in_state(state)
    before = tests.document
    with pytest.raises(LifecycleError):
        tests.set_exposure(name, percentage=90)
    assert tests.document == before


def test_a_draft_without_a_segment_name_takes_the_one_update_segment_names() -> None:
    tests = AbTests(snapshot())
    name = tests.create(body())["name"]
    tests.update_segment(
        name, {"name": "segments/pztjlarivt3tyfie5gsb", "targeting": SWEDEN}, "targeting"
    )
    assert tests.get(name)["segment"]["name"] == "segments/pztjlarivt3tyfie5gsb"


def test_a_live_test_without_a_segment_name_refuses_a_new_one_since_it_salts_the_buckets() -> None:
    tests, name = in_state("live")
    before = tests.document
    with pytest.raises(ConfigError) as caught:
        tests.update_segment(
            name, {"name": "segments/other", "allocation": {"proportion": 1}}, "allocation"
        )
    assert problem_paths(caught.value) == ["$.abtests[0].segment.name"]
    assert tests.document == before


@pytest.mark.parametrize("bad_id", ["", "a/b", " padded "])
def test_create_refuses_an_id_that_cannot_name_a_test(bad_id: str) -> None:
    tests = AbTests(snapshot())
    with pytest.raises(ConfigError) as caught:
        tests.create(body(), abtest_id=bad_id)
    assert problem_paths(caught.value) == ["$.abtests[0].name"]
    assert tests.document == AbTests(snapshot()).document
