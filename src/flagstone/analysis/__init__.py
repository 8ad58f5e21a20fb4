"""The statistics behind an A/B-test decision, from sufficient statistics.

``inputs`` (the JSON input, validated) → ``engine.analyze`` → ``results.AnalysisOutcome`` →
``outputs`` (Confidence's AnalysisResult, Alexa's metric snapshot, the Experiments API's
computed results, a terminal table); ``command`` is ``python -m flagstone analyze-stats``.
The statistics live in small modules the engine composes: ``groups`` (sufficient
statistics), ``comparison`` (z and Welch tests, absolute and relative intervals,
non-inferiority), ``power``, ``srm``, ``corrections`` (Bonferroni, Holm), ``cuped``,
``sequential`` (Lan-DeMets alpha spending) and ``normal``.

It needs the ``analysis`` extra (scipy, for the t and chi-square distributions); the normal
distribution comes from the standard library.
"""
