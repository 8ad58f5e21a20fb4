"""``python -m flagstone analyze-stats FILE``: formats, exit codes, JSON on stdout and one-line
reasons on stderr (``flagstone.cli.analyze_stats``).

Exit codes: 0 the analysis was printed, 1 an invalid input (its problems as JSON on stdout),
2 a usage error. Every command runs in this process (``flagstone.cli.main``); the end-to-end
tests run the real engine, the usage and JSON errors are caught before it runs, and the
options are also checked with a stand-in engine returning a hand-built outcome (two
treatments, a 0/1 and a continuous metric: ``tests.test_analysis_outputs.outcome``).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest

from flagstone.analysis.results import AnalysisOutcome
from flagstone.cli import main
from tests.commandline import CliRunner
from tests.test_analysis_outputs import outcome

CONTROL = (10000, 1210)  # n, conversions
TREATMENT = (10050, 1333)


def example() -> dict[str, Any]:
    """The README example: one 0/1 success metric, one treatment, a fixed horizon."""
    return {
        "alpha": 0.05,
        "power": 0.8,
        "method": "z",
        "relative_interval": "delta",
        "correction": "bonferroni",
        "horizon": {"kind": "FIXED"},
        "control": "control",
        "expected_weights": {"control": 0.5, "treatment": 0.5},
        "metrics": [
            {
                "id": "conversion",
                "kind": "SUCCESS",
                "direction": "INCREASE",
                "minimum_detectable_effect": 0.05,
                "non_inferiority_margin": None,
                "groups": {
                    "control": {"n": CONTROL[0], "sum": CONTROL[1]},
                    "treatment": {"n": TREATMENT[0], "sum": TREATMENT[1]},
                },
            }
        ],
    }


def with_revenue(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with a continuous guardrail metric too."""
    document["metrics"].append(
        {
            "id": "revenue",
            "kind": "GUARDRAIL",
            "direction": "INCREASE",
            "groups": {
                "control": {"n": 10000, "sum": 50000.0, "sum_sq": 400000.0},
                "treatment": {"n": 10050, "sum": 51000.0, "sum_sq": 410000.0},
            },
        }
    )
    return document


def write(tmp_path: Path, document: Any, name: str = "input.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["analyze-stats", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- usage and input errors (no engine needed) ----------------------------------------------


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")

    assert code == 0
    assert "flagstone analyze-stats" in out
    assert "--format" in out


def test_missing_file_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)

    assert code == 2
    assert out == ""
    assert "FILE" in err


def test_unknown_format_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, write(tmp_path, example()), "--format", "csv")

    assert code == 2
    assert "--format" in err


def test_unreadable_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.json")
    code, out, err = run(capsys, missing)

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("flagstone analyze-stats: ")
    assert "missing.json: cannot read" in err


def test_text_that_is_not_json_is_an_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, write(tmp_path, "{not json"))

    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    assert [problem["path"] for problem in document["problems"]] == ["$"]
    assert "not valid JSON" in document["problems"][0]["message"]
    assert err.count("\n") == 1
    assert "1 problem: $: not valid JSON" in err


