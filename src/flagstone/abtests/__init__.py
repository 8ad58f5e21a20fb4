"""A/B tests kept in snapshot documents: the lifecycle (``AbTests``), the state machine and
its mapping to the Alexa and Experiments-API states, stable exclusive placement, and the
``python -m flagstone abtest`` command over JSON files."""

from .lifecycle import INSTANCE_PREFIX, AbTests, new_abtest_id

__all__ = ["INSTANCE_PREFIX", "AbTests", "new_abtest_id"]
