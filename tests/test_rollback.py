"""Rollbacks: a validly signed snapshot that is older than one already accepted is refused.

With a ``signing_key``, each signed document carries a top-level ``issuedAt`` (RFC 3339, part
of the signed bytes); a client accepts a document only if it was issued later than the newest
one it accepted, or at the same time with the same bytes. The newest ``issuedAt`` is kept in
the disk cache's metadata, so a restart does not reopen the door; ``status()`` counts each
refusal; ``allow_rollback=True`` turns the rule off. A signed document without ``issuedAt``
is refused unless rollbacks are allowed.

Documents are published through a ``FunctionSource`` over a ``Publisher`` (what a CDN, S3 or
Redis would hold), signed with ``sign_snapshot``; signatures are checked here against
``hmac``/``hashlib`` directly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.abtests.storage import edit_document, patch_document
from flagstone.sources import FunctionSource, sign, sign_snapshot
from tests import builders as b
from tests.live_scripts.livelib import CONTEXT, answers, document, eventually, expected_answers

KEY = b"rollback-test-key"
POLL = 0.02
T1 = "2026-03-01T12:00:01Z"
T2 = "2026-03-01T12:00:02Z"
T3 = "2026-03-01T12:00:03Z"


class Publisher:
    """The document (and signature) a source function returns; counts the polls."""

    def __init__(self) -> None:
        self.current: tuple[bytes, str | None] | None = None
        self.polls = 0

    def publish(self, version: str, issued_at: str | None) -> bytes:
        """Snapshot ``version`` issued at ``issued_at`` (``None``: no ``issuedAt``), signed."""
        if issued_at is None:
            body = document(version)
            self.current = (body, sign(body, KEY))
        else:
            body, signature = sign_snapshot(document(version), KEY, issued_at=issued_at)
            self.current = (body, signature)
        return body

    def __call__(self) -> tuple[bytes, str | None] | None:
        self.polls += 1
        return self.current


@pytest.fixture
def follow(clients: list[Any]) -> Callable[..., flagstone.Client]:
    """``follow(publisher, **options)``: a client of ``publisher`` with ``KEY``, loaded
    before it is returned, polling every ``POLL`` seconds."""

    def make(publisher: Publisher, **options: Any) -> flagstone.Client:
        client = flagstone.Client.from_source(
            FunctionSource(publisher, name="cdn://flags"),
            **{"refresh_interval": POLL, "max_backoff": POLL, "signing_key": KEY, **options},
        )
        clients.append(client)
        return client

    return make


def serves(client: flagstone.Client, version: str) -> bool:
    return answers(client.evaluate_all(CONTEXT)) == expected_answers(version)


def polled_again(publisher: Publisher, times: int = 3) -> bool:
    """Whether the client polled ``times`` more times (so it has seen what is published)."""
    start = publisher.polls
    return eventually(lambda: publisher.polls >= start + times)


# -- in one process ------------------------------------------------------------------------


def test_an_older_signed_document_is_refused_and_counted(follow) -> None:
    publisher = Publisher()
    publisher.publish("B", T2)
    client = follow(publisher, wait=True)

    publisher.publish("A", T1)  # validly signed, issued before B

    assert eventually(lambda: client.status().rollbacks_refused >= 2), client.status()
    status = client.status()
    assert serves(client, "B")
    assert (status.snapshot_version, status.newest_issued_at) == ("B", T2)
    assert "rollback" in (status.last_error or "") and T1 in (status.last_error or "")
    assert status.failures >= status.rollbacks_refused  # a refusal is a failed check too

    publisher.publish("C", T3)
    assert eventually(lambda: serves(client, "C")), client.status()
    assert client.status().newest_issued_at == T3


def test_the_same_issued_at_with_other_content_is_refused(follow) -> None:
    publisher = Publisher()
    publisher.publish("B", T2)
    client = follow(publisher, wait=True)

    publisher.publish("C", T2)

    assert eventually(lambda: client.status().rollbacks_refused >= 1), client.status()
    assert serves(client, "B")


def test_the_same_document_again_is_no_rollback(follow) -> None:
    publisher = Publisher()
    publisher.publish("B", T2)
    client = follow(publisher, wait=True)

    assert polled_again(publisher)
    status = client.status()
    assert (status.rollbacks_refused, status.failures, status.updates) == (0, 0, 1)


def test_a_signed_document_without_issued_at_is_refused(follow) -> None:
    publisher = Publisher()
    publisher.publish("A", None)

    with pytest.raises(flagstone.IntegrityError, match="no issuedAt"):
        follow(publisher, wait=True)


def test_a_signed_document_without_issued_at_is_refused_after_one_with(follow) -> None:
    publisher = Publisher()
    publisher.publish("A", T1)
    client = follow(publisher, wait=True)

    publisher.publish("B", None)

    assert eventually(lambda: client.status().rollbacks_refused >= 1), client.status()
    assert serves(client, "A")


def test_allow_rollback_accepts_an_older_document_and_one_without_issued_at(follow) -> None:
    publisher = Publisher()
    publisher.publish("B", T2)
    client = follow(publisher, wait=True, allow_rollback=True)

    publisher.publish("A", T1)
    assert eventually(lambda: serves(client, "A")), client.status()
    publisher.publish("C", None)
    assert eventually(lambda: serves(client, "C")), client.status()
    assert client.status().rollbacks_refused == 0


def test_without_a_signing_key_issued_at_is_not_enforced(follow) -> None:
    publisher = Publisher()
    publisher.publish("B", T2)
    client = follow(publisher, wait=True, signing_key=None)

    publisher.publish("A", T1)

    assert eventually(lambda: serves(client, "A")), client.status()
    assert client.status().rollbacks_refused == 0


def test_a_static_signed_file_needs_issued_at(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    Path(f"{path}.sig").write_text(sign(document("A"), KEY))

    with pytest.raises(flagstone.IntegrityError, match="no issuedAt"):
        flagstone.Client.from_file(path, signing_key=KEY)
    client = flagstone.Client.from_file(path, signing_key=KEY, allow_rollback=True)
    assert serves(client, "A")


# -- across a restart, with the disk cache ---------------------------------------------------


def test_a_rollback_is_refused_after_a_restart_with_the_disk_cache(follow, tmp_path) -> None:
    cache = tmp_path / "cache" / "flags.json"
    publisher = Publisher()
    publisher.publish("B", T2)
    follow(publisher, wait=True, cache_path=cache).close()
    assert json.loads(Path(f"{cache}.meta.json").read_text())["issued_at"] == T2

    publisher.publish("A", T1)  # the source now serves an older, validly signed document
    restarted = follow(publisher, cache_path=cache)

    assert restarted.status().loaded_from == "cache" and serves(restarted, "B")
    assert eventually(lambda: restarted.status().rollbacks_refused >= 1), restarted.status()
    assert serves(restarted, "B")


def test_the_newest_issued_at_outlives_an_unusable_cached_document(follow, tmp_path) -> None:
    cache = tmp_path / "flags.json"
    publisher = Publisher()
    publisher.publish("B", T2)
    follow(publisher, wait=True, cache_path=cache).close()
    cache.write_bytes(b"{ torn")  # the cached document is lost, its metadata is not

    publisher.publish("A", T1)
    with pytest.raises(flagstone.IntegrityError, match="rollback"):
        follow(publisher, wait=True, cache_path=cache)


def test_allow_rollback_accepts_an_older_document_after_a_restart(follow, tmp_path) -> None:
    cache = tmp_path / "flags.json"
    publisher = Publisher()
    publisher.publish("B", T2)
    follow(publisher, wait=True, cache_path=cache).close()

    publisher.publish("A", T1)
    restarted = follow(publisher, cache_path=cache, allow_rollback=True)

    assert eventually(lambda: serves(restarted, "A")), restarted.status()


# -- sign_snapshot ---------------------------------------------------------------------------


def test_sign_snapshot_adds_issued_at_at_the_end_and_signs_the_new_bytes() -> None:
    original = b'{\n  "version": "v1",\n  "flags": {}\n}\n'

    body, signature = sign_snapshot(original, KEY, issued_at=T1)

    expected = '{\n  "version": "v1",\n  "flags": {},\n  "issuedAt": "' + T1 + '"\n}\n'
    assert body == expected.encode()
    assert signature == "sha256=" + hmac.new(KEY, body, hashlib.sha256).hexdigest()


def test_sign_snapshot_issues_now_by_default() -> None:
    before = datetime.now(timezone.utc)
    body, _ = sign_snapshot(b'{"flags": {}}', "a str key")
    after = datetime.now(timezone.utc)

    issued = datetime.fromisoformat(json.loads(body)["issuedAt"].replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= issued <= after


def test_sign_snapshot_advances_an_issued_at_that_is_ahead_of_the_clock() -> None:
    ahead = b'{"flags": {}, "issuedAt": "2999-01-01T00:00:00.999999Z", "version": "v1"}'

    body, _ = sign_snapshot(ahead, KEY)

    assert body == b'{"flags": {}, "issuedAt": "2999-01-01T00:00:01.000000Z", "version": "v1"}'


def test_sign_snapshot_refuses_an_issued_at_that_is_not_later() -> None:
    with pytest.raises(ValueError, match="not later"):
        sign_snapshot(b'{"flags": {}, "issuedAt": "' + T2.encode() + b'"}', KEY, issued_at=T1)
    with pytest.raises(ValueError, match="RFC 3339"):
        sign_snapshot(b'{"flags": {}}', KEY, issued_at="2026-03-01")


@pytest.mark.parametrize("document", [b"[1, 2]", b"{ not json"])
def test_sign_snapshot_refuses_what_is_not_a_json_object(document: bytes) -> None:
    with pytest.raises(flagstone.ConfigError):
        sign_snapshot(document, KEY)


@pytest.mark.parametrize("issued_at", ["2026-03-01", "2026-03-01T12:00:00", "yesterday", 5])
def test_a_snapshot_refuses_an_issued_at_that_is_not_rfc_3339_with_a_zone(issued_at) -> None:
    with pytest.raises(flagstone.ConfigError, match=r"\$\.issuedAt"):
        flagstone.Client.from_dict({"flags": {}, "issuedAt": issued_at})


# -- abtest edits advance issuedAt -----------------------------------------------------------


def experiment_file(tmp_path: Path, issued_at: str | None) -> Path:
    """A snapshot with a draft A/B test ``checkout-test`` on ``checkout`` (and ``issuedAt``)."""
    doc = b.snapshot(
        b.flag("checkout", {"control": {}, "treatment": {}}),
        abtests=[b.abtest("checkout-test", flag="checkout", state="draft")],
    )
    if issued_at is not None:
        doc["issuedAt"] = issued_at
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def issued(path: Path) -> datetime:
    text = json.loads(path.read_bytes())["issuedAt"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_abtest_edit_advances_issued_at_to_now(cli, tmp_path) -> None:
    path = experiment_file(tmp_path, T1)
    before = datetime.now(timezone.utc)

    result = cli("abtest", "launch", path, "checkout-test")

    assert result.returncode == 0, result.stderr
    assert before.replace(microsecond=0) <= issued(path) <= datetime.now(timezone.utc)
    assert json.loads(path.read_bytes())["abtests"][0]["state"] == "live"


def test_an_abtest_edit_advances_an_issued_at_ahead_of_the_clock_by_a_microsecond(
    cli, tmp_path
) -> None:
    path = experiment_file(tmp_path, "2999-01-01T00:00:00Z")

    assert cli("abtest", "launch", path, "checkout-test").returncode == 0

    assert json.loads(path.read_bytes())["issuedAt"] == "2999-01-01T00:00:00.000001Z"


def test_an_abtest_edit_adds_no_issued_at_to_a_document_without_one(cli, tmp_path) -> None:
    path = experiment_file(tmp_path, None)

    assert cli("abtest", "launch", path, "checkout-test").returncode == 0

    assert "issuedAt" not in json.loads(path.read_bytes())


def test_an_edit_that_changes_no_byte_keeps_issued_at(cli, tmp_path) -> None:
    path = experiment_file(tmp_path, T1)
    original = path.read_bytes()

    assert cli("abtest", "list", path).returncode == 0
    assert cli("abtest", "delete", path, "checkout-test-2").returncode != 0
    patch_document(path, lambda doc: (dict(doc), None))  # an equal document, not the same

    assert path.read_bytes() == original


def test_a_whole_document_edit_advances_issued_at(tmp_path) -> None:
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps({"experiments": [], "issuedAt": T1}))

    edit_document(path, lambda doc: doc["experiments"].append({"id": "e1"}), validate=print)

    edited = json.loads(path.read_bytes())
    assert edited["experiments"] == [{"id": "e1"}]
    assert issued(path) > datetime.fromisoformat(T1.replace("Z", "+00:00"))


def test_a_signed_client_accepts_the_edited_document(follow, cli, tmp_path) -> None:
    path = experiment_file(tmp_path, T1)
    publisher = Publisher()
    publisher.current = (path.read_bytes(), sign(path.read_bytes(), KEY))
    client = follow(publisher, wait=True)

    assert cli("abtest", "launch", path, "checkout-test").returncode == 0
    publisher.current = (path.read_bytes(), sign(path.read_bytes(), KEY))

    assert eventually(lambda: client.status().updates == 2), client.status()
    assert client.status().rollbacks_refused == 0
