"""A stdlib WSGI app that resolves a flag on every request.

    python examples/web_handler.py            # serves http://127.0.0.1:8000/checkout?user=u1&country=SE

The client is built once, at start-up; each request only calls ``evaluate``, which resolves
locally (no network) and never raises. Exposures go through a ``BatchingSink`` (the request
only queues them; a worker thread writes batches) to a ``JsonlSink`` rotated at 64 MB, with a
spool directory for batches the file system refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

import flagstone

SNAPSHOT = Path(__file__).with_name("flags.json")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_app(
    client: flagstone.Client,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application serving ``/checkout`` with the layout the user's variant picks."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") != "/checkout":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        context = {
            "targeting_key": query.get("user", ["anonymous"])[0],
            "country": query.get("country", [""])[0],
        }
        resolution = client.evaluate("checkout-flag", context)
        value = resolution.value or {"layout": "classic", "steps": 3}  # the app's default
        body = json.dumps(
            {
                "user": context["targeting_key"],
                "layout": value["layout"],
                "steps": value["steps"],
                "variant": resolution.variant,
                "reason": resolution.reason.value,
            }
        ).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def main(port: int = 8000) -> None:
    exposures = flagstone.sinks.BatchingSink(
        flagstone.sinks.JsonlSink("exposures.jsonl", max_bytes=64 << 20, keep=10),
        spool_dir="exposure-spool",
    )
    client = flagstone.Client.from_file(SNAPSHOT, sinks=[exposures])
    with make_server("127.0.0.1", port, make_app(client)) as server:
        print(f"serving http://127.0.0.1:{port}/checkout?user=u1&country=SE (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
