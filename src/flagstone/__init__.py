"""flagstone: embedded feature flags and A/B tests that resolve exactly like Spotify
Confidence, in process.

>>> import flagstone
>>> client = flagstone.Client.from_file("flags.json", sinks=[flagstone.sinks.MemorySink()])
>>> client.evaluate("checkout-flag", {"targeting_key": "user-1", "country": "SE"}).variant
'new-checkout'
"""

from . import live, sinks, sources, testing, transport
from ._version import __version__
from .abtests import AbTests
from .client import Client, ValueDetails
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
from .process.signals import install_signal_handlers
from .reasons import ErrorCode, Reason
from .resolution import FallthroughAssignment, Resolution
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

# Exported classes and functions present themselves as flagstone's (``flagstone.Client`` in
# reprs, tracebacks and help), not as the private module that defines them (httpx does so).
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) or callable(_value):
        _value.__module__ = __name__
del _name, _value
