"""flagstone in one screen: load a snapshot, resolve flags for a few users, record exposures.

    python examples/quickstart.py

Loads ``examples/flags.json`` (a checkout A/B test targeted at SE/NO/DK with a 50 %
allocation, a 25 % rollout of a new search backend, and a payments kill switch), resolves
every flag for a handful of users, and prints the variants and the exposure records that a
``JsonlSink`` wrote.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import flagstone

SNAPSHOT = Path(__file__).with_name("flags.json")

USERS = [
    {"targeting_key": "user-1", "country": "SE"},
    {"targeting_key": "user-2", "country": "SE"},
    {"targeting_key": "user-3", "country": "NO"},
    {"targeting_key": "user-4", "country": "US"},
    {"targeting_key": "user-9", "country": "DK"},
    {"targeting_key": "qa-tester-1", "country": "SE"},  # has a treatment override
    {"targeting_key": "ana", "country": "US", "user": {"email": "ana@acme-shop.example"}},
]


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        exposures = Path(directory) / "exposures.jsonl"
        client = flagstone.Client.from_file(SNAPSHOT, sinks=[flagstone.sinks.JsonlSink(exposures)])
        print(f"snapshot {client.snapshot_version}: {', '.join(client.flags)}\n")

        print(f"{'user':12} {'country':7} {'checkout-flag (reason)':34} {'new-search':10} payments")
        for context in USERS:
            checkout = client.evaluate("checkout-flag", context)
            search = client.evaluate("new-search", context)
            payments_on = client.get_value("payments-enabled.enabled", context, default=False)
            shown = f"{checkout.variant or 'app default'} ({checkout.reason.name})"
            print(
                f"{context['targeting_key']:12} {context['country']:7} {shown:34} "
                f"{search.variant or '-':10} {'on' if payments_on else 'off'}"
            )

        # The value is a read-only dict; get_value reads one field with a typed default.
        layout = client.get_value("checkout-flag.layout", USERS[0], default="classic")
        print(f"\nuser-1 sees the {layout!r} checkout layout")

        client.close()  # flushes the sink
        records = [json.loads(line) for line in exposures.read_text().splitlines()]
        print(f"\n{len(records)} exposures written to {exposures.name}; the first one:")
        print(json.dumps(records[0], indent=2))


if __name__ == "__main__":
    main()
