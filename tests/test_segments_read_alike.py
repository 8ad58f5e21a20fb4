"""Segments whose texts are the same after their names are validated once and the others
renamed (issue 15, goal 1): each reads exactly as if validated on its own.

The reference is ``parse_snapshot``, which validates the whole document as one model; the
shortcut is seen at work when the segments' targeting objects are one object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flagstone import Client
from flagstone.formats.native import read_snapshot
from flagstone.formats.scan import Twins
from flagstone.model.summaries import Shared, summarize_segment

from . import builders as b
from .test_incremental_read import assert_reads_alike


def targeting(country: str) -> dict[str, Any]:
    return b.attribute_is("country", b.string(country))


def document(segments: list[dict[str, Any]]) -> dict[str, Any]:
    flags = [
        {
            "name": f"flags/f{index}",
            "variants": [{"name": "on", "value": {"on": True}}],
            "rules": [
                b.everyone_gets(
                    f"flags/f{index}/rules/r",
                    "on",
                    bucket_count=10,
                    segment=segment["name"].split("/", 1)[1],
                )
            ],
        }
        for index, segment in enumerate(segments)
    ]
    return {"account": {"name": "accounts/a"}, "flags": flags, "segments": segments}


ALIKE = [
    {"name": "segments/a", "targeting": targeting("SE")},
    {"name": "segments/b", "targeting": targeting("SE")},
    {"name": "segments/c", "targeting": targeting("NO")},
    {"name": "segments/d", "targeting": targeting("SE")},
    {"name": "segments/e"},
    {"name": "segments/f"},
]


def segment_models(raw: str | bytes) -> list[Any]:
    parsed = read_snapshot(raw, strict=True)
    parts = parsed.parts
    assert parts is not None, "read entity by entity"
    return [parts.model("segments", i) for i in range(len(parts.segments))]


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")], ids=["compact", "spaced"])
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "text"])
def test_segments_alike_but_for_the_name_read_as_if_validated_each(
    separators: tuple[str, str], as_bytes: bool
) -> None:
    text = json.dumps(document(ALIKE), separators=separators)
    raw: str | bytes = text.encode() if as_bytes else text
    assert_reads_alike(raw)
    models = segment_models(raw)
    assert [model.name for model in models] == [segment["name"] for segment in ALIKE]
    assert models[0].targeting is models[1].targeting is models[3].targeting  # shared
    assert models[2].targeting is not models[0].targeting


def test_a_name_written_with_an_escape_is_validated_on_its_own() -> None:
    text = json.dumps(document(ALIKE), separators=(",", ":"))
    text = text.replace('"name":"segments/b"', '"name":"segments\\/b"', 1)
    assert_reads_alike(text)
    models = segment_models(text)
    assert models[1].name == "segments/b"
    assert models[1].targeting is not models[0].targeting


def test_a_segment_whose_name_is_not_first_is_validated_on_its_own() -> None:
    segments = [dict(segment) for segment in ALIKE]
    segments[1] = {"targeting": targeting("SE"), "name": "segments/b"}
    text = json.dumps(document(segments), separators=(",", ":"))
    assert_reads_alike(text)
    models = segment_models(text)
    assert models[1].targeting is not models[0].targeting
    assert models[3].targeting is models[0].targeting


def test_a_bad_segment_after_a_good_twin_is_refused_alike() -> None:
    segments = [dict(segment) for segment in ALIKE]
    segments[1] = {"name": "segments/b", "targeting": targeting("SE"), "unknown": 1}
    assert_reads_alike(json.dumps(document(segments), separators=(",", ":")))


def test_renamed_segments_resolve_as_their_own(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(document(ALIKE), separators=(",", ":")))
    client = Client.from_file(path)
    for country, expected in (("SE", {"f0", "f1", "f3", "f4", "f5"}), ("NO", {"f2", "f4", "f5"})):
        context = {"targeting_key": "u", "country": country}
        matched = {
            name.split("/", 1)[1]
            for name, resolution in client.evaluate_all(context).items()
            if resolution.variant is not None
        }
        assert matched == expected


def test_a_key_written_twice_after_a_good_twin_is_refused_alike() -> None:
    text = json.dumps(document(ALIKE), separators=(",", ":"))
    twice = json.dumps(targeting("SE"), separators=(",", ":"))
    doubled = f'"name":"segments/b","targeting":{twice},"targeting":{twice}}}'
    text = text.replace(f'"name":"segments/b","targeting":{twice}}}', doubled, 1)
    assert doubled in text
    assert_reads_alike(text)


def test_segments_alike_but_for_what_follows_their_targeting_read_as_their_own() -> None:
    segments = [
        {"name": "segments/a", "targeting": targeting("SE")},
        {"name": "segments/b", "targeting": targeting("SE"), "allocation": {"proportion": 0.5}},
        {"name": "segments/c", "targeting": targeting("SE"), "allocation": {"proportion": 0.25}},
        {"name": "segments/d", "targeting": targeting("SE"), "allocation": {"proportion": 0.5}},
        {"name": "segments/e", "targeting": targeting("SEE")},
        {"name": "segments/f", "targeting": targeting("SEE")},
    ]
    text = json.dumps(document(segments), separators=(",", ":"))
    assert_reads_alike(text)
    models = segment_models(text)
    assert [m.allocation for m in models[1:4]] == [
        models[1].allocation,
        models[2].allocation,
        models[1].allocation,
    ]
    assert models[2].allocation != models[1].allocation
    assert models[3].allocation is models[1].allocation  # read as segments/b renamed
    assert models[5].targeting is models[4].targeting  # a text of another length


def test_looking_for_twins_stops_where_few_segments_have_one() -> None:
    twins = Twins()
    twins.add(b',"targeting":{}}', object())
    for index in range(64):
        assert twins.worth()
        assert twins.find(f'{{"name":"segments/s{index}","x":1}}'.encode(), 0) is None
    assert not twins.worth()  # 64 looked at, none had a twin


def test_looking_for_twins_goes_on_where_many_segments_have_one() -> None:
    twins = Twins()
    twins.add(b',"x":1}', "made")
    for index in range(200):
        text = f'{{"name":"segments/s{index}"' + (',"x":1}' if index % 3 else ',"y":1}')
        found = twins.find(text.encode(), 0)
        assert (found is not None) == bool(index % 3)
    assert twins.worth()  # two in three have a twin
    assert twins.find(b'{"name":"segments/z","x":1}', 0) == ("segments/z", "made", 27)


def test_a_document_of_distinct_segments_reads_alike() -> None:
    segments = [
        {"name": f"segments/s{index}", "targeting": targeting(f"C{index}")} for index in range(150)
    ]
    text = json.dumps(document(segments), separators=(",", ":"))
    assert_reads_alike(text)
    models = segment_models(text)
    assert len({id(model.targeting) for model in models}) == len(models)


@pytest.mark.parametrize("form", ["list", "map"])
def test_a_renamed_segment_is_summarised_as_if_summarised_on_its_own(form: str) -> None:
    segments = [*ALIKE, {"name": "segments/g", "targeting": targeting("SE")}]
    built = document(segments)
    if form == "map":
        built["segments"] = {segment["name"]: segment for segment in segments}
    parsed = read_snapshot(json.dumps(built, separators=(",", ":")), strict=True)
    parts = parsed.parts
    assert parts is not None
    keys = parts.keys["segments"]
    for position, summary in enumerate(parts.segments):
        model = parts.model("segments", position)
        assert summary == summarize_segment(model, Shared(), keys[position])
        assert summary.name is (keys[position] if form == "map" else model.name)
