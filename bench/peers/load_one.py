"""Load one SDK's 10 000-flag configuration in this (fresh) process; print JSON.

    python load_one.py SDK PATH

The SDK is imported first (not timed), then the clock runs from the file's path to a client
ready to evaluate, and the resident set size is read before and after from
``/proc/self/status``: ``VmHWM`` (the peak) minus ``VmRSS`` before the load is the peak it
added, ``VmRSS`` after minus before what it kept. The garbage collector runs as in a normal
process. ``SDK`` ``json`` times ``json.loads`` of the file's bytes: the reference for loading.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any

NOWHERE = "http://127.0.0.1:9"


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def loader(sdk: str) -> Any:
    """``path → client`` for ``sdk``, with everything it needs imported."""
    if sdk == "json":

        def load(path: str) -> Any:
            with open(path, "rb") as file:
                return json.loads(file.read())

        return load
    if sdk == "flagstone":
        import flagstone

        return flagstone.Client.from_file
    if sdk == "Eppo":
        import eppo_client
        from eppo_client import AssignmentLogger, ClientConfig, Configuration

        def load(path: str) -> Any:
            with open(path, "rb") as file:
                configuration = Configuration(flags_configuration=file.read())
            return eppo_client.init(
                ClientConfig(
                    api_key="offline",
                    base_url=NOWHERE,
                    assignment_logger=AssignmentLogger(),
                    poll_interval_seconds=None,
                    initial_configuration=configuration,
                )
            )

        return load
    if sdk == "GrowthBook":
        from growthbook import GrowthBook

        def load(path: str) -> Any:
            with open(path, "rb") as file:
                document = json.loads(file.read())
            return GrowthBook(features=document["features"], saved_groups=document["savedGroups"])

        return load
    if sdk == "LaunchDarkly":
        # LaunchDarkly's file source parses with PyYAML whenever it can import it (the flagd
        # provider installs it), ~30x slower than json on this file; a JSON file is read
        # with json here, as in a process without PyYAML.
        sys.modules["yaml"] = None  # type: ignore[assignment]
        import ldclient
        from ldclient.config import Config
        from ldclient.integrations import Files

        def load(path: str) -> Any:
            client = ldclient.LDClient(
                Config(
                    "offline-sdk-key",
                    update_processor_class=Files.new_data_source(paths=[path]),
                    send_events=False,
                    base_uri=NOWHERE,
                    events_uri=NOWHERE,
                    stream_uri=NOWHERE,
                    diagnostic_opt_out=True,
                )
            )
            assert client.is_initialized()
            return client

        return load
    if sdk == "Unleash":
        from UnleashClient import UnleashClient
        from UnleashClient.cache import FileCache

        def load(path: str) -> Any:
            cache = FileCache("peers-load", directory=tempfile.mkdtemp(prefix="peers-unleash-"))
            cache.bootstrap_from_file(path)
            client = UnleashClient(
                url=NOWHERE,
                app_name="peers-load",
                disable_metrics=True,
                disable_registration=True,
                cache=cache,
                refresh_interval=3600,
            )
            client.initialize_client(fetch_toggles=False)
            return client

        return load
    if sdk == "flagd":
        from openfeature import api
        from openfeature.contrib.provider.flagd import FlagdProvider
        from openfeature.contrib.provider.flagd.config import ResolverType
        from openfeature.provider import ProviderStatus

        def load(path: str) -> Any:
            provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=path)
            api.set_provider_and_wait(provider)
            client = api.get_client()
            assert client.get_provider_status() == ProviderStatus.READY
            return client

        return load
    raise SystemExit(f"unknown SDK {sdk!r}")


def main() -> None:
    sdk, path = sys.argv[1], sys.argv[2]
    load = loader(sdk)
    rss_before = status_kb("VmRSS")
    start = time.perf_counter()
    cpu = time.process_time()
    client = load(path)
    cpu = time.process_time() - cpu
    seconds = time.perf_counter() - start
    peak = status_kb("VmHWM")
    kept = status_kb("VmRSS")
    print(
        json.dumps(
            {
                "sdk": sdk,
                "load_s": seconds,
                "load_cpu_s": cpu,
                "rss_before_kb": rss_before,
                "peak_added_kb": max(0, peak - rss_before),
                "kept_kb": kept - rss_before,
            }
        )
    )
    sys.stdout.flush()
    del client
    import os

    os._exit(0)  # some SDKs' background threads would keep the process alive


if __name__ == "__main__":
    main()
