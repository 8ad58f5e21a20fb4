"""A/B tests kept in snapshot documents: the lifecycle as functions from a valid snapshot to a
new one (``transitions``, over ``document.Document``: JSON plus its typed model, validated
once, then only the changed test), the ``AbTests`` object over them, stable exclusive
placement (``exclusive``), and safe edits of JSON files that rewrite only what changed
(``storage``, ``splice``) for ``python -m flagstone abtest``. The state tables are the
model's (``flagstone.model.states``)."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from . import transitions
    from .document import Change, Document
    from .lifecycle import INSTANCE_PREFIX, AbTests, new_abtest_id

__all__ = ["INSTANCE_PREFIX", "AbTests", "Change", "Document", "new_abtest_id", "transitions"]

# imported on first use (the lifecycle builds on every model and file shape)
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "AbTests": ".lifecycle",
        "Change": ".document",
        "Document": ".document",
        "INSTANCE_PREFIX": ".lifecycle",
        "new_abtest_id": ".lifecycle",
        "transitions": ".transitions",
    },
)
