"""Latency tables from fixture timelines (tests/fixtures/timeline/*.jsonl), and `labkit timeline`.

The fixtures start at T0 and place every event at T0 + a round number of
seconds, so the expected latencies below can be read off the files.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from labkit import metrics
from labkit.events import Event, Timeline

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "timeline"
COMMIT_FLOW = FIXTURES / "commit-flow.jsonl"
A, B, C = "a" * 40, "b" * 40, "c" * 40
T0 = 1_790_000_000_000_000_000
NAN = math.nan


def as_rows(df: object, columns: list[str]) -> list[tuple[object, ...]]:
    """Rows as tuples; NaN becomes None and floats are rounded to the microsecond, so rows compare equal."""

    def clean(v: object) -> object:
        if v is None or v != v:
            return None
        return round(v, 6) if isinstance(v, float) else v

    frame = df[columns]  # type: ignore[index]
    return [tuple(clean(v) for v in row) for row in frame.itertuples(index=False)]


# -- events_frame ---------------------------------------------------------------------------------


def test_events_frame_has_one_row_per_event_in_time_order() -> None:
    df = metrics.events_frame(COMMIT_FLOW)
    assert len(df) == len(COMMIT_FLOW.read_text().splitlines())
    assert list(df.columns[:6]) == ["ts", "ts_ns", "actor", "kind", "app", "revision"]
    assert {"phase", "dry_run", "message", "trigger"} <= set(df.columns)
    assert df["ts_ns"].is_monotonic_increasing
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]"
    assert df["ts"].iloc[0].value == T0 == df["ts_ns"].iloc[0]
    # the fixture holds one line out of order: sorting puts demo's detection (0.10 s) first
    detections = df[df["kind"] == "revision_detected"]
    assert list(detections["app"][:2]) == ["demo", "redis"]


def test_events_frame_accepts_a_path_a_timeline_or_events() -> None:
    events = list(Timeline(COMMIT_FLOW))
    frames = [metrics.events_frame(src) for src in (str(COMMIT_FLOW), Timeline(COMMIT_FLOW), events)]
    assert all(f.equals(frames[0]) for f in frames)


@pytest.mark.parametrize("name", ["empty.jsonl", "missing.jsonl"])
def test_tables_of_an_empty_or_missing_timeline_are_empty_with_their_columns(name: str) -> None:
    path = FIXTURES / name
    assert list(metrics.events_frame(path).columns) == list(metrics.BASE_COLUMNS)
    assert metrics.commit_latencies(path).empty and "detected_s" in metrics.commit_latencies(path)
    assert metrics.pipeline_latencies(path).empty and "applied_s" in metrics.pipeline_latencies(path)
    assert metrics.drift_latencies(path).empty and "healed_s" in metrics.drift_latencies(path)


# -- commit_latencies -----------------------------------------------------------------------------


def test_commit_latencies_measure_each_step_from_the_push() -> None:
    df = metrics.commit_latencies(COMMIT_FLOW)
    columns = ["app", "revision", "webhook_s", "detected_s", "synced_s", "healthy_s"]
    assert as_rows(df, columns) == [
        ("demo", A, 0.05, 0.10, 0.30, 2.5),
        # redis's sync failed: a failed sync is not a synced commit
        ("redis", A, 0.05, 0.12, None, None),
        # no webhook: found by polling 30 s later; the dry run at 30.1 s does not count
        ("demo", B, None, 30.0, 30.5, 33.0),
        # nobody reacted (the branch deletion at 65 s is left out)
        (None, C, None, None, None, None),
        # A pushed again: what follows (redis's sync at 70.5 s) is credited to this push, not the first
        ("demo", A, None, 0.2, None, None),
        ("redis", A, None, None, 0.5, None),
    ]
    assert df["pushed_at"].iloc[2].value == T0 + 10 * 1_000_000_000
    assert df["message"].iloc[2] == "Set web image to nginx:1.28"


def test_commit_latencies_for_one_app_leave_the_others_out() -> None:
    df = metrics.commit_latencies(COMMIT_FLOW, app="redis")
    assert as_rows(df, ["app", "revision", "detected_s"]) == [("redis", A, 0.12), ("redis", A, None)]


def test_commit_latencies_from_events_appended_through_a_timeline(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "timeline.jsonl")
    timeline.append("git", "pushed", revision=A, ts_ns=T0, ref="refs/heads/main")
    timeline.append("controller", "revision_detected", app="web", revision=A, ts_ns=T0 + 250_000_000)
    timeline.append("controller", "sync_finished", app="web", revision=A, ts_ns=T0 + 10**9, phase="Succeeded")
    df = metrics.commit_latencies(timeline)
    assert as_rows(df, ["app", "detected_s", "synced_s"]) == [("web", 0.25, 1.0)]


# -- pipeline_latencies and drift_latencies -------------------------------------------------------


def test_pipeline_latencies_report_applied_failed_and_running_runs() -> None:
    df = metrics.pipeline_latencies(FIXTURES / "pipeline-runs.jsonl")
    columns = ["revision", "app", "started_s", "applied_s", "failed_s", "run_s", "outcome"]
    # started/applied/failed are seconds after the push; run_s is the run itself
    assert as_rows(df, columns) == [
        (A, "demo", 0.3, 1.3, None, 1.0, "applied"),
        (B, "demo", 0.2, None, 2.2, 2.0, "failed"),
        (C, "demo", 0.4, None, None, None, "running"),
    ]


def test_drift_latencies_credit_each_reaction_to_the_latest_injection_into_the_same_app() -> None:
    df = metrics.drift_latencies(FIXTURES / "drift-heal.jsonl")
    columns = ["app", "how", "detected_s", "healed_s", "heal_attempts"]
    assert as_rows(df, columns) == [
        ("demo", "kubectl scale", 0.4, 2.9, 1),
        # self-heal off: detected, never healed; redis's injection 1 s later does not end this window
        ("demo", "kubectl set image", 0.3, None, 0),
        ("redis", "kubectl edit", 0.5, None, 0),
        # the heal at 25 s follows the third injection into demo, so it is credited there
        ("demo", "kubectl scale", None, 5.0, 0),
    ]


# -- summary --------------------------------------------------------------------------------------


def test_summary_reports_count_percentiles_and_max_leaving_out_missing_values() -> None:
    df = metrics.commit_latencies(COMMIT_FLOW)
    stats = metrics.summary(df, "detected_s")  # 0.10, 0.12, 30.0, 0.2 (and one NaN)
    assert stats["count"] == 4
    assert stats["p50"] == pytest.approx(0.16)
    assert stats["p95"] == pytest.approx(0.2 + 0.85 * (30.0 - 0.2))
    assert stats["max"] == 30.0


def test_summary_of_a_column_without_values_has_count_zero_and_nan_stats() -> None:
    stats = metrics.summary(metrics.commit_latencies(FIXTURES / "empty.jsonl"), "synced_s")
    assert stats["count"] == 0 and all(math.isnan(stats[k]) for k in ("p50", "p95", "max"))


def test_importing_metrics_does_not_import_pandas() -> None:
    code = "import sys, labkit.metrics; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- `labkit timeline` ----------------------------------------------------------------------------


@pytest.fixture
def lab_timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.setenv("LABKIT_LAB", "t")
    path = tmp_path / "labs" / "t" / "timeline.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(COMMIT_FLOW.read_text())
    return path


def invoke(*args: str) -> tuple[int, list[str]]:
    import labkit.cli.timeline_cmds  # noqa: F401  (registers `timeline` on main)
    from labkit.cli.base import main

    result = CliRunner().invoke(main, ["timeline", *args])
    return result.exit_code, result.output.splitlines()


def test_timeline_json_prints_the_stored_events_in_time_order(lab_timeline: Path) -> None:
    code, lines = invoke("--json")
    stored = [Event.from_json(line) for line in lab_timeline.read_text().splitlines()]
    assert code == 0
    assert [Event.from_json(line) for line in lines] == sorted(stored, key=lambda e: e.ts_ns)
    assert json.loads(lines[0])["kind"] == "pushed"


def test_timeline_for_one_app_keeps_its_events_and_the_pushes(lab_timeline: Path) -> None:
    code, lines = invoke("--json", "--app", "redis")
    events = [json.loads(line) for line in lines]
    assert code == 0
    assert {e.get("app") for e in events} == {"redis", None}
    redis = [e["kind"] for e in events if e.get("app") == "redis"]
    assert redis == ["revision_detected", "sync_finished", "sync_finished"]


def test_timeline_last_n_prints_aligned_lines_with_short_revisions(lab_timeline: Path) -> None:
    code, lines = invoke("--last", "3")
    assert code == 0 and len(lines) == 3
    pushed, detected, _ = (line.split() for line in lines)
    assert pushed[1:5] == ["git", "pushed", "-", A[:7]]
    assert detected[1:5] == ["controller", "revision_detected", "demo", A[:7]]
    assert f"before={C[:7]} " in lines[0] and "trigger=webhook" in lines[1]  # shas shortened
    assert lines[1].index(" demo ") == lines[2].index(" redis ")  # columns line up


def test_timeline_without_events_says_so_and_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    code, lines = invoke()
    assert code == 0 and "no events yet" in lines[0]
