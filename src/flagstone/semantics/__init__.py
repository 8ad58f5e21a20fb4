"""Confidence's semantics as pure functions, shared by validation (``model``) and compilation
(``plan``): bucketing (``hashing``), reading typed values and comparing them (``scalars``),
and segment membership from bitsets and bloom filters (``membership``)."""
