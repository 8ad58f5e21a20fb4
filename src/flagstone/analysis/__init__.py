"""The statistics behind an A/B-test decision, from sufficient statistics.

Work in progress (issue 6): this package holds the statistical core — comparisons
(two-sample z and Welch tests, absolute and relative differences with intervals,
non-inferiority), power and sample size, sample-ratio mismatch, multiple-testing
corrections, CUPED variance reduction and group-sequential alpha spending. Decisions, the
seeds' output documents and ``python -m flagstone analyze-stats`` build on it.

It needs the ``analysis`` extra (scipy, for the t and chi-square distributions); the normal
distribution comes from the standard library.
"""
