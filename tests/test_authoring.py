"""The authoring format (``"format": "flagstone/flags@1"``): read by every reader of
snapshots, and resolving exactly as the native snapshot it stands for.

The reference for "the native snapshot it stands for" is written here, from the mapping the
README ("Flags written by hand") and ``flagstone.formats.authoring.compile`` state, with
``tests/builders.py`` — never by calling the compiler: :func:`native_of` turns the spec of a
generated authoring document into the native document a person would write by hand, and both
are evaluated for many units and contexts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flagstone
from flagstone import ConfigError, Reason
from flagstone.formats import parse_snapshot
from tests import builders as b

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "flags.authoring.json"
FORMAT = "flagstone/flags@1"

Doc = dict[str, Any]


def authoring(flags: Doc, **top: Any) -> Doc:
    return {"format": FORMAT, **top, "flags": flags}


# -- the reference: the native document a person writes for a spec ---------------------------

NORDICS = ["SE", "NO", "DK"]


def targeting_of(condition: Doc | None) -> Doc | None:
    """The native targeting of an authoring condition, written with the builders (the
    subset the generator below produces)."""
    if condition is None or not condition:
        return None
    criteria: dict[str, Doc] = {}

    def criterion(body: Doc) -> Doc:
        key = f"k{len(criteria)}"
        criteria[key] = body
        return b.ref(key)

    def typed(value: Any) -> Doc:
        if isinstance(value, bool):
            return b.boolean(value)
        if isinstance(value, int | float):
            return b.number(value)
        if isinstance(value, dict):
            return b.version(value["version"])
        return b.string(value)

    def expression(cond: Doc) -> Doc:
        parts = []
        for key, test in cond.items():
            if key in ("and", "or"):
                operands = [expression(item) for item in test]
                parts.append(b.and_(*operands) if key == "and" else b.or_(*operands))
            elif key == "not":
                parts.append(b.not_(expression(test)))
            elif key == "segment":
                parts.append(criterion(b.in_segment(test)))
            elif isinstance(test, list):
                parts.append(criterion(b.attribute(key, b.one_of(*map(typed, test)))))
            elif isinstance(test, dict) and "startsWith" in test:
                parts.append(criterion(b.attribute(key, b.starts_with(test["startsWith"]))))
            elif isinstance(test, dict) and set(test) <= {"gte", "lt"}:
                bounds = {
                    {"gte": "startInclusive", "lt": "endExclusive"}[op]: typed(value)
                    for op, value in test.items()
                }
                parts.append(criterion(b.attribute(key, b.between(**bounds))))
            else:
                parts.append(criterion(b.attribute(key, b.eq(typed(test)))))
        return parts[0] if len(parts) == 1 else b.and_(*parts)

    root = expression(condition)
    return b.targeting(criteria, root)


def native_of(spec: Doc) -> Doc:
    """The native snapshot an authoring document stands for, by the documented mapping:
    rule ``i`` is ``flags/<f>/rules/<name or i>`` on ``segments/<salt>`` (the rule's salt,
    else ``<f>`` for the unnamed split rule, else ``<f>.<name or i>``), a split lays the
    variants out over 10 000 buckets in order with a fall-through after them, ``default`` is
    a last rule ``flags/<f>/rules/default`` on ``segments/<f>.default`` with a blank selector,
    ``enabled: false`` archives."""
    segments: dict[str, Doc] = {}
    for name, segment in spec.get("segments", {}).items():
        segments[name] = b.segment(name, targeting=targeting_of(segment.get("when")))
    flags = []
    for flag_name, flag in spec["flags"].items():
        rules = []
        for index, rule in enumerate(flag.get("rules", [])):
            rule_name = rule.get("name", str(index))
            split = isinstance(rule["serve"], dict)
            salt = rule.get("salt") or (
                flag_name if split and "name" not in rule else f"{flag_name}.{rule_name}"
            )
            segments[salt] = b.segment(salt, targeting=targeting_of(rule.get("when")))
            selector = rule.get("unit") or flag.get("unit") or ""
            full = f"flags/{flag_name}/rules/{rule_name}"
            if split:
                count = rule.get("buckets", 10_000)
                assignments, lower = [], 0
                for variant, percent in rule["serve"].items():
                    width = round(percent * count / 100)
                    if width:
                        assignments.append(b.assignment(variant, variant, (lower, lower + width)))
                        lower += width
                if lower < count:
                    assignments.append(b.assignment("", None, (lower, count), kind="fallthrough"))
                rules.append(
                    b.rule(full, assignments, bucket_count=count, segment=salt, selector=selector)
                )
            else:
                variant = rule["serve"]
                rules.append(
                    b.everyone_gets(
                        full, variant, assignment_id=variant, segment=salt, selector=selector
                    )
                )
        if "default" in flag:
            salt = f"{flag_name}.default"
            segments[salt] = b.segment(salt)
            rules.append(
                b.everyone_gets(
                    f"flags/{flag_name}/rules/default",
                    flag["default"],
                    assignment_id=flag["default"],
                    segment=salt,
                    selector="",
                )
            )
        state = None if flag.get("enabled", True) else "ARCHIVED"
        flags.append(b.flag(flag_name, flag["variants"], rules, state=state))
    return b.snapshot(*flags, segments=list(segments.values()))


# -- generated authoring documents ---------------------------------------------------------

VALUES = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(["blue", "green", ""]),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
    st.lists(st.integers(0, 3), max_size=2),
)

ATTRIBUTE_TESTS = st.one_of(
    st.builds(lambda c: {"country": c}, st.sampled_from([*NORDICS, "DE"])),
    st.builds(lambda cs: {"country": cs}, st.lists(st.sampled_from([*NORDICS, "DE"]), max_size=3)),
    st.builds(lambda lo: {"age": {"gte": lo}}, st.integers(10, 60)),
    st.builds(
        lambda lo, hi: {"age": {"gte": lo, "lt": hi}}, st.integers(10, 40), st.integers(30, 70)
    ),
    st.builds(lambda p: {"plan": {"startsWith": p}}, st.sampled_from(["pr", "te", "f"])),
    st.builds(lambda v: {"beta": v}, st.booleans()),
    st.builds(
        lambda v: {"app.version": {"gte": {"version": v}}}, st.sampled_from(["1.0", "2.4.0"])
    ),
    st.just({"segment": "nordics"}),
)

CONDITIONS = st.recursive(
    ATTRIBUTE_TESTS,
    lambda inner: st.one_of(
        st.builds(lambda c: {"not": c}, inner),
        st.builds(lambda cs: {"and": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"or": cs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=4,
)


@st.composite
def flag_specs(draw: st.DrawFn, name: str) -> Doc:
    names = draw(
        st.lists(st.sampled_from(["on", "off", "a", "b", "c"]), min_size=1, max_size=3, unique=True)
    )
    variants = {variant: draw(VALUES) for variant in names}
    flag: Doc = {"variants": variants}
    if draw(st.booleans()):
        flag["unit"] = "user.id"
    rules = []
    unnamed_split = False
    for index in range(draw(st.integers(0, 3))):
        rule: Doc = {}
        split = draw(st.booleans())
        if (split and unnamed_split) or draw(st.booleans()):
            rule["name"] = f"r{index}"
        if draw(st.booleans()):
            rule["when"] = draw(CONDITIONS)
        if split:
            unnamed_split |= "name" not in rule
            shares = draw(st.lists(st.integers(0, 60), min_size=1, max_size=len(names)))
            serve: Doc = {}
            for variant, share in zip(names, shares, strict=False):
                if sum(serve.values()) + share <= 100:
                    serve[variant] = share
            rule["serve"] = serve
            if draw(st.booleans()):
                rule["buckets"] = 100
        else:
            rule["serve"] = draw(st.sampled_from(names))
        if draw(st.integers(0, 4)) == 0:
            rule["salt"] = f"salt-{name}-{index}"
        rules.append(rule)
    if rules:
        flag["rules"] = rules
    if draw(st.booleans()):
        flag["default"] = draw(st.sampled_from(names))
    if draw(st.integers(0, 5)) == 0:
        flag["enabled"] = False
    return flag


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    flags = {name: draw(flag_specs(name)) for name in ("alpha", "beta")}
    return authoring(flags, segments={"nordics": {"when": {"country": NORDICS}}})


def contexts(units: int) -> list[Doc]:
    found: list[Doc] = [{}, {"country": "SE"}]
    countries = [*NORDICS, "DE", None]
    for unit in range(units):
        context: Doc = {"targeting_key": f"u{unit}", "user": {"id": f"id{unit}"}}
        country = countries[unit % len(countries)]
        if country is not None:
            context["country"] = country
        context["age"] = 10 + unit % 60
        context["plan"] = ["pro", "team", "free"][unit % 3]
        context["beta"] = unit % 2 == 0
        context["app"] = {"version": ["1.0.0", "2.4.1", "3.0"][unit % 3]}
        found.append(context)
    return found


def outcome(resolution: flagstone.Resolution) -> tuple[Any, ...]:
    return (
        resolution.variant,
        resolution.value,
        resolution.reason,
        resolution.rule,
        resolution.segment,
        resolution.error,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_an_authoring_document_resolves_as_the_native_snapshot_written_by_hand(doc: Doc) -> None:
    from_authoring = flagstone.Client.from_dict(doc)
    by_hand = flagstone.Client.from_dict(native_of(doc))
    for context in contexts(150):
        for flag in doc["flags"]:
            expected = by_hand.evaluate(flag, context, apply=False)
            got = from_authoring.evaluate(flag, context, apply=False)
            assert outcome(got) == outcome(expected), (flag, context)


def test_the_issue_example_resolves_as_its_native_equivalent() -> None:
    doc = authoring(
        {
            "dark-mode": {
                "variants": {"on": True, "off": False},
                "default": "off",
                "rules": [{"when": {"country": ["SE", "NO"]}, "serve": {"on": 50, "off": 50}}],
            }
        }
    )
    by_hand = b.snapshot(
        b.flag(
            "dark-mode",
            {"on": True, "off": False},
            [
                b.split_rule(
                    "flags/dark-mode/rules/0",
                    ["on", "off"],
                    buckets_per_variant=5000,
                    segment="dark-mode",
                    selector="",
                ),
                b.everyone_gets(
                    "flags/dark-mode/rules/default",
                    "off",
                    segment="dark-mode.default",
                    assignment_id="off",
                    selector="",
                ),
            ],
        ),
        segments=[
            b.segment(
                "dark-mode",
                targeting=b.targeting(
                    {"c": b.attribute("country", b.one_of(b.string("SE"), b.string("NO")))},
                    b.ref("c"),
                ),
            ),
            b.segment("dark-mode.default"),
        ],
    )
    ours, theirs = flagstone.Client.from_dict(doc), flagstone.Client.from_dict(by_hand)
    on = 0
    for unit in range(4000):
        for country in ("SE", "DE"):
            context = {"targeting_key": f"user-{unit}", "country": country}
            got = ours.evaluate("dark-mode", context, apply=False)
            assert outcome(got) == outcome(theirs.evaluate("dark-mode", context, apply=False))
            on += got.value is True
    # half of the Swedes, none of the Germans: 2000 expected of 4000, binomial sd ~32
    assert abs(on - 2000) < 5 * 32


# -- scalar values, the kill switch, the default ---------------------------------------------


def test_a_scalar_value_is_what_get_value_and_the_provider_return() -> None:
    client = flagstone.Client.from_dict(
        authoring(
            {
                "dark-mode": {"variants": {"on": True}, "default": "on"},
                "color": {"variants": {"blue": "blue"}, "default": "blue"},
                "limit": {"variants": {"few": 10}, "default": "few"},
            }
        )
    )
    context = {"targeting_key": "u"}
    assert client.get_value("dark-mode", context, False) is True
    assert client.get_value("color", context, "red") == "blue"
    assert client.get_value("limit", context, 1) == 10
    assert client.get_value("limit", context, 1.5) == 10.0
    mismatch = client.get_value_details("dark-mode", context, "off")
    assert mismatch.value == "off" and mismatch.reason is Reason.TYPE_MISMATCH

    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import Reason as OFReason

    from flagstone.openfeature import FlagstoneProvider

    provider = FlagstoneProvider(client)
    details = provider.resolve_boolean_details("dark-mode", False, EvaluationContext("u"))
    assert details.value is True and details.variant == "on"
    assert details.reason == OFReason.STATIC  # the default rule is the flag's only rule
    assert provider.resolve_integer_details("limit", 0, EvaluationContext("u")).value == 10
    assert provider.resolve_string_details("color", "x", EvaluationContext("u")).value == "blue"


def test_a_killed_flag_gives_every_caller_its_own_default_and_revives_with_its_rules() -> None:
    flag = {
        "variants": {"on": True, "off": False},
        "default": "off",
        "rules": [{"when": {"beta": True}, "serve": "on"}],
    }
    killed = flagstone.Client.from_dict(authoring({"f": {**flag, "enabled": False}}))
    resolution = killed.evaluate("f", {"targeting_key": "u", "beta": True})
    assert resolution.reason is Reason.FLAG_ARCHIVED and resolution.variant is None
    assert killed.get_value("f", {"beta": True}, "code default") == "code default"
    assert "flags/f" not in killed.evaluate_all({"targeting_key": "u"})
    revived = flagstone.Client.from_dict(authoring({"f": flag}))
    assert revived.get_value("f", {"beta": True}, None) is True
    assert revived.get_value("f", {"beta": False}, None) is False


def test_the_default_serves_everyone_even_without_a_unit_and_without_it_nothing_matches() -> None:
    with_default = flagstone.Client.from_dict(
        authoring({"f": {"unit": "user.id", "variants": {"a": 1}, "default": "a"}})
    )
    resolution = with_default.evaluate("f", {})
    assert (resolution.variant, resolution.reason) == ("a", Reason.MATCH)
    without = flagstone.Client.from_dict(
        authoring({"f": {"variants": {"a": 1}, "rules": [{"when": {"beta": True}, "serve": "a"}]}})
    )
    assert without.evaluate("f", {"beta": False}).reason is Reason.NO_SEGMENT_MATCH


def test_a_flag_unit_is_needed_by_its_rules() -> None:
    client = flagstone.Client.from_dict(
        authoring(
            {
                "f": {
                    "unit": "user.id",
                    "variants": {"a": 1, "b": 2},
                    "default": "b",
                    "rules": [{"serve": "a"}],
                }
            }
        )
    )
    assert client.evaluate("f", {"user": {"id": "7"}}).variant == "a"
    skipped = client.evaluate("f", {"targeting_key": "7"})  # no user.id: the rule is skipped
    assert (skipped.variant, skipped.rule) == ("b", "flags/f/rules/default")


# -- A/B tests, versions, every reader --------------------------------------------------------


def test_the_example_file_loads_everywhere_and_its_ab_test_assigns_the_flag(
    tmp_path: Path, cli: Any
) -> None:
    client = flagstone.Client.from_file(EXAMPLE)
    assert client.snapshot_version == "2026-12-01.1"
    assert sorted(client.flags) == [
        "flags/checkout",
        "flags/dark-mode",
        "flags/max-results",
        "flags/payments",
        "flags/search-backend",
    ]
    tested = [
        client.evaluate("checkout", {"targeting_key": f"u{unit}", "country": "SE"})
        for unit in range(400)
    ]
    in_test = [r for r in tested if r.abtest == "workflows/abtest/instances/checkout-test"]
    # 50 % allocation: 200 expected of 400, binomial sd 10
    assert abs(len(in_test) - 200) < 50
    assert {r.variant for r in in_test} == {"control", "one-page"}
    assert {r.rule for r in tested if r.abtest is None} == {"flags/checkout/rules/default"}
    staff = client.evaluate("dark-mode", {"user": {"email": "a@acme-shop.example"}})
    assert (staff.value, staff.rule) == (True, "flags/dark-mode/rules/staff")
    assert client.get_value("max-results", {"plan": "pro"}, 0) == 50
    assert client.get_value("max-results", {"plan": "pro", "trial": True}, 0) == 10

    ran = cli("validate", EXAMPLE)
    assert ran.returncode == 0 and json.loads(ran.stdout)["ok"] is True
    ran = cli("evaluate", EXAMPLE, "payments", "--context", '{"targeting_key": "u"}')
    assert ran.returncode == 0 and json.loads(ran.stdout)["value"] is True

    served = json.loads(EXAMPLE.read_text())
    source = flagstone.sources.FunctionSource(lambda: json.dumps(served).encode())
    live = flagstone.Client.from_source(source, wait=True)
    try:
        assert live.get_value("search-backend", {"targeting_key": "u1"}, "") in {
            "classic",
            "vector-v2",
        }
    finally:
        live.close()


def test_an_abtest_command_works_on_an_authoring_file(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "flags.json"
    document = json.loads(EXAMPLE.read_text())
    document["abtests"][0]["state"] = "draft"
    b.write(path, document)
    ran = cli("abtest", "launch", path, "checkout-test")
    assert ran.returncode == 0, ran.stderr
    written = json.loads(path.read_text())
    assert written["format"] == FORMAT and written["abtests"][0]["state"] == "live"
    assert written["flags"] == document["flags"]


def test_a_version_is_the_documents_own_or_the_digest_of_its_bytes() -> None:
    text = json.dumps(authoring({"f": {"variants": {"a": 1}}}))
    parsed = parse_snapshot(text.encode())
    assert parsed.version == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert parse_snapshot(json.dumps(authoring({}, version=7))).version == "7"


def test_a_format_is_declared_never_guessed() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_snapshot({"format": "flagstone/flags@2", "flags": {}})
    assert [p.path for p in raised.value.problems] == ["$.format"]
    assert "unknown format 'flagstone/flags@2'" in raised.value.problems[0].message
    # the authoring shape without the key is read as native, and refused as native
    with pytest.raises(ConfigError) as raised:
        parse_snapshot({"flags": {"f": {"variants": {"a": 1}}}})
    assert any(p.path.startswith("$.flags.f") for p in raised.value.problems)


def test_the_native_format_may_have_scalar_values_too() -> None:
    client = flagstone.Client.from_dict(
        b.snapshot(
            b.flag("f", {"on": True}, [b.everyone_gets("flags/f/rules/r", "on")]),
            segments=[b.segment()],
        )
    )
    assert client.get_value("f", {}, False) is True
    with pytest.raises(ConfigError) as raised:
        flagstone.Client.from_dict(b.snapshot(b.flag("f", {"on": None})))
    assert [p.path for p in raised.value.problems] == ['$.flags["flags/f"].variants[0].value']


# -- every kind of condition, against what its statement says --------------------------------

CONDITION_CASES: list[tuple[Doc, list[Doc], list[Doc]]] = [
    ({"country": "SE"}, [{"country": "SE"}, {"country": ["NO", "SE"]}], [{"country": "NO"}, {}]),
    ({"country": None}, [{}, {"country": None}], [{"country": "SE"}]),
    ({"country": {"eq": "SE"}}, [{"country": "SE"}], [{"country": "se"}]),
    ({"country": {"in": ["SE", "NO"]}}, [{"country": "NO"}], [{"country": "DK"}]),
    ({"age": 18}, [{"age": 18}, {"age": 18.0}], [{"age": 19}, {"age": 17.5}]),
    ({"beta": True}, [{"beta": True}], [{"beta": False}, {}]),
    ({"age": {"gt": 18, "lte": 65}}, [{"age": 19}, {"age": 65}], [{"age": 18}, {"age": 66}]),
    (
        {"age": {"gte": 18}, "plan": "pro"},
        [{"age": 30, "plan": "pro"}],
        [{"age": 30, "plan": "free"}],
    ),
    ({"email": {"startsWith": "qa-"}}, [{"email": "qa-1@x"}], [{"email": "dev@x"}]),
    ({"email": {"endsWith": "@acme.example"}}, [{"email": "a@acme.example"}], [{"email": "a@b"}]),
    ({"email": {"contains": "+test"}}, [{"email": "a+test@b"}], [{"email": "a@b"}]),
    (
        {"app.version": {"gte": {"version": "2.4"}}},
        [{"app": {"version": "2.10.0"}}, {"app": {"version": "2.4"}}],
        [{"app": {"version": "2.3.9"}}],
    ),
    (
        {"signup": {"lt": {"timestamp": "2026-01-01T00:00:00Z"}}},
        [{"signup": "2025-12-31T23:59:59Z"}],
        [{"signup": "2026-01-01T00:00:00Z"}, {"signup": "2026-06-01T00:00:00Z"}],
    ),
    ({"tags": {"any": {"startsWith": "be"}}}, [{"tags": ["x", "beta"]}], [{"tags": ["x"]}]),
    (
        {"tags": {"all": {"startsWith": "be"}}},
        [{"tags": ["beta", "best"]}],
        [{"tags": ["beta", "x"]}],
    ),
    ({"tags": {"any": ["a", "b"]}}, [{"tags": ["c", "b"]}], [{"tags": ["c"]}]),
    ({"not": {"country": "SE"}}, [{"country": "NO"}], [{"country": "SE"}]),
    (
        {"or": [{"country": "SE"}, {"beta": True}]},
        [{"beta": True}, {"country": "SE"}],
        [{"country": "NO"}],
    ),
    (
        {"and": [{"country": "SE"}, {"not": {"beta": True}}]},
        [{"country": "SE", "beta": False}],
        [{"country": "SE", "beta": True}],
    ),
    ({"segment": "nordics"}, [{"country": "DK"}], [{"country": "DE"}]),
    (
        {"user.plan": "pro"},
        [{"user": {"plan": "pro"}}],
        [{"user": {"plan": "free"}}, {"user": "pro"}],
    ),
]


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [pytest.param(c, m, o, id=json.dumps(c)) for c, m, o in CONDITION_CASES],
)
def test_a_condition_holds_for_what_it_says(
    condition: Doc, matching: list[Doc], other: list[Doc]
) -> None:
    client = flagstone.Client.from_dict(
        authoring(
            {"f": {"variants": {"yes": True}, "rules": [{"when": condition, "serve": "yes"}]}},
            segments={"nordics": {"when": {"country": NORDICS}}},
        )
    )
    for context in matching:
        assert client.evaluate("f", context).variant == "yes", context
    for context in other:
        assert client.evaluate("f", context).reason is Reason.NO_SEGMENT_MATCH, context


def test_a_segment_rollout_admits_its_share_of_units_the_same_in_every_flag() -> None:
    flag = {"variants": {"yes": True}, "rules": [{"when": {"segment": "some"}, "serve": "yes"}]}
    client = flagstone.Client.from_dict(
        authoring({"f": flag, "g": flag}, segments={"some": {"rollout": 30}})
    )
    units = [f"u{index}" for index in range(5000)]
    admitted_f = {u for u in units if client.evaluate("f", {"targeting_key": u}).variant}
    admitted_g = {u for u in units if client.evaluate("g", {"targeting_key": u}).variant}
    assert admitted_f == admitted_g
    # 30 %: 1500 of 5000, binomial sd ~32
    assert abs(len(admitted_f) - 1500) < 5 * 33


def test_a_signed_authoring_document_carries_its_issued_at_to_the_client() -> None:
    from flagstone.sources import FunctionSource, SourceDocument, sign_snapshot

    text = EXAMPLE.read_text()
    body, signature = sign_snapshot(text, "key", issued_at="2026-12-01T10:00:00Z")
    assert json.loads(body)["issuedAt"] == "2026-12-01T10:00:00Z"
    source = FunctionSource(lambda: SourceDocument(body, signature=signature))
    client = flagstone.Client.from_source(source, signing_key="key", wait=True)
    try:
        assert client.status().ready
        assert client.get_value("payments", {}, False) is True
    finally:
        client.close()
    with pytest.raises(ConfigError) as raised:
        parse_snapshot({**json.loads(text), "issuedAt": "yesterday"})
    assert [p.path for p in raised.value.problems] == ["$.issuedAt"]


def test_a_document_nested_too_deep_is_a_config_error_however_it_comes() -> None:
    condition: Doc = {"beta": True}
    for _ in range(300):
        condition = {"not": condition}
    document = authoring(
        {"f": {"variants": {"a": 1}, "rules": [{"when": condition, "serve": "a"}]}}
    )
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(document)
    assert [p.path for p in raised.value.problems] == ["$"]
    for _ in range(260):  # within the decoder's limit, past the expression's
        condition = condition["not"]
    document = authoring(
        {"f": {"variants": {"a": 1}, "rules": [{"when": condition, "serve": "a"}]}}
    )
    for form in (document, json.dumps(document)):
        with pytest.raises(ConfigError) as raised:
            parse_snapshot(form)
        assert [p.path for p in raised.value.problems] == ["$.flags.f.rules[0].when"]


def test_a_key_written_twice_is_refused_at_its_path() -> None:
    text = (
        '{"format": "flagstone/flags@1", "flags": {"f": {"variants": {"a": 1}, '
        '"default": "a", "default": "b"}}}'
    )
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(text)
    assert any(p.path.startswith("$.flags.f") for p in raised.value.problems)
