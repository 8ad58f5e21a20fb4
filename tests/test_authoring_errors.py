"""Every problem of an authoring document is reported at its JSON path in that document (not
in the native one it compiles into), as ``ConfigError`` problems, all at once."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import flagstone
from flagstone import ConfigError
from flagstone.formats import parse_snapshot

from .test_authoring import authoring

Doc = dict[str, Any]


def base() -> Doc:
    return authoring(
        {
            "f": {
                "variants": {"on": True, "off": False},
                "default": "off",
                "rules": [{"when": {"beta": True}, "serve": "on"}],
            },
            "g": {"variants": {"a": 1}},
        },
        segments={"staff": {"when": {"user.email": {"endsWith": "@acme.example"}}}},
    )


def rule(doc: Doc, body: Doc, index: int = 0) -> Doc:
    rules = doc["flags"]["f"]["rules"]
    if index < len(rules):
        rules[index] = body
    else:
        rules.append(body)
    return doc


def when(condition: Any) -> Callable[[Doc], Doc]:
    return lambda doc: rule(doc, {"when": condition, "serve": "on"})


def setting(path: list[Any], value: Any) -> Callable[[Doc], Doc]:
    def change(doc: Doc) -> Doc:
        holder = doc
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value
        return doc

    return change


TEST = {
    "name": "workflows/abtest/instances/t",
    "state": "live",
    "abtest": {"treatments": [{"variant": "flags/g/variants/a", "weight": 10000}]},
}

CASES: list[tuple[str, Callable[[Doc], Doc], str, str]] = [
    ("unknown top-level key", setting(["junk"], 1), "$.junk", "unknown field"),
    ("flag name with /", setting(["flags", "a/b"], {"variants": {}}), '$.flags["a/b"]', "no '/'"),
    ("flag name with .", setting(["flags", "a.b"], {"variants": {}}), '$.flags["a.b"]', "'.'"),
    ("segment name with .", setting(["segments", "a.b"], {}), '$.segments["a.b"]', "'.'"),
    (
        "unknown flag field",
        setting(["flags", "f", "rulez"], []),
        "$.flags.f.rulez",
        "unknown field",
    ),
    (
        "variants not an object",
        setting(["flags", "f", "variants"], []),
        "$.flags.f.variants",
        "object",
    ),
    ("missing variants", lambda d: {**d, "flags": {"f": {}}}, "$.flags.f.variants", "missing"),
    (
        "null value",
        setting(["flags", "f", "variants", "on"], None),
        "$.flags.f.variants.on",
        "a variant's value is",
    ),
    (
        "variant name with /",
        setting(["flags", "f", "variants", "o/n"], 1),
        '$.flags.f.variants["o/n"]',
        "a variant's name has no '/'",
    ),
    (
        "unknown default",
        setting(["flags", "f", "default"], "of"),
        "$.flags.f.default",
        "unknown variant 'of'",
    ),
    ("enabled not a bool", setting(["flags", "f", "enabled"], 0), "$.flags.f.enabled", "boolean"),
    (
        "serve an unknown variant",
        lambda d: rule(d, {"serve": "nope"}),
        "$.flags.f.rules[0].serve",
        "unknown variant 'nope'",
    ),
    (
        "split an unknown variant",
        lambda d: rule(d, {"serve": {"nope": 10}}),
        "$.flags.f.rules[0].serve.nope",
        "unknown variant 'nope'",
    ),
    (
        "serve a number",
        lambda d: rule(d, {"serve": 3}),
        "$.flags.f.rules[0].serve",
        "expected a variant's name",
    ),
    (
        "a share over 100",
        lambda d: rule(d, {"serve": {"on": 101}}),
        "$.flags.f.rules[0].serve.on",
        "not a percentage",
    ),
    (
        "a share that is a string",
        lambda d: rule(d, {"serve": {"on": "10"}}),
        "$.flags.f.rules[0].serve.on",
        "expected a percentage",
    ),
    (
        "shares over 100 together",
        lambda d: rule(d, {"serve": {"on": 60, "off": 50}}),
        "$.flags.f.rules[0].serve",
        "total 110",
    ),
    (
        "a share finer than a bucket",
        lambda d: rule(d, {"serve": {"on": 12.345}}),
        "$.flags.f.rules[0].serve.on",
        "not a whole number of the rule's 10000 buckets",
    ),
    (
        "a share finer than the rule's own buckets",
        lambda d: rule(d, {"serve": {"on": 12.5}, "buckets": 100}),
        "$.flags.f.rules[0].serve.on",
        "100 buckets",
    ),
    (
        "buckets on a single variant",
        lambda d: rule(d, {"serve": "on", "buckets": 10}),
        "$.flags.f.rules[0].buckets",
        "one variant has no buckets",
    ),
    (
        "zero buckets",
        lambda d: rule(d, {"serve": {"on": 10}, "buckets": 0}),
        "$.flags.f.rules[0].buckets",
        "greater than 0",
    ),
    (
        "two unnamed split rules",
        lambda d: rule(rule(d, {"serve": {"on": 10}}), {"serve": {"on": 20}}, 1),
        "$.flags.f.rules[1]",
        "unnamed split rule",
    ),
    (
        "two rules with one name",
        lambda d: rule(rule(d, {"name": "x", "serve": "on"}), {"name": "x", "serve": "off"}, 1),
        "$.flags.f.rules[1].name",
        "rule names are unique",
    ),
    (
        "a rule named as the default",
        lambda d: rule(d, {"name": "default", "serve": "on"}),
        "$.flags.f.rules[0].name",
        "the flag's default",
    ),
    (
        "a rule name with /",
        lambda d: rule(d, {"name": "a/b", "serve": "on"}),
        "$.flags.f.rules[0].name",
        "no '/'",
    ),
    (
        "an unknown rule field",
        lambda d: rule(d, {"serve": "on", "wen": {}}),
        "$.flags.f.rules[0].wen",
        "unknown field",
    ),
    ("an empty and", when({"and": []}), "$.flags.f.rules[0].when.and", "an empty 'and'"),
    (
        "an empty condition inside",
        when({"not": {}}),
        "$.flags.f.rules[0].when.not",
        "an empty condition",
    ),
    (
        "an unknown segment",
        when({"segment": "nope"}),
        "$.flags.f.rules[0].when.segment",
        "no segment 'nope'",
    ),
    (
        "gt and gte",
        when({"age": {"gt": 1, "gte": 2}}),
        "$.flags.f.rules[0].when.age.gte",
        "one lower",
    ),
    ("a null bound", when({"age": {"lt": None}}), "$.flags.f.rules[0].when.age.lt", "a bound is"),
    (
        "a boolean bound",
        when({"age": {"lt": True}}),
        "$.flags.f.rules[0].when.age.lt",
        "a bound is",
    ),
    ("no test", when({"age": {}}), "$.flags.f.rules[0].when.age", "no test"),
    (
        "an unknown operator",
        when({"age": {"above": 3}}),
        "$.flags.f.rules[0].when.age.above",
        "unknown field",
    ),
    (
        "a list as a bound",
        when({"age": {"gte": [1]}}),
        "$.flags.f.rules[0].when.age.gte",
        "expected a string, number, boolean or null",
    ),
    (
        "startsWith a number",
        when({"name": {"startsWith": 3}}),
        "$.flags.f.rules[0].when.name.startsWith",
        "valid string",
    ),
    (
        "any with two tests",
        when({"tags": {"any": {"startsWith": "a", "endsWith": "b"}}}),
        "$.flags.f.rules[0].when.tags.any",
        "one test",
    ),
    (
        "any inside any",
        when({"tags": {"any": {"any": "x"}}}),
        "$.flags.f.rules[0].when.tags.any.any",
        "not an element",
    ),
    (
        "an empty attribute part",
        when({"a..b": 1}),
        '$.flags.f.rules[0].when["a..b"]',
        "not a context attribute",
    ),
    (
        "a version without its text",
        when({"app.version": {"gte": {"version": 2}}}),
        '$.flags.f.rules[0].when["app.version"].gte.version',
        "valid string",
    ),
    (
        "a rollout finer than 0.0001 %",
        setting(["segments", "staff", "rollout"], 12.345678),
        "$.segments.staff.rollout",
        "0.0001 %",
    ),
    (
        "a segment's unknown field",
        setting(["segments", "staff", "rolout"], 1),
        "$.segments.staff.rolout",
        "unknown field",
    ),
    (
        "an unknown A/B test",
        setting(["flags", "f", "abtest"], "t"),
        "$.flags.f.abtest",
        "no A/B test 't'",
    ),
    (
        "an A/B test of another flag",
        lambda d: setting(["flags", "f", "abtest"], "t")({**d, "abtests": [TEST]}),
        "$.flags.f.abtest",
        "assigns flags/g, not flags/f",
    ),
    (
        "one salt, two conditions",
        lambda d: rule(
            rule(d, {"name": "x", "when": {"beta": True}, "serve": "on", "salt": "s"}),
            {"name": "y", "when": {"beta": False}, "serve": "on", "salt": "s"},
            1,
        ),
        "$.flags.f.rules[1].salt",
        "rules that share a salt share their condition",
    ),
    (
        "a salt that is another flag's segment",
        lambda d: setting(["flags", "g", "rules"], [{"serve": "a", "salt": "f.0"}])(d),
        "$.flags.g.rules[0].salt",
        "another salt",
    ),
    ("an account with /", setting(["account"], "a/b"), "$.account", "account's id"),
    ("a boolean version", setting(["version"], True), "$.version", "string"),
    (
        "a format of another version",
        setting(["format"], "flagstone/flags@2"),
        "$.format",
        "unknown format",
    ),
    # found by the native validation, translated to the authoring path
    (
        "segments referencing each other",
        lambda d: {
            **d,
            "segments": {"a": {"when": {"segment": "b"}}, "b": {"when": {"segment": "a"}}},
        },
        "$.segments.",
        "cycle",
    ),
    (
        "a malformed unit",
        setting(["flags", "f", "unit"], "a..b"),
        "$.flags.f.rules[0]",
        "not a dotted path",
    ),
    (
        "an unknown client",
        setting(["flags", "f", "clients"], ["web"]),
        "$.flags.f.clients[0]",
        "unknown client",
    ),
    (
        "an A/B test's own problem",
        lambda d: {
            **d,
            "abtests": [
                {
                    **TEST,
                    "abtest": {"treatments": [{"variant": "flags/g/variants/a", "weight": 10}]},
                }
            ],
        },
        "$.abtests[0].abtest.treatments",
        "10000",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [pytest.param(change, path, message, id=name) for name, change, path, message in CASES],
)
def test_a_problem_is_reported_at_its_authoring_path(
    change: Callable[[Doc], Doc], path: str, message: str
) -> None:
    document = change(copy.deepcopy(base()))
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(document)
    found = [(p.path, p.message) for p in raised.value.problems]
    assert any(
        (p == path or (path.endswith(".") and p.startswith(path))) and message in m
        for p, m in found
    ), found
    assert all(p.startswith("$") and '"flags/' not in p and '"segments/' not in p for p, _ in found)


def test_every_problem_is_reported_at_once_with_the_file_named(tmp_path: Any) -> None:
    document = base()
    document["flags"]["f"]["default"] = "of"
    document["flags"]["g"]["rules"] = [{"serve": {"a": 200}}]
    document["flags"]["h.i"] = {"variants": {}}
    document["abtests"] = [
        {**TEST, "abtest": {"treatments": [{"variant": "flags/g/variants/a", "weight": "x"}]}}
    ]
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as raised:
        flagstone.Client.from_file(path)
    assert {p.path for p in raised.value.problems} >= {
        "$.flags.f.default",
        "$.flags.g.rules[0].serve.a",
        '$.flags["h.i"]',
        "$.abtests[0].abtest.treatments[0].weight",
    }
    assert str(path) in str(raised.value)


def test_a_broken_flag_does_not_make_its_ab_test_report_an_unknown_flag() -> None:
    document = base()
    document["flags"]["g"]["default"] = "nope"
    document["abtests"] = [TEST]
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(document)
    assert [p.path for p in raised.value.problems] == ["$.flags.g.default"]


def test_a_warning_is_logged_and_kept_at_its_authoring_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = base()
    document["flags"]["f"]["rules"][0]["when"] = {"app.version": {"gte": {"version": "v2.0.0"}}}
    document["segments"]["staff"]["when"] = {"app.version": {"lt": {"version": "v3"}}}
    with caplog.at_level("WARNING", logger="flagstone"):
        parsed = parse_snapshot(document, source="flags.json")
    assert sorted(w.path for w in parsed.warnings) == [
        "$.flags.f.rules[0].when",
        "$.segments.staff.when",
    ]
    assert "$.flags.f.rules[0].when" in caplog.text and "flags.json" in caplog.text
    assert parse_snapshot(document, strict=False).warnings == ()
