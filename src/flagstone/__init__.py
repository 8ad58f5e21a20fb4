"""flagstone: embedded feature flags and A/B tests that resolve exactly like Spotify
Confidence, in process.

>>> import flagstone
>>> client = flagstone.Client.from_file("flags.json", sinks=[flagstone.sinks.MemorySink()])
>>> client.evaluate("checkout-flag", {"targeting_key": "user-1", "country": "SE"}).variant
'new-checkout'
"""

from . import live, sinks, sources, testing
from ._version import __version__
from .abtests import AbTests
from .client import Client, ValueDetails
from .errors import (
    AbTestNotFound,
    ConfigError,
    FlagstoneError,
    IntegrityError,
    LifecycleError,
    Problem,
    UnknownClientError,
)
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
    "Problem",
    "Reason",
    "Resolution",
    "SqliteMaterializationStore",
    "UnknownClientError",
    "ValueDetails",
    "__version__",
    "live",
    "sinks",
    "sources",
    "testing",
]
