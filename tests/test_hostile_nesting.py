"""Nesting in a hostile snapshot: chains of segment references, deep JSON, deep expressions
(issue 14, item 7). Every case is a ``ConfigError`` (the command line's problems output,
exit 1), never a ``RecursionError``.

The limits (``flagstone.model.limits``): a chain of segment references is at most 16
segments long; an expression nests ``and``/``or``/``not`` at most 32 levels; a document
nests objects and arrays at most 200 levels, whether it is given as text (the JSON decoder's
limit) or already decoded (``Client.from_dict``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone import Reason
from flagstone.formats import parse_snapshot
from tests import builders as b
from tests.commandline import CliRunner

FLAG = "flags/chained"


def chain(length: int, *, abtest_at_top: bool = False) -> dict[str, Any]:
    """A flag on segment ``s0``; ``s{i}`` references ``s{i+1}``, and the last one targets
    country SE: ``length`` segments in all, every one of them evaluated for a unit."""
    segments = [
        b.segment(
            f"s{index}", targeting=b.targeting({"c": b.in_segment(f"s{index + 1}")}, b.ref("c"))
        )
        for index in range(length - 1)
    ]
    segments.append(
        b.segment(f"s{length - 1}", targeting=b.attribute_is("country", b.string("SE")))
    )
    return b.snapshot(
        b.flag(
            "chained",
            {"on": {"on": True}},
            [b.everyone_gets(f"{FLAG}/rules/r", "on", segment="s0")],
        ),
        segments=segments,
    )


@pytest.mark.parametrize("strict", [True, False])
def test_a_chain_of_143_segment_references_is_a_config_error_naming_the_chain(strict: bool) -> None:
    with pytest.raises(flagstone.ConfigError) as caught:
        flagstone.Client.from_dict(chain(144), strict=strict)
    [problem] = caught.value.problems
    assert problem.path == '$.segments["segments/s0"].targeting'
    assert "144 segments deep" in problem.message
    assert problem.message.count("→") >= 5
    assert "segments/s0 → segments/s1" in problem.message
    assert "segments/s143" in problem.message
    assert "at most 16" in problem.message


def test_a_chain_of_16_segments_loads_and_evaluates_every_link() -> None:
    client = flagstone.Client.from_dict(chain(16))
    assert client.evaluate("chained", {"targeting_key": "u", "country": "SE"}).variant == "on"
    assert client.evaluate("chained", {"targeting_key": "u", "country": "NO"}).reason == (
        Reason.NO_SEGMENT_MATCH
    )


def test_a_chain_of_17_segments_is_refused() -> None:
    with pytest.raises(flagstone.ConfigError, match="17 segments deep"):
        parse_snapshot(json.dumps(chain(17)))


def test_a_chain_through_an_abtest_segment_counts_it() -> None:
    """An A/B test's segment referencing a 16-segment chain makes 17."""
    document = chain(16)
    document["flags"]["flags/ab"] = b.flag("ab", {"control": {}, "treatment": {}})
    document["abtests"] = [
        b.abtest(
            "ab-test",
            flag="ab",
            segment={"targeting": b.targeting({"c": b.in_segment("s0")}, b.ref("c"))},
        )
    ]
    with pytest.raises(flagstone.ConfigError) as caught:
        flagstone.Client.from_dict(document)
    [problem] = caught.value.problems
    assert problem.path == "$.abtests[0].segment.targeting"
    assert "17 segments deep" in problem.message