# -- options, with a stand-in engine --------------------------------------------------------


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An input file; the engine is replaced by one returning the hand-built outcome."""
    engine = types.ModuleType("flagstone.analysis.engine")

    def analyze(spec: object) -> AnalysisOutcome:
        return outcome()

    engine.analyze = analyze  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flagstone.analysis.engine", engine)
    return write(tmp_path, example())


def test_stand_in_table_shows_every_comparison(
    stand_in: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, stand_in)

    assert (code, err) == (0, "")
    rows = [
        line.split()[:2]
        for line in out.splitlines()
        if line.split()[:1] in (["conversion"], ["revenue"])
    ]
    assert rows == [
        ["conversion", "treatment"],
        ["conversion", "variant-b"],
        ["revenue", "treatment"],
    ]


def test_stand_in_treatment_and_metric_select_the_comparisons(
    stand_in: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        stand_in,
        "--format",
        "analysis-result",
        "--treatment",
        "variant-b",
        "--metric",
        "conversion",
    )

    assert code == 0
    document = json.loads(out)
    assert [r["id"] for r in document["results"]] == ["conversion"]
    assert [c["groups"]["compared"] for c in document["results"][0]["result"]] == ["variant-b"]
    assert document["treatments"] == [
        {"id": "variant-b", "recommendation": {"status": "TREATMENT_RECOMMENDATION_INCONCLUSIVE"}}
    ]


def test_stand_in_metric_selects_the_rows_of_the_table(
    stand_in: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, stand_in, "--metric", "revenue")

    assert code == 0
    assert not any(line.startswith("conversion") for line in out.splitlines())
    assert any(line.startswith("revenue") for line in out.splitlines())


def test_stand_in_alexa_needs_one_treatment(
    stand_in: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, stand_in, "--format", "alexa")
    assert (code, out) == (2, "")
    assert "--treatment is required: the input has 2 treatments (treatment, variant-b)" in err

    code, out, _ = run(capsys, stand_in, "--format", "alexa", "--treatment", "variant-b")
    assert code == 0
    assert json.loads(out)["metrics"][1]["values"]["userCount"] == 9980


def test_stand_in_experiments_needs_one_0_1_metric(
    stand_in: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, stand_in, "--format", "experiments")
    assert (code, out) == (2, "")
    assert "--metric is required: the input has 2 metrics (conversion, revenue)" in err

    code, out, err = run(capsys, stand_in, "--format", "experiments", "--metric", "revenue")
    assert (code, out) == (2, "")
    assert "not a conversion" in err

    code, out, _ = run(capsys, stand_in, "--format", "experiments", "--metric", "conversion")
    assert code == 0
    assert [v["conversions"] for v in json.loads(out)["data"]["variants"]] == [1210, 1333, 1190]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--treatment", "nope"), ("--treatment", "control"), ("--metric", "nope")],
)
def test_stand_in_unknown_treatment_or_metric_is_a_usage_error(
    stand_in: str, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    code, out, err = run(capsys, stand_in, option, value)

    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert f"unknown {option} {value!r}" in err


def test_stand_in_json_formats_are_indented_by_2(
    stand_in: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for output in ("analysis-result", "alexa", "experiments"):
        extra = {"alexa": ["--treatment", "treatment"], "experiments": ["--metric", "conversion"]}
        code, out, _ = run(capsys, stand_in, "--format", output, *extra.get(output, []))

        assert code == 0
        assert out == json.dumps(json.loads(out), indent=2) + "\n"


def test_data_the_engine_refuses_is_an_invalid_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = types.ModuleType("flagstone.analysis.engine")

    def analyze(spec: object) -> AnalysisOutcome:
        raise ValueError("n must be >= 2")

    engine.analyze = analyze  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flagstone.analysis.engine", engine)

    code, out, err = run(capsys, write(tmp_path, example()))

    assert code == 1
    assert json.loads(out) == {
        "ok": False,
        "problems": [{"path": "$", "message": "n must be >= 2"}],
    }
    assert "1 problem: $: n must be >= 2" in err


# -- end to end -----------------------------------------------------------------------------


def test_default_format_is_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, write(tmp_path, example()))

    assert code == 0
    assert err == ""
    (row,) = [line for line in out.splitlines() if line.startswith("conversion")]
    assert row.split()[:4] == [
        "conversion",
        "treatment",
        f"{CONTROL[1] / CONTROL[0]:.4g}",
        f"{TREATMENT[1] / TREATMENT[0]:.4g}",
    ]
    assert "SRM: ok" in out
    assert "recommendation for treatment:" in out


def test_analysis_result_of_the_readme_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, write(tmp_path, example()), "--format", "analysis-result")

    assert code == 0
    assert out.startswith('{\n  "annotations"')  # indent 2
    document = json.loads(out)
    (metric,) = document["results"]
    assert metric["id"] == "conversion"
    assert metric["statsSettings"]["method"] == "METHOD_Z_TEST"
    assert metric["statsSettings"]["adjustedAlpha"] == pytest.approx(0.05, rel=1e-12)
    (result,) = metric["result"]
    assert result["groups"] == {"baseline": "control", "compared": "treatment"}
    last = result["lastResult"]
    p_c, p_t = CONTROL[1] / CONTROL[0], TREATMENT[1] / TREATMENT[0]
    assert last["baselineEstimateAbs"]["value"] == pytest.approx(p_c, rel=1e-9)
    assert last["comparedEstimateAbs"]["value"] == pytest.approx(p_t, rel=1e-9)
    assert last["baselineSampleSize"] == {"value": CONTROL[0]}
    assert last["comparedSampleSize"] == {"value": TREATMENT[0]}
    se = (p_c * (1 - p_c) / CONTROL[0] + p_t * (1 - p_t) / TREATMENT[0]) ** 0.5
    q = NormalDist().inv_cdf(0.975)
    difference = last["differenceEstimateAbs"]
    assert difference["estimate"]["value"] == pytest.approx(p_t - p_c, rel=1e-9)
    assert difference["lower"]["value"] == pytest.approx(p_t - p_c - q * se, rel=1e-9)
    assert difference["upper"]["value"] == pytest.approx(p_t - p_c + q * se, rel=1e-9)
    assert document["treatments"][0]["id"] == "treatment"
    assert document["treatments"][0]["recommendation"]["status"].startswith(
        "TREATMENT_RECOMMENDATION_"
    )


def test_alexa_snapshot_of_the_readme_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from statsmodels.stats.proportion import test_proportions_2indep

    code, out, _ = run(capsys, write(tmp_path, example()), "--format", "alexa")

    assert code == 0
    document = json.loads(out)
    assert document["status"] == "RELIABLE"
    control, treatment = document["metrics"]
    assert control == {
        "name": "conversion",
        "treatmentId": "C",
        "values": {"mean": pytest.approx(0.121, rel=1e-12), "userCount": CONTROL[0]},
    }
    values = treatment["values"]
    assert values["userCount"] == TREATMENT[0]
    p_c, p_t = CONTROL[1] / CONTROL[0], TREATMENT[1] / TREATMENT[0]
    assert values["percentDiff"] == pytest.approx(100 * (p_t / p_c - 1), rel=1e-9)
    reference = test_proportions_2indep(
        TREATMENT[1], TREATMENT[0], CONTROL[1], CONTROL[0], method="wald", compare="diff"
    )
    assert values["pValue"] == pytest.approx(reference.pvalue, rel=1e-9)


def test_experiments_results_of_the_readme_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, write(tmp_path, example()), "--format", "experiments")

    assert code == 0
    assert json.loads(out) == {
        "data": {
            "variants": [
                {
                    "variantId": "control",
                    "sampleSize": CONTROL[0],
                    "conversions": CONTROL[1],
                    "conversionRate": pytest.approx(CONTROL[1] / CONTROL[0], rel=1e-12),
                },
                {
                    "variantId": "treatment",
                    "sampleSize": TREATMENT[0],
                    "conversions": TREATMENT[1],
                    "conversionRate": pytest.approx(TREATMENT[1] / TREATMENT[0], rel=1e-12),
                },
            ]
        }
    }


def test_treatment_option_restricts_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = example()
    document["expected_weights"] = {"control": 1, "treatment": 1, "other": 1}
    document["metrics"][0]["groups"]["other"] = {"n": 10020, "sum": 1200}
    file = write(tmp_path, document)

    code, out, _ = run(capsys, file, "--format", "analysis-result", "--treatment", "other")
    assert code == 0
    analysis = json.loads(out)
    assert [t["id"] for t in analysis["treatments"]] == ["other"]
    assert [r["groups"]["compared"] for r in analysis["results"][0]["result"]] == ["other"]
    code, out, _ = run(capsys, file, "--format", "alexa", "--treatment", "other")
    assert code == 0
    assert json.loads(out)["metrics"][1]["values"]["userCount"] == 10020


def test_experiments_refuses_a_continuous_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, with_revenue(example()))

    code, out, err = run(capsys, file, "--format", "experiments", "--metric", "revenue")

    assert code == 2
    assert out == ""
    assert "not a conversion" in err


def test_an_invalid_input_prints_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = example()
    document["alpha"] = 2
    del document["metrics"][0]["groups"]["control"]["n"]

    code, out, err = run(capsys, write(tmp_path, document))

    assert code == 1
    printed = json.loads(out)
    assert printed["ok"] is False
    assert len(printed["problems"]) >= 2
    assert all(set(problem) == {"path", "message"} for problem in printed["problems"])
    assert err.count("\n") == 1
    assert err.startswith("flagstone analyze-stats: ")
    assert "problems:" in err


def test_a_json_array_is_an_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, write(tmp_path, []))

    assert code == 1
    assert json.loads(out)["ok"] is False


def test_runs_through_the_flagstone_command(tmp_path: Path, cli: CliRunner) -> None:
    file = write(tmp_path, example())
    completed = cli("analyze-stats", file, "--format", "experiments")

    assert completed.returncode == 0, completed.stderr
    variants = json.loads(completed.stdout)["data"]["variants"]
    assert [v["conversions"] for v in variants] == [CONTROL[1], TREATMENT[1]]
