"""``flagstone.live``: the former name of :mod:`flagstone.sources`, kept as an alias so code
written against it keeps working. New code imports ``flagstone.sources``."""

from typing import TYPE_CHECKING, Any

from .. import sources as _sources
from ..sources import __all__ as __all__

if TYPE_CHECKING:
    from ..sources import *  # noqa: F403


def __getattr__(name: str) -> Any:
    # every name is the one flagstone.sources has (imported when first read there too)
    if name in __all__:
        return getattr(_sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
