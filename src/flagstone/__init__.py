"""flagstone: embedded feature flags and A/B tests that resolve exactly like Spotify
Confidence, in process.

>>> import flagstone
>>> client = flagstone.Client.from_file("flags.json", sinks=[flagstone.sinks.MemorySink()])
>>> client.evaluate("checkout-flag", {"targeting_key": "user-1", "country": "SE"}).variant
'new-checkout'
"""

import typing

from ._version import __version__
from .errors import (
    AbTestNotFound,
    ConfigError,
    FlagstoneError,
    IntegrityError,
    LifecycleError,
    OverrideError,
    Problem,
    UnknownClientError,
)
from .process.lazy import lazy_exports as _lazy_exports
from .reasons import ErrorCode, Reason
from .resolution import FallthroughAssignment, Resolution

if typing.TYPE_CHECKING:
    from . import live, sinks, sources, testing, transport
    from .abtests import AbTests
    from .client import Client, ValueDetails
    from .process.signals import install_signal_handlers
    from .stores.materializations import (
        MaterializationRecord,
        MaterializationStore,
        MemoryMaterializationStore,
    )
    from .stores.sqlite import SqliteMaterializationStore

__all__ = [
    "AbTestNotFound",
    "AbTests",
    "Client",
    "ConfigError",
    "ErrorCode",
    "FallthroughAssignment",
    "FlagstoneError",
    "IntegrityError",
    "LifecycleError",
    "MaterializationRecord",
    "MaterializationStore",
    "MemoryMaterializationStore",
    "OverrideError",
    "Problem",
    "Reason",
    "Resolution",
    "SqliteMaterializationStore",
    "UnknownClientError",
    "ValueDetails",
    "__version__",
    "install_signal_handlers",
    "live",
    "sinks",
    "sources",
    "testing",
    "transport",
]

# The client and everything past it are imported when first read (``flagstone.Client``):
# ``import flagstone`` alone loads neither pydantic nor the sources, sinks, HTTP, SQLite or
# the A/B-test lifecycle (goal 3 of issue 15; see README "Performance").
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "AbTests": ".abtests",
        "Client": ".client",
        "MaterializationRecord": ".stores.materializations",
        "MaterializationStore": ".stores.materializations",
        "MemoryMaterializationStore": ".stores.materializations",
        "SqliteMaterializationStore": ".stores.sqlite",
        "ValueDetails": ".client",
        "install_signal_handlers": ".process.signals",
        "live": ".live",
        "sinks": ".sinks",
        "sources": ".sources",
        "testing": ".testing",
        "transport": ".transport",
    },
    present_as=__name__,
)

# Exported classes and functions present themselves as flagstone's (``flagstone.Client`` in
# reprs, tracebacks and help), not as the private module that defines them (httpx does so);
# the lazy ones when first read through the front.
for _name in __all__:
    _value = globals().get(_name)
    if isinstance(_value, type) or (callable(_value) and _value is not None):
        _value.__module__ = __name__
del _name, _value
