"""Scripts (and their shared helpers) for the live-snapshot tests; see ``livelib``."""
