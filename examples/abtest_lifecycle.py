"""Manage an A/B test in a snapshot document: create a draft, preview it with an override,
launch it, ramp it, end it. Run: python examples/abtest_lifecycle.py

It works on a copy of examples/flags.json in memory (``python -m flagstone abtest`` does the
same on the file itself, with a lock and an atomic write that rewrites only the changed test).
"""

from __future__ import annotations

import json
from pathlib import Path

import flagstone

SNAPSHOT = Path(__file__).resolve().parent / "flags.json"


def main() -> None:
    tests = flagstone.AbTests(json.loads(SNAPSHOT.read_text()))
    test = tests.create(
        {
            "displayName": "Search ranking",
            "flags": {"targetingKeySelector": "targeting_key"},
            "abtest": {
                "treatments": [
                    {"variant": "flags/new-search/variants/off", "weight": "5000"},
                    {"variant": "flags/new-search/variants/on", "weight": "5000"},
                ]
            },
            "segment": {"allocation": {"proportion": 0.1}},
        }
    )
    name = test["name"]
    print("created", name, test["state"])

    tests.set_override(name, "qa-1", "on")  # preview: only qa-1 sees a treatment
    preview = flagstone.Client.from_dict(tests.document)
    print("preview qa-1:", preview.evaluate("new-search", {"targeting_key": "qa-1"}).variant)

    tests.launch(name)
    tests.set_exposure(name, percentage=50)  # ramp: only up while live
    live = flagstone.Client.from_dict(tests.document)
    users = [f"user-{i}" for i in range(1000)]
    in_test = [
        u for u in users if live.evaluate("new-search", {"targeting_key": u}).rule == f"{name}/rule"
    ]
    print(f"live at 50 %: {len(in_test)} of {len(users)} users in the test")

    try:
        tests.set_exposure(name, percentage=20)
    except flagstone.LifecycleError as error:
        print("refused:", error)

    ended = tests.end(name)
    print(
        "ended at", ended["endTime"], "| live tests now:", len(tests.list(state="live")["abtests"])
    )


if __name__ == "__main__":
    main()
