"""One A/B test written in the three shapes resolves to the same variant text for the same
units: ``Resolution.variant`` (and the exposure's ``variant``) is the variant's name as a
native snapshot defines it, ``C`` rather than ``flags/greeting/variants/C``, whichever shape
the test was read from.

The native form is the one the Confidence resolver conformance suite expects: its state names
variants ``on``/``off`` and a resolved flag's ``variant`` is that name
(``../shared/conformance/confidence-resolver-spec/``; the conformance tests keep passing).

The test is the same in each shape: experiment id ``greeting`` (so every shape buckets on the
salt ``abtest-greeting``), flag ``flags/greeting``, treatments ``C`` then ``T1`` at 50 % each,
everyone exposed, running, with the override ``qa-1`` → ``T1``. The Experiments API has no
overrides, so its file leaves that one out.
"""

from __future__ import annotations

from typing import Any

import pytest

import flagstone
from flagstone.formats import alexa, experiments_api

UNITS = [f"customer-{index}" for index in range(400)]
TREATMENTS = ("C", "T1")


def native() -> dict[str, Any]:
    return {
        "flags": {
            "flags/greeting": {
                "name": "flags/greeting",
                "variants": [
                    {"name": treatment, "value": {"treatment": treatment}}
                    for treatment in TREATMENTS
                ],
            }
        },
        "abtests": [
            {
                "name": "workflows/abtest/instances/greeting",
                "state": "live",
                "flags": {"targetingKeySelector": "targeting_key"},
                "abtest": {
                    "treatments": [
                        {"variant": f"flags/greeting/variants/{treatment}", "weight": 5000}
                        for treatment in TREATMENTS
                    ]
                },
                "treatmentOverrides": {"qa-1": "T1"},
            }
        ],
    }


def from_alexa() -> dict[str, Any]:
    return alexa.read(
        {
            "experiments": [
                {
                    "experimentId": "greeting",
                    "experiment": {
                        "name": "greeting",
                        "description": "",
                        "type": "ENDPOINT_BASED",
                        "plannedDuration": "P2W",
                        "exposurePercentage": 100,
                        "metricConfigurations": [],
                        "state": "RUNNING",
                    },
                    "treatmentOverrides": {"qa-1": "T1"},
                }
            ]
        }
    )


def from_experiments_api() -> dict[str, Any]:
    return experiments_api.read(
        {
            "experiments": [
                {
                    "id": "greeting",
                    "name": "Greeting",
                    "status": "running",
                    "variants": [
                        {"id": treatment, "name": treatment, "splitPercentage": 50}
                        for treatment in TREATMENTS
                    ],
                }
            ]
        }
    )


SHAPES = {"native": native, "alexa": from_alexa, "experiments-api": from_experiments_api}


def variants(document: dict[str, Any], units: list[str]) -> list[str | None]:
    client = flagstone.Client.from_dict(document)
    return [client.evaluate("greeting", {"targeting_key": unit}).variant for unit in units]


def test_the_same_units_resolve_to_the_same_variant_text_in_every_shape() -> None:
    served = {shape: variants(read(), UNITS) for shape, read in SHAPES.items()}

    assert served["alexa"] == served["native"]
    assert served["experiments-api"] == served["native"]
    assert set(served["native"]) == set(TREATMENTS)  # the names the snapshot defines


@pytest.mark.parametrize("shape", ["native", "alexa"])
def test_an_override_resolves_to_the_same_variant_text(shape: str) -> None:
    (variant,) = variants(SHAPES[shape](), ["qa-1"])

    assert variant == "T1"


@pytest.mark.parametrize("shape", list(SHAPES))
def test_exposures_record_the_same_variant_text(shape: str) -> None:
    sink = flagstone.sinks.MemorySink()
    client = flagstone.Client.from_dict(SHAPES[shape](), sinks=[sink])
    for unit in UNITS[:50]:
        client.evaluate("greeting", {"targeting_key": unit})
    client.close()

    recorded = [event["variant"] for event in sink.events]

    assert recorded == variants(native(), UNITS[:50])