def nested_objects(levels: int) -> dict[str, Any]:
    """``{"a": {"a": … {"a": 1}}}``: ``levels`` objects, one inside the other."""
    value: dict[str, Any] = {"a": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def valued(value: dict[str, Any]) -> dict[str, Any]:
    """A snapshot whose one variant has ``value``, which sits at level 6 of the document
    (document, flags, the flag, variants, the variant, the value)."""
    return b.snapshot(
        b.flag("f", {"on": value}, [b.everyone_gets("flags/f/rules/r", "on")]),
        segments=[b.segment()],
    )


def test_a_value_nested_1000_deep_is_a_config_error_from_a_decoded_document() -> None:
    value: Any = 1
    for _ in range(1000):
        value = [value]
    with pytest.raises(flagstone.ConfigError) as caught:
        flagstone.Client.from_dict(valued({"deep": value}))
    [problem] = caught.value.problems
    assert problem.path == "$"
    assert "nests more than 200 levels deep" in problem.message


@pytest.mark.parametrize("levels", [195, 196])
def test_decoded_and_text_documents_share_the_nesting_limit(levels: int) -> None:
    """A value of 195 levels makes a document of 200: it loads, whether given as text or
    decoded. One more level is refused both ways (the text by the JSON decoder, the decoded
    document by validation, at the value's path)."""
    document = valued(nested_objects(levels))
    if levels == 195:
        assert (
            flagstone.Client.from_dict(document).evaluate("f", {"targeting_key": "u"}).variant
            == "on"
        )
        assert parse_snapshot(json.dumps(document)).model.flags
        return
    with pytest.raises(flagstone.ConfigError) as decoded:
        flagstone.Client.from_dict(document)
    assert [problem.path for problem in decoded.value.problems] == [
        '$.flags["flags/f"].variants[0].value'
    ]
    with pytest.raises(flagstone.ConfigError, match="nests more than 200 levels deep"):
        parse_snapshot(json.dumps(document).encode())


def test_text_nested_5000_deep_is_a_config_error() -> None:
    text = '{"flags": {}, "schema": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    with pytest.raises(flagstone.ConfigError, match="nests more than 200 levels deep"):
        parse_snapshot(text)


def not_chain(levels: int) -> dict[str, Any]:
    """``ref`` under ``levels - 1`` ``not``s: ``levels`` levels of expression."""
    expression = b.ref("se")
    for _ in range(levels - 1):
        expression = b.not_(expression)
    return expression


@pytest.mark.parametrize("levels", [32, 33])
def test_an_expression_nests_at_most_32_levels(levels: int) -> None:
    targeting = b.targeting({"se": b.attribute("country", b.eq(b.string("SE")))}, not_chain(levels))
    document = b.snapshot(
        b.flag("f", {"on": {}}, [b.everyone_gets("flags/f/rules/r", "on", segment="deep")]),
        segments=[b.segment("deep", targeting=targeting)],
    )
    if levels == 33:
        with pytest.raises(flagstone.ConfigError) as caught:
            flagstone.Client.from_dict(document)
        [problem] = caught.value.problems
        assert problem.path.startswith('$.segments["segments/deep"].targeting.expression.not.not')
        assert "more than 32 levels deep" in problem.message
        return
    client = flagstone.Client.from_dict(document)
    # 31 nots: the expression is "not SE"
    assert client.evaluate("f", {"targeting_key": "u", "country": "NO"}).variant == "on"
    assert client.evaluate("f", {"targeting_key": "u", "country": "SE"}).variant is None


# -- the command line ---------------------------------------------------------------------------

DEEP = "[" * 5000 + "]" * 5000


def problems_of(out: str) -> list[dict[str, str]]:
    document = json.loads(out)
    assert document["ok"] is False
    problems: list[dict[str, str]] = document["problems"]
    return problems


@pytest.mark.parametrize("command", [["list"], ["launch", "{file}", "t"], ["get", "{file}", "t"]])
def test_abtest_on_a_file_nested_5000_deep_prints_problems(
    cli: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    file = tmp_path / "deep.json"
    file.write_text('{"flags": {}, "abtests": [{"name": "x", "metrics": {"m": ' + DEEP + "}}]}")
    argv = [part.format(file=file) for part in command]
    if argv == ["list"]:
        argv.append(str(file))
    ran = cli("abtest", *argv)
    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    [problem] = problems_of(ran.stdout)
    assert problem["path"] == "$"
    assert "nests more than 200 levels deep" in problem["message"]


def test_abtest_create_with_a_body_nested_5000_deep_is_a_usage_error(
    cli: CliRunner, tmp_path: Path
) -> None:
    file = b.write(tmp_path / "flags.json", b.snapshot())
    ran = cli("abtest", "create", file, "--body", '{"x": ' + DEEP + "}")
    assert ran.returncode == 2
    assert "--body nests too deeply" in ran.stderr


@pytest.mark.parametrize("levels", [300, 5000])
def test_analyze_stats_on_a_file_nested_deep_prints_problems(
    cli: CliRunner, tmp_path: Path, levels: int
) -> None:
    """5 000 levels are beyond the JSON decoder; 300 decode, and are refused before the
    analysis reads them."""
    file = tmp_path / "stats.json"
    file.write_text('{"metrics": ' + "[" * levels + "]" * levels + "}")
    ran = cli("analyze-stats", file)
    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    [problem] = problems_of(ran.stdout)
    assert problem == {"path": "$", "message": "the document nests more than 200 levels deep"}


def test_abtest_create_refuses_a_test_that_would_nest_the_file_too_deep(
    cli: CliRunner, tmp_path: Path
) -> None:
    """A body of 300 levels decodes, but the file written with it could not be read back:
    the edit is refused (exit 1) and the file keeps its bytes."""
    document = b.snapshot(b.flag("checkout", {"control": {}, "treatment": {}}))
    file = b.write(tmp_path / "flags.json", document)
    before = file.read_bytes()
    body = b.abtest(None, flag="checkout", state=None)
    body["stats"] = {"deep": json.loads("[" * 300 + "]" * 300)}  # stats: free-form JSON
    ran = cli("abtest", "create", file, "--body", json.dumps(body), "--id", "deep")
    assert ran.returncode == 1
    [problem] = problems_of(ran.stdout)
    assert problem["path"] == "$.abtests[0].stats"
    assert "nests more than 200 levels deep" in problem["message"]
    assert file.read_bytes() == before
    assert parse_snapshot(before).model.flags


def nested_lists(levels: int) -> list[Any]:
    """``[[… [1]]]``: ``levels`` arrays, one inside the other."""
    value: list[Any] = [1]
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [nested_lists(195), nested_lists(196), [1, "a"], "plain", 3, True],
    ids=["lists-195", "lists-196", "flat-list", "string", "number", "boolean"],
)
def test_a_file_with_a_value_that_is_no_object_loads_as_parse_snapshot_reads_it(
    value: Any, tmp_path: Path
) -> None:
    """A variant's value may be any JSON value but null: read entity by entity
    (``Client.from_file``), a list nested to the limit loads, one level more is refused with
    the problems ``parse_snapshot`` names, and a scalar loads."""
    text = json.dumps(valued(value))  # type: ignore[arg-type]
    path = tmp_path / "snapshot.json"
    path.write_text(text)
    try:
        expected = parse_snapshot(text.encode()).model.flags
    except flagstone.ConfigError as error:
        with pytest.raises(flagstone.ConfigError) as caught:
            flagstone.Client.from_file(path)
        assert caught.value.problems == error.problems
        return
    assert expected
    resolved = flagstone.Client.from_file(path).evaluate("f", {"targeting_key": "u"})
    assert (resolved.variant, resolved.value) == ("on", value)
