"""``flagstone.formats.quick``: the validators ``read_snapshot`` checks each flag and segment
with call no Python before whole numbers and variant values, and so take a subset of what
the models' own validators take, building equal models from it (issue 15, goal 1).

References: the models' own validators (``TypeAdapter(Flag)``, ``TypeAdapter(Segment)``) for
the models, and ``parse_snapshot`` (which reads the whole document with them) for what a
document reads as.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from flagstone.formats.native import read_snapshot
from flagstone.formats.quick import entity_validators
from flagstone.model import Flag, Segment

from .test_incremental_read import assert_reads_alike
from .test_snapshot_mutations import EXAMPLE, with_bitsets

MODELS: dict[str, TypeAdapter[Any]] = {"flags": TypeAdapter(Flag), "segments": TypeAdapter(Segment)}
QUICK = entity_validators.__wrapped__()
"""Built here, as ``read_snapshot`` builds them on first use (``entity_validators`` keeps
the first ones a process builds)."""


@pytest.mark.parametrize("document", [EXAMPLE, with_bitsets(EXAMPLE)])
@pytest.mark.parametrize("collection", ["flags", "segments"])
def test_the_quick_validators_build_the_models_own_models(
    document: dict[str, Any], collection: str
) -> None:
    for entity in document[collection].values():
        text = json.dumps(entity)
        quick = QUICK[collection].validate_json(text)
        assert type(quick) is type(MODELS[collection].validate_json(text))
        assert repr(quick) == repr(MODELS[collection].validate_json(text))


def _flag(**changes: Any) -> dict[str, Any]:
    """The example's first flag with a 50/50 rule whose pieces ``changes`` replace."""
    lower = changes.get("lower", 0)
    count = changes.get("bucketCount", 2)
    value = changes.get("value", {"x": 1})
    return {
        "name": "flags/f",
        "variants": [{"name": "on", "value": value}, {"name": "off", "value": {"x": 2}}],
        "rules": [
            {
                "name": "flags/f/rules/r",
                "segment": "segments/everyone",
                "assignmentSpec": {
                    "bucketCount": count,
                    "assignments": [
                        {
                            "assignmentId": "on",
                            "variant": {"variant": "on"},
                            "bucketRanges": [{"lower": lower, "upper": 1}],
                        },
                        {
                            "assignmentId": "off",
                            "variant": {"variant": "off"},
                            "bucketRanges": [{"lower": 1, "upper": 2}],
                        },
                    ],
                },
            }
        ],
    }


LEFT_TO_THE_MODELS = {
    # what the models take but the quick validators leave to them
    "a count as a decimal string": _flag(lower="0"),
    "a count as a whole float": _flag(lower=0.0),
    "a bucket count as a decimal string": _flag(bucketCount="2"),
    # what the models refuse, with their own messages
    "a count given as a boolean": _flag(lower=False),
    "a bucket count given as a boolean": _flag(bucketCount=True),
    "a null variant value": _flag(value=None),
}


@pytest.mark.parametrize("name", sorted(LEFT_TO_THE_MODELS))
def test_what_the_quick_validators_refuse_reads_as_the_models_read_it(name: str) -> None:
    flag = LEFT_TO_THE_MODELS[name]
    with pytest.raises(ValidationError):
        QUICK["flags"].validate_json(json.dumps(flag))
    document = copy.deepcopy(EXAMPLE)
    document["flags"] = {"flags/f": flag}
    document["abtests"] = []
    raw = json.dumps(document).encode()
    result = assert_reads_alike(raw)  # the same model, or the same problems
    if result[0] == "ok":
        assert read_snapshot(raw).parts is None  # read whole by parse_snapshot


def test_a_segment_count_left_to_the_models_reads_alike() -> None:
    document = copy.deepcopy(EXAMPLE)
    segment = next(iter(document["segments"].values()))
    segment["allocation"] = {
        "proportion": {"value": "1"},
        "bucketRanges": [{"lower": "0", "upper": 1_000_000}],
    }
    text = json.dumps(segment)
    with pytest.raises(ValidationError):
        QUICK["segments"].validate_json(text)
    MODELS["segments"].validate_json(text)  # the models take it
    assert assert_reads_alike(json.dumps(document).encode())[0] == "ok"
