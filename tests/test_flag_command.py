"""``python -m flagstone flag …``: create and change the flags of an authoring file, with
``abtest``'s locking and atomic writes (``flagstone.abtests.storage.patch_document``).

Run in process through the ``cli`` fixture; one test runs two real processes that edit the
same file at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone import Reason
from tests import builders as b

from .test_authoring import FORMAT

Doc = dict[str, Any]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """An authoring file with one flag and an A/B-test section written compactly."""
    text = (
        '{"format": "flagstone/flags@1",\n'
        ' "flags": {"dark-mode": {"variants": {"on": true, "off": false}, "default": "off"}},\n'
        ' "metrics": [{"name": "metrics/x", "event": "purchase", "aggregation": "CONVERSION"}]}\n'
    )
    return b.write(tmp_path / "flags.json", text)


def flags(path: Path) -> Doc:
    document: Doc = json.loads(path.read_text())
    assert document["format"] == FORMAT
    result: Doc = document["flags"]
    return result


def printed(ran: Any) -> Any:
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def test_create_a_flag_and_change_it_step_by_step(path: Path, cli: Any) -> None:
    flag = printed(
        cli(
            "flag", "create", path, "color",
            "--variants", '{"blue": "blue", "green": "green"}',
            "--default", "blue", "--description", "Button color",
        )
    )  # fmt: skip
    assert flag == {
        "description": "Button color",
        "variants": {"blue": "blue", "green": "green"},
        "default": "blue",
    }
    assert printed(cli("flag", "set", path, "color", "red", '"#f00"'))["variants"]["red"] == "#f00"
    assert printed(cli("flag", "default", path, "color", "red"))["default"] == "red"
    assert "default" not in printed(cli("flag", "default", path, "color", "--none"))
    rolled = printed(cli("flag", "rollout", path, "color", "green", "10"))
    assert rolled["rules"] == [{"serve": {"green": 10}}]
    rolled = printed(cli("flag", "rollout", path, "color", "green", "50"))
    assert rolled["rules"] == [{"serve": {"green": 50}}]
    added = printed(
        cli("flag", "add-rule", path, "color", "--body",
            '{"name": "staff", "when": {"staff": true}, "serve": "red"}', "--position", "0")
    )  # fmt: skip
    assert [rule.get("name") for rule in added["rules"]] == ["staff", None]
    client = flagstone.Client.from_file(path)
    assert client.get_value("color", {"targeting_key": "u", "staff": True}, "") == "#f00"
    assert printed(cli("flag", "remove-rule", path, "color", "staff"))["rules"] == [
        {"serve": {"green": 50}}
    ]
    assert printed(cli("flag", "remove-rule", path, "color", "0")) == {
        "description": "Button color",
        "variants": {"blue": "blue", "green": "green", "red": "#f00"},
        "rules": [],
    }
    assert printed(cli("flag", "get", path, "color"))["variants"]["red"] == "#f00"
    listing = printed(cli("flag", "list", path))["flags"]
    assert listing["color"] == {
        "enabled": True,
        "default": None,
        "variants": ["blue", "green", "red"],
        "rules": 0,
    }
    assert printed(cli("flag", "delete", path, "color")) == {}
    assert set(flags(path)) == {"dark-mode"}


def test_rollout_on_a_named_rule_and_shares_that_give_way(path: Path, cli: Any) -> None:
    cli(
        "flag",
        "add-rule",
        path,
        "dark-mode",
        "--body",
        '{"name": "se", "serve": {"off": 80, "on": 20}}',
    )
    rolled = printed(cli("flag", "rollout", path, "dark-mode", "on", "60", "--rule", "se"))
    assert rolled["rules"] == [{"name": "se", "serve": {"off": 40, "on": 60}}]
    rolled = printed(cli("flag", "rollout", path, "dark-mode", "off", "0", "--rule", "se"))
    assert rolled["rules"] == [{"name": "se", "serve": {"on": 60}}]
    # the flag's own rollout is another rule: its unnamed split rule, added last
    rolled = printed(cli("flag", "rollout", path, "dark-mode", "on", "5"))
    assert rolled["rules"][1] == {"serve": {"on": 5}}


def test_kill_and_revive(path: Path, cli: Any) -> None:
    killed = printed(cli("flag", "kill", path, "dark-mode"))
    assert killed["enabled"] is False and next(iter(killed)) == "enabled"
    resolution = flagstone.Client.from_file(path).evaluate("dark-mode", {"targeting_key": "u"})
    assert resolution.reason is Reason.FLAG_ARCHIVED
    assert "enabled" not in printed(cli("flag", "revive", path, "dark-mode"))
    client = flagstone.Client.from_file(path)
    assert client.get_value("dark-mode", {"targeting_key": "u"}, True) is False


def test_an_edit_rewrites_only_the_flags(path: Path, cli: Any) -> None:
    before = path.read_text()
    printed(cli("flag", "set", path, "dark-mode", "on", '"yes"'))
    after = path.read_text()
    metrics_line = before.splitlines()[2]
    assert metrics_line in after.splitlines()
    assert json.loads(after)["flags"]["dark-mode"]["variants"]["on"] == "yes"


@pytest.mark.parametrize(
    ("argv", "path_", "message"),
    [
        pytest.param(
            ["rollout", "dark-mode", "on", "12.345"],
            '$.flags["dark-mode"].rules[0].serve.on',
            "not a whole number",
            id="a share finer than a bucket",
        ),
        pytest.param(
            ["default", "dark-mode", "maybe"],
            '$.flags["dark-mode"].default',
            "unknown variant 'maybe'",
            id="an unknown default",
        ),
        pytest.param(
            ["create", "dark-mode", "--variants", "{}"],
            '$.flags["dark-mode"]',
            "exists already",
            id="a flag that exists",
        ),
        pytest.param(
            ["create", "a.b", "--variants", '{"x": 1}'],
            '$.flags["a.b"]',
            "no '/', '.'",
            id="a bad name",
        ),
        pytest.param(
            ["add-rule", "dark-mode", "--body", '{"serve": "on", "when": {"age": {"gte": null}}}'],
            '$.flags["dark-mode"].rules[0].when.age.gte',
            "a bound is",
            id="a bad rule",
        ),
        pytest.param(
            ["set", "dark-mode", "on", "null"],
            '$.flags["dark-mode"].variants.on',
            "a variant's value is",
            id="a null value",
        ),
    ],
)
def test_a_refused_change_writes_nothing(
    path: Path, cli: Any, argv: list[str], path_: str, message: str
) -> None:
    before = path.read_bytes()
    ran = cli("flag", argv[0], path, *argv[1:])
    assert ran.returncode == 1
    problems = json.loads(ran.stdout)["problems"]
    assert any(p["path"] == path_ and message in p["message"] for p in problems), problems
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["kill", "nope"], "no flag 'nope'", id="an unknown flag"),
        pytest.param(["remove-rule", "dark-mode", "x"], "has no rule 'x'", id="an unknown rule"),
        pytest.param(["set", "dark-mode", "on", "blue"], "is not JSON", id="a value not JSON"),
        pytest.param(["default", "dark-mode"], "VARIANT or --none", id="no default given"),
        pytest.param(["rollout", "dark-mode", "on", "120"], "not from 0 to 100", id="over 100"),
        pytest.param(
            ["create", "x", "--variants", "[]"], "must be a JSON object", id="variants a list"
        ),
    ],
)
def test_usage_errors(path: Path, cli: Any, argv: list[str], message: str) -> None:
    before = path.read_bytes()
    ran = cli("flag", argv[0], path, *argv[1:])
    assert ran.returncode == 2 and message in ran.stderr
    assert path.read_bytes() == before


def test_a_native_file_or_a_missing_one_is_a_usage_error(tmp_path: Path, cli: Any) -> None:
    native = b.write(tmp_path / "native.json", b.snapshot(b.flag("f", {"on": 1})))
    for argv in (["list", native], ["get", native, "f"], ["kill", native, "f"]):
        ran = cli("flag", *argv)
        assert ran.returncode == 2 and "not an authoring document" in ran.stderr
        assert "python -m flagstone convert" in ran.stderr
    ran = cli("flag", "kill", tmp_path / "missing.json", "f")
    assert ran.returncode == 2 and "missing.json" in ran.stderr
    assert not (tmp_path / "missing.json.lock").exists()


def test_an_invalid_file_is_refused_with_all_its_problems(tmp_path: Path, cli: Any) -> None:
    broken = b.write(
        tmp_path / "flags.json",
        {"format": FORMAT, "flags": {"a": {"variants": {"on": 1}, "default": "of"}, "b": {}}},
    )
    ran = cli("flag", "set", broken, "a", "on", "2")
    assert ran.returncode == 1
    assert {p["path"] for p in json.loads(ran.stdout)["problems"]} == {
        "$.flags.a.default",
        "$.flags.b.variants",
    }


_EDITOR = textwrap.dedent(
    """
    import sys
    from flagstone.cli import main
    path, flag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for index in range(count):
        code = main(["flag", "set", path, flag, f"v{index}", str(index), "--lock-timeout", "60"])
        if code:
            sys.exit(code)
    """
)


def test_two_editors_at_once_lose_nothing(tmp_path: Path) -> None:
    path = b.write(
        tmp_path / "flags.json",
        {"format": FORMAT, "flags": {"a": {"variants": {}}, "b": {"variants": {}}}},
    )
    count = 15
    editors = [
        subprocess.Popen(
            [sys.executable, "-c", _EDITOR, str(path), flag, str(count)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ("a", "b")
    ]
    for editor in editors:
        _, stderr = editor.communicate(timeout=120)
        assert editor.returncode == 0, stderr
    written = flags(path)
    expected = {f"v{index}": index for index in range(count)}
    assert written["a"]["variants"] == expected
    assert written["b"]["variants"] == expected
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_rollout_over_shares_that_are_no_numbers_is_refused_not_crashed(
    path: Path, cli: Any
) -> None:
    document = json.loads(path.read_text())
    document["flags"]["dark-mode"]["rules"] = [{"serve": {"off": "90"}}]
    b.write(path, document)
    ran = cli("flag", "rollout", path, "dark-mode", "on", "50")
    assert ran.returncode == 1
    problems = json.loads(ran.stdout)["problems"]
    assert [p["path"] for p in problems] == ['$.flags["dark-mode"].rules[0].serve.off']
