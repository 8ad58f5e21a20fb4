"""``flagstone.live``: the former name of :mod:`flagstone.sources`, kept as an alias so code
written against it keeps working. New code imports ``flagstone.sources``."""

from ..sources import *  # noqa: F403
from ..sources import __all__ as __all__
