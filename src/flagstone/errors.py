"""The exception hierarchy of flagstone.

Every exception flagstone raises on purpose derives from ``FlagstoneError``::

    FlagstoneError
     ├── ConfigError            a snapshot (or a change to one) is invalid; lists every
     │    │                     problem with the JSON path where it was found
     │    ├── UnknownClientError  a client secret that the snapshot does not know
     │    └── IntegrityError     a fetched snapshot failed its signature or digest check
     ├── LifecycleError         an A/B-test action that its current state does not allow
     ├── AbTestNotFound         no A/B test (or override) by that name (also a LookupError)
     ├── FlagNotFound           no flag (or rule of a flag) by that name in a document being
     │                          edited (also a LookupError)
     ├── OverrideError          a test override names a flag or a variant that the clients'
     │                          snapshots do not have (also a LookupError)
     ├── PipelineError          exposures and events cannot be aggregated as asked: an unknown
     │                          test, metric or column, no exposures, an empty window, naive
     │                          or mixed timestamps, unreadable files (one line; also a
     │                          ValueError)
     ├── DocumentLockTimeout    another editor held a snapshot file's lock too long (also a
     │                          TimeoutError)
     ├── FetchError             a snapshot could not be fetched: network, HTTP status, size,
     │                          encoding (the source's status shows it; never raised to callers
     │                          of ``evaluate``)
     ├── TransportError         an HTTP exchange failed: connection, TLS, proxy, deadline,
     │                          redirects, size, encoding (``flagstone.transport``; the URL source
     │                          and ``HttpSink`` turn it into ``FetchError`` / ``SinkError``)
     ├── SinkError              an exposure sink could not deliver a batch (raised by a
     │    │                     sink's ``write_batch`` to the batching sink that retries it)
     │    └── PartialDelivery   only the first ``delivered`` records of the batch got through
     └── SpoolFull              appending to an exposure spool would pass its bound (also an
                                OSError)

Lower-level errors (pydantic's ``ValidationError``, ``json.JSONDecodeError``, ``OSError``
while reading a snapshot) are translated into these at the boundary where they enter.
``Client.evaluate`` never raises any of them: request-path problems become a
``Resolution`` with a reason and an error code instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AbTestNotFound",
    "ConfigError",
    "DocumentLockTimeout",
    "FetchError",
    "FlagNotFound",
    "FlagstoneError",
    "IntegrityError",
    "LifecycleError",
    "OverrideError",
    "PartialDelivery",
    "PipelineError",
    "Problem",
    "SinkError",
    "SpoolFull",
    "TransportError",
    "UnknownClientError",
]


class FlagstoneError(Exception):
    """Base class of every error flagstone raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One defect in a snapshot: where it is (a JSON path such as
    ``$.flags["flags/checkout"].rules[0].segment``) and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(FlagstoneError):
    """A snapshot, or a change to one, is invalid.

    ``problems`` names every defect found, each with its JSON path, so one run of
    ``python -m flagstone validate`` shows everything that needs fixing. A snapshot
    that raises this never replaces the one a client is serving.
    """

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem] | str, *, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = (Problem("$", problems),)
        self.problems = tuple(problems)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" in {self.source}" if self.source else ""
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''}{where}"
        return head + "".join(f"\n  {problem}" for problem in self.problems)

    @property
    def messages(self) -> Sequence[str]:
        """Each problem as one ``"path: message"`` line."""
        return [str(problem) for problem in self.problems]


class UnknownClientError(ConfigError):
    """A ``client_secret`` that no client credential of the snapshot carries."""


class IntegrityError(ConfigError):
    """A snapshot whose signature or sha256 does not match what the client requires: refused
    like any invalid snapshot."""


class LifecycleError(FlagstoneError):
    """An A/B-test action that the test's current state does not allow."""

    def __init__(
        self, message: str, *, state: str | None = None, allowed: Sequence[str] = ()
    ) -> None:
        self.state = state
        self.allowed = tuple(allowed)
        super().__init__(message)


class FlagNotFound(FlagstoneError, LookupError):
    """No flag (or rule of a flag) by that name in a document being edited (``python -m
    flagstone flag``)."""


class OverrideError(FlagstoneError, LookupError):
    """A test override (``flagstone.testing.override``, the ``flag_overrides`` fixture,
    ``Client.override``) names a flag no open client has, or a variant its flag does not
    have. ``flag`` is the full flag name; ``variants`` the flag's variants (empty when the
    flag is unknown)."""

    def __init__(self, message: str, *, flag: str, variants: Sequence[str] = ()) -> None:
        self.flag = flag
        self.variants = tuple(variants)
        super().__init__(message)


class AbTestNotFound(FlagstoneError, LookupError):
    """No A/B test by the name asked for (or no override for the unit asked for)."""


class PipelineError(FlagstoneError, ValueError):
    """The aggregation of exposures and events into an experiment's statistics cannot run as
    asked (``flagstone.analysis.aggregate``): an unknown test, metric or column, no exposures
    at all, a metric window that is empty at the analysis time, timestamps without a time
    zone (or some with and some without), files that cannot be read. Its message is one
    line; malformed lines are not errors (they are counted and reported)."""


class SinkError(FlagstoneError):
    """A sink could not deliver a batch of exposure records. ``write_batch`` raises it (or
    any other exception) so that ``BatchingSink`` retries, spools or counts the batch;
    ``emit`` never lets it reach a request."""


class PartialDelivery(SinkError):
    """The first ``delivered`` records of a batch were delivered, the rest were not: a retry
    resends only the rest, so nothing is recorded twice."""

    def __init__(self, message: str, *, delivered: int) -> None:
        self.delivered = delivered
        super().__init__(message)


class SpoolFull(FlagstoneError, OSError):
    """Appending to an exposure spool would take this process's part of it past its bound."""


class FetchError(FlagstoneError):
    """A snapshot could not be fetched (network, HTTP status, size, encoding)."""


class TransportError(FlagstoneError):
    """An HTTP exchange failed: the connection, TLS, the proxy, the deadline, a redirect that
    is not followed, a body too large or badly encoded. Raised by ``flagstone.transport``;
    any other exception a transport raises is translated into it where it enters."""


class DocumentLockTimeout(FlagstoneError, TimeoutError):
    """Another editor held the lock of a snapshot file for longer than the timeout."""

    def __init__(
        self, path: str | os.PathLike[str], lock: str | os.PathLike[str], timeout: float
    ) -> None:
        self.path = os.fspath(path)
        self.lock = lock
        self.timeout = timeout
        super().__init__(
            f"{self.path}: another edit has held the lock {lock} for more than {timeout:g} s"
        )
