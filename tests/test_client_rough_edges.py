"""Two rough edges of ``Client`` a new user hits: a signing key read from a file (with its
trailing newline) must verify as ``serve --signing-key-file`` reads it, and an unknown flag
is logged once per flag name at WARNING, never once per call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.sources import FunctionSource, sign_snapshot
from flagstone.transport import MockTransport, Response
from tests.live_scripts.livelib import CONTEXT, answers, document, expected_answers

KEY = "a-signing-key"
SIGNED, SIGNATURE = sign_snapshot(document("A"), KEY, issued_at="2026-01-01T00:00:01Z")
AS_READ_FROM_FILES: list[Any] = [f"{KEY}\n", f"{KEY}\r\n", f"  {KEY}\n".encode(), KEY.encode()]


@pytest.mark.parametrize("key", AS_READ_FROM_FILES, ids=["str-lf", "str-crlf", "bytes-ws", "bytes"])
def test_from_file_strips_the_keys_surrounding_whitespace(tmp_path: Path, key: Any) -> None:
    path = tmp_path / "flags.json"
    path.write_bytes(SIGNED)
    Path(f"{path}.sig").write_text(SIGNATURE)
    client = flagstone.Client.from_file(path, signing_key=key)
    assert answers(client.evaluate_all(CONTEXT)) == expected_answers("A")


@pytest.mark.parametrize("key", AS_READ_FROM_FILES, ids=["str-lf", "str-crlf", "bytes-ws", "bytes"])
def test_from_source_strips_the_keys_surrounding_whitespace(key: Any) -> None:
    with flagstone.Client.from_source(
        FunctionSource(lambda: (SIGNED, SIGNATURE)), signing_key=key, wait=True
    ) as client:
        assert answers(client.evaluate_all(CONTEXT)) == expected_answers("A")


def test_from_url_strips_the_keys_trailing_newline() -> None:
    def handler(request: Any) -> Response:
        return Response(200, headers={"X-Flagstone-Signature": SIGNATURE}, body=SIGNED)

    with flagstone.Client.from_url(
        "https://flags.test/flags.json",
        transport=MockTransport(handler),
        signing_key=KEY + "\n",
    ) as client:
        assert client.wait_until_ready(10), client.status()
        assert answers(client.evaluate_all(CONTEXT)) == expected_answers("A")


def test_another_key_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_bytes(SIGNED)
    Path(f"{path}.sig").write_text(SIGNATURE)
    with pytest.raises(flagstone.IntegrityError):
        flagstone.Client.from_file(path, signing_key=KEY + "x\n")


@pytest.mark.parametrize("key", ["", "\n", b"  "])
def test_a_blank_key_is_refused(tmp_path: Path, key: Any) -> None:
    path = tmp_path / "flags.json"
    path.write_bytes(SIGNED)
    with pytest.raises(ValueError, match="empty"):
        flagstone.Client.from_file(path, signing_key=key)


# -- unknown flags -------------------------------------------------------------------------


def unknown_flag_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "flagstone" and record.levelno == logging.WARNING
    ]


def test_an_unknown_flag_is_logged_once_per_name(caplog: pytest.LogCaptureFixture) -> None:
    client = flagstone.Client.from_dict(json_snapshot())
    with caplog.at_level(logging.WARNING, logger="flagstone"):
        for _ in range(50):
            client.evaluate("chekout", CONTEXT)
            client.get_bool("chekout.enabled", CONTEXT)
            client.evaluate("flags/chekout", CONTEXT)  # the same flag by its full name
            client.evaluate("serach", CONTEXT)
    logged = unknown_flag_warnings(caplog)
    assert len(logged) == 2
    assert "'flags/chekout'" in logged[0] and "FLAG_NOT_FOUND" in logged[0]
    assert "'flags/serach'" in logged[1]
    assert client.stats()["errors_flag_not_found"] == 200


def test_a_known_flag_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    client = flagstone.Client.from_dict(json_snapshot())
    flag = client.flags[0]
    with caplog.at_level(logging.DEBUG, logger="flagstone"):
        for _ in range(10):
            client.evaluate(flag, CONTEXT)
    assert caplog.records == []


def test_not_ready_is_no_unknown_flag(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flagstone"):
        client = flagstone.Client.from_source(FunctionSource(lambda: None), refresh_interval=3600)
        with client:
            client.evaluate("anything", CONTEXT)
    assert not [m for m in unknown_flag_warnings(caplog) if "anything" in m]


def test_the_names_remembered_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    client = flagstone.Client.from_dict(json_snapshot())
    bound = flagstone.client._UNKNOWN_FLAGS_REMEMBERED
    with caplog.at_level(logging.WARNING, logger="flagstone"):
        for index in range(bound + 10):
            client.evaluate(f"missing-{index}", CONTEXT)
        client.evaluate("missing-0", CONTEXT)  # forgotten: the oldest went first
        client.evaluate(f"missing-{bound + 9}", CONTEXT)  # remembered
    assert len(client._unknown_flags) == bound
    assert len(unknown_flag_warnings(caplog)) == bound + 10 + 1


def json_snapshot() -> dict[str, Any]:
    from tests.live_scripts.livelib import snapshot

    return snapshot("A")
