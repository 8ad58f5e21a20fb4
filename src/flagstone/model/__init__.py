"""pydantic v2 models of a snapshot and its validation into ``ConfigError``.

The models mirror Confidence's resolver-state JSON (flags, segments, bitsets, bloom filters,
clients) plus flagstone's ``abtests`` (the Confidence A/B-test API's instances) and
``version``. They parse and validate; they never evaluate.
"""

from .abtests import AbTestInstance, AbTestOrigin, AbTestSegment, Treatment
from .bitsets import BloomFilter
from .clients import Account, ClientCredential, ClientEntry
from .flags import Assignment, AssignmentSpec, Flag, MaterializationSpec, Rule, Variant
from .segments import Allocation, BucketRange, Segment
from .snapshot import Snapshot
from .targeting import Criterion, Expression, Targeting, TargetingValue
from .validation import abtest_segment_name, check_snapshot, short_variant_name

__all__ = [
    "AbTestInstance",
    "AbTestOrigin",
    "AbTestSegment",
    "Account",
    "Allocation",
    "Assignment",
    "AssignmentSpec",
    "BloomFilter",
    "BucketRange",
    "ClientCredential",
    "ClientEntry",
    "Criterion",
    "Expression",
    "Flag",
    "MaterializationSpec",
    "Rule",
    "Segment",
    "Snapshot",
    "Targeting",
    "TargetingValue",
    "Treatment",
    "Variant",
    "abtest_segment_name",
    "check_snapshot",
    "short_variant_name",
]
