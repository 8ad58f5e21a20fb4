"""The public front: exactly these names, each importable and documented, and typed.

``flagstone/__init__.py`` and ``flagstone/sinks/__init__.py`` are the only modules users
import from; adding or removing a public name is a decision, so this list changes with it.
The lists follow ruff's RUF022 order (constants, then classes, then the rest), which the
project's lint enforces on ``__all__``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import inspect
from types import ModuleType
from typing import Any

import pytest

import flagstone
import flagstone.sinks
import flagstone.sources
import flagstone.testing

PUBLIC_NAMES = [
    "AbTestNotFound",
    "AbTests",
    "Client",
    "ConfigError",
    "ErrorCode",
    "FallthroughAssignment",
    "FlagstoneError",
    "IntegrityError",
    "LifecycleError",
    "MaterializationRecord",
    "MaterializationStore",
    "MemoryMaterializationStore",
    "OverrideError",
    "Problem",
    "Reason",
    "Resolution",
    "SqliteMaterializationStore",
    "UnknownClientError",
    "ValueDetails",
    "__version__",
    "install_signal_handlers",
    "live",
    "sinks",
    "sources",
    "testing",
    "transport",
]

SINK_NAMES = [
    "SCHEMA_VERSION",
    "BatchWriter",
    "BatchingSink",
    "CallbackSink",
    "Deduplicator",
    "EventSink",
    "Exposure",
    "ExposureSink",
    "FanoutSink",
    "HttpSink",
    "JsonlSink",
    "KindStats",
    "LoggingSink",
    "MemorySink",
    "MetricEvent",
    "PartialDelivery",
    "RecordBatch",
    "RecordSink",
    "RetryPolicy",
    "SinkError",
    "SinkStats",
    "format_time",
]

SOURCE_NAMES = [
    "SIGNATURE_HEADER",
    "FileSource",
    "FunctionSource",
    "Integrity",
    "SnapshotSource",
    "SourceDocument",
    "SourceStatus",
    "UrlSource",
    "sign",
    "sign_snapshot",
]

CONSTANTS = {"__version__", "SCHEMA_VERSION"}
"""Public values that are data, not code: they carry no docstring of their own."""


def _documented(module: ModuleType, names: list[str]) -> list[tuple[ModuleType, str]]:
    return [(module, name) for name in names if name not in CONSTANTS]


def _own_docstring(obj: Any) -> str | None:
    """The docstring ``obj`` itself defines (a class's, not one inherited or generated)."""
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        return doc if isinstance(doc, str) else None
    return getattr(obj, "__doc__", None)


def test_flagstone_exports_exactly_the_public_names() -> None:
    assert flagstone.__all__ == PUBLIC_NAMES


PUBLIC_MODULES = {"live", "sinks", "sources", "testing", "transport"}


def test_the_front_exports_every_public_name_it_holds() -> None:
    # derived from the front itself (httpx's test_exported_members): every non-module name
    # it binds is exported, so nothing public hides behind a submodule import
    # (dir(), not vars(): the front imports most names when they are first read)
    held = {
        name
        for name in dir(flagstone)
        if not name.startswith("_") and not isinstance(getattr(flagstone, name), ModuleType)
    }
    assert set(flagstone.__all__) == held | PUBLIC_MODULES | {"__version__"}


@pytest.mark.parametrize("name", [n for n in PUBLIC_NAMES if n[0].isupper()])
def test_exported_classes_present_themselves_as_flagstones(name: str) -> None:
    exported = getattr(flagstone, name)
    assert exported.__module__ == "flagstone"
    assert repr(exported).startswith(("<class 'flagstone.", "<enum ")) or "flagstone." in repr(
        exported
    )


def test_flagstone_sources_exports_exactly_the_source_names() -> None:
    assert flagstone.sources.__all__ == SOURCE_NAMES


def test_flagstone_live_is_an_alias_of_flagstone_sources() -> None:
    assert flagstone.live.__all__ == flagstone.sources.__all__
    for name in flagstone.sources.__all__:
        assert getattr(flagstone.live, name) is getattr(flagstone.sources, name)


def test_flagstone_sinks_exports_exactly_the_sink_names() -> None:
    assert flagstone.sinks.__all__ == SINK_NAMES


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_each_public_name_can_be_imported_from_flagstone(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from flagstone import {name}", namespace)
    assert namespace[name] is getattr(flagstone, name)


@pytest.mark.parametrize("name", SINK_NAMES)
def test_each_sink_name_can_be_imported_from_flagstone_sinks(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from flagstone.sinks import {name}", namespace)
    assert namespace[name] is getattr(flagstone.sinks, name)


def test_a_star_import_brings_exactly_the_public_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from flagstone import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(PUBLIC_NAMES)


@pytest.mark.parametrize(
    ("module", "name"),
    _documented(flagstone, PUBLIC_NAMES) + _documented(flagstone.sinks, SINK_NAMES),
    ids=[f"flagstone.{n}" for _, n in _documented(flagstone, PUBLIC_NAMES)]
    + [f"flagstone.sinks.{n}" for _, n in _documented(flagstone.sinks, SINK_NAMES)],
)
def test_each_public_name_has_a_docstring_of_its_own(module: ModuleType, name: str) -> None:
    doc = _own_docstring(getattr(module, name))
    assert doc is not None and doc.strip(), f"{module.__name__}.{name} has no docstring"


@pytest.mark.parametrize(
    "module", [flagstone, flagstone.sources, flagstone.sinks, flagstone.testing]
)
def test_each_public_module_has_a_docstring(module: ModuleType) -> None:
    assert module.__doc__ and module.__doc__.strip()


def test_the_version_is_the_installed_distribution_version() -> None:
    assert flagstone.__version__ == importlib.metadata.version("flagstone")


def test_the_sink_schema_version_is_a_positive_integer() -> None:
    schema = flagstone.sinks.SCHEMA_VERSION
    assert isinstance(schema, int) and not isinstance(schema, bool) and schema >= 1


def test_testing_override_is_public() -> None:
    assert "override" in flagstone.testing.__all__
    assert callable(flagstone.testing.override)


def test_testing_override_is_a_context_manager() -> None:
    forced = flagstone.testing.override("some-flag", "some-variant")
    assert hasattr(forced, "__enter__") and hasattr(forced, "__exit__")


def test_the_package_ships_a_py_typed_marker() -> None:
    # PEP 561: without it, type checkers ignore flagstone's annotations.
    assert importlib.resources.files("flagstone").joinpath("py.typed").is_file()
