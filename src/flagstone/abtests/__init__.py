"""A/B tests kept in snapshot documents: the lifecycle as functions from a valid snapshot to a
new one (``transitions``, over ``document.Document``: JSON plus its typed model, validated
once, then only the changed test), the ``AbTests`` object over them, stable exclusive
placement (``exclusive``), and safe edits of JSON files that rewrite only what changed
(``storage``, ``splice``) for ``python -m flagstone abtest``. The state tables are the
model's (``flagstone.model.states``)."""

from . import transitions
from .document import Change, Document
from .lifecycle import INSTANCE_PREFIX, AbTests, new_abtest_id

__all__ = ["INSTANCE_PREFIX", "AbTests", "Change", "Document", "new_abtest_id", "transitions"]
