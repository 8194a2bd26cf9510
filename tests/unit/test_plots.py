"""labkit.ui plots drawn from fixture timelines (tests/fixtures/ui/timeline-*.jsonl) with the Agg backend.

timeline-session.jsonl: commit aaaaaaa ("Scale web to 5 replicas") seen by webhook and
synced 0.30 s after the push, with the push pipeline applying it too; commit bbbbbbb seen
by a poll 27.56 s after its push; then a drift that the second self-heal attempt repairs.
timeline-selfheal-off.jsonl: a drift that is detected and stays. Every event sits at
T0 + a round number of seconds, so the expected positions can be read off the files.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from labkit import metrics  # noqa: E402
from labkit.events import Event, Timeline  # noqa: E402
from labkit.ui import plots  # noqa: E402
from labkit.ui.figures import LabFigure, PlotError, png_bytes  # noqa: E402
from labkit.ui.sampling import sample_replicas  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ui"
SESSION = FIXTURES / "timeline-session.jsonl"
HEAL_OFF = FIXTURES / "timeline-selfheal-off.jsonl"
A, B = "a" * 40, "b" * 40
T0 = 1_790_000_000_000_000_000
PNG = b"\x89PNG\r\n\x1a\n"


def texts(fig: Any) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def legend_labels(fig: Any) -> list[str]:
    legend = fig.axes[0].get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


# -- the swimlane of one commit -----------------------------------------------------------------------


def test_commit_events_list_one_commit_in_time_order_from_its_push() -> None:
    df = plots.commit_events(SESSION, "demo", "aaaa")
    assert list(df["kind"]) == [
        "pushed",
        "webhook_received",
        "pipeline_started",
        "refresh_started",
        "revision_detected",
        "diff_computed",
        "sync_started",
        "resource_applied",
        "resource_applied",
        "sync_finished",
        "pipeline_applied",
        "healthy",
    ]
    assert list(df["t_s"].round(3))[:5] == [0.0, 0.04, 0.05, 0.06, 0.11]
    assert df["t_s"].iloc[-1] == pytest.approx(2.6)
    # redis reacted to the same commit, but this is demo's journey
    assert "redis" not in set(df["label"])


def test_commit_events_keep_only_the_refresh_that_found_the_commit() -> None:
    df = plots.commit_events(SESSION, "demo", B)
    refreshes = df[df["kind"] == "refresh_started"]
    # the poll at 17.5 s came before the push; the one at 47.5 s (27.5 s after it) found it
    assert list(refreshes["t_s"].round(2)) == [27.5]
    assert list(refreshes["label"]) == ["refresh (poll)"]
    assert "drift: scale" in set(df["label"]) and "self-heal #2" in set(df["label"])


def test_commit_events_default_to_the_latest_push() -> None:
    assert plots.commit_events(SESSION, "demo")["ts_ns"].iloc[0] == T0 + 20 * 10**9


def test_swimlane_draws_one_marker_set_per_actor_with_labelled_events() -> None:
    fig = plots.swimlane(SESSION, "demo", "aaaaaaa")
    ax = fig.axes[0]
    assert (
        ax.get_title() == 'demo: one commit from git push to the cluster (aaaaaaa "Scale web to 5 replicas")'
    )
    assert ax.get_xlabel() == "time since git push (s)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["git", "pipeline", "controller", "drift"]
    # git, pipeline and controller acted on this commit; the drift lane stays empty
    assert len(ax.collections) == 3
    assert [len(c.get_offsets()) for c in ax.collections] == [1, 2, 9]
    labels = "\n".join(texts(fig))
    for line in (
        "0.00 s  push aaaaaaa",
        "0.11 s  new revision seen",
        "0.30 s  sync Succeeded",
        "2.60 s  healthy",
    ):
        assert line in labels
    applied = [line for line in texts(fig) if "Deployment" in line or "ConfigMap" in line or "Synced" in line]
    assert len(applied) >= 2, "each applied object has a label of its own"
    assert legend_labels(fig) == ["git", "pipeline", "controller", "synced after 0.30 s"]


def test_swimlane_of_a_polled_commit_shows_the_wait_and_the_drift_lane() -> None:
    fig = plots.swimlane(SESSION, "demo", B)
    assert len(fig.axes[0].collections) == 4
    assert "synced after 27.76 s" in legend_labels(fig)
    assert any("27.50 s  refresh (poll)" in t for t in texts(fig))


def test_swimlane_accepts_an_events_frame_as_well_as_a_timeline() -> None:
    from_frame = plots.swimlane(metrics.events_frame(SESSION), "demo", A)
    assert texts(from_frame) == texts(plots.swimlane(Timeline(SESSION), "demo", A))


def test_swimlane_of_an_empty_timeline_says_there_is_nothing_yet() -> None:
    fig = plots.swimlane([], "demo")
    assert fig.axes[0].get_title() == "demo: no events for any commit yet"
    assert len(fig.axes[0].collections) == 0
    assert "push a commit" in texts(fig)[0]


def test_swimlane_of_a_commit_the_app_has_not_seen_yet_shows_the_push_and_nothing_of_the_app() -> None:
    fig = plots.swimlane(SESSION, "no-such-app", A)
    labels = "\n".join(texts(fig))
    assert "0.00 s  push aaaaaaa" in labels and "0.04 s  webhook" in labels
    assert "new revision seen" not in labels and "sync" not in labels


def test_swimlane_gives_every_event_of_a_burst_a_row_and_a_label_of_its_own() -> None:
    ms = 10**6
    events = [Event(T0, "git", "pushed", revision=A)]
    events += [Event(T0 + i * ms, "controller", f"step_{i}", app="demo", revision=A) for i in range(1, 10)]
    events += [Event(T0 + 10 * ms, "controller", "refresh_started", app="demo")]  # no trigger recorded
    events += [Event(T0 + 11 * ms, "controller", "revision_detected", app="demo", revision=A)]
    events += [Event(T0 + 12 * ms, "controller", "healthy", app="demo", revision=A)]
    fig = plots.swimlane(events, "demo", A)
    labels = texts(fig)
    assert all("\n" not in label for label in labels), "no stacked labels"
    assert not any("more" in label for label in labels), "nothing hidden"
    assert "0.00 s  step 1" in labels and "0.01 s  healthy" in labels and len(labels) == 13
    controller = fig.axes[0].collections[1].get_offsets()
    assert len({y for _, y in controller}) == 12, "one row per controller event"
    assert "refresh (?)" in "\n".join(plots.commit_events(events, "demo", A)["label"])


def test_swimlane_refuses_a_revision_prefix_that_names_two_commits() -> None:
    events = [
        Event(T0, "git", "pushed", revision="abc1" + "0" * 36),
        Event(T0 + 1, "git", "pushed", revision="abc2" + "0" * 36),
    ]
    with pytest.raises(PlotError, match="matches 2 commits"):
        plots.swimlane(events, "demo", "abc")


# -- latency distributions --------------------------------------------------------------------------


def test_latency_ecdf_draws_one_step_line_per_series_ending_at_one() -> None:
    fig = plots.latency_ecdf(
        {"fast": [0.1, 0.3, float("nan")], "slow": [2.0, 4.0, 6.0]}, "Latency", "seconds"
    )
    ax = fig.axes[0]
    assert ax.get_title() == "Latency" and ax.get_xlabel() == "seconds"
    assert ax.get_ylabel() == "fraction of runs done (ECDF)"
    fast, slow = ax.get_lines()
    assert list(fast.get_xdata()) == [0.1, 0.1, 0.3]  # the NaN run is left out
    assert list(fast.get_ydata()) == [0.0, 0.5, 1.0]
    assert list(slow.get_ydata())[-1] == 1.0
    assert legend_labels(fig) == ["fast (n=2, median 0.20 s)", "slow (n=3, median 4.00 s)"]


def test_latency_ecdf_names_series_without_runs_and_says_when_nothing_was_measured() -> None:
    fig = plots.latency_ecdf({"webhook": [], "poll": [float("nan")]}, "Nothing yet")
    assert legend_labels(fig) == ["webhook (no runs)", "poll (no runs)"]
    assert all(len(line.get_xdata()) == 0 for line in fig.axes[0].get_lines())
    assert texts(fig) == ["no runs measured yet"]


def test_push_vs_pull_compares_pipeline_apply_with_agent_sync_per_commit() -> None:
    fig = plots.push_vs_pull(SESSION)
    push, pull = fig.axes[0].get_lines()
    assert list(push.get_xdata()) == pytest.approx([1.15, 1.15, 1.30])
    assert list(pull.get_xdata()) == pytest.approx([0.30, 0.30, 27.76])
    assert [label.split(" (")[0] for label in legend_labels(fig)] == [
        "push: CI pipeline applies",
        "pull: agent syncs",
    ]
    assert fig.axes[0].get_xlabel() == "seconds after git push"


def test_commit_modes_label_each_commit_by_what_made_the_agent_see_it() -> None:
    table = plots.commit_modes(SESSION, "demo")
    assert list(zip(table["revision"], table["mode"], strict=True)) == [(A, "webhook"), (B, "poll")]


@pytest.mark.parametrize(
    ("trigger", "mode"),
    [
        ("webhook", "webhook"),
        ("spec,webhook", "webhook"),
        ("poll", "poll"),
        ("annotation", "annotation"),
        (None, "not detected"),
    ],
)
def test_trigger_mode_groups_refresh_triggers(trigger: str | None, mode: str) -> None:
    assert plots.trigger_mode(trigger) == mode


def test_poll_vs_webhook_draws_one_ecdf_per_mode() -> None:
    fig = plots.poll_vs_webhook(SESSION)
    webhook, poll = fig.axes[0].get_lines()
    assert list(webhook.get_xdata()) == pytest.approx([0.30, 0.30])
    assert list(poll.get_xdata()) == pytest.approx([27.76, 27.76])
    # redis saw both commits but had nothing to sync: its rows count as commits, not as runs
    assert legend_labels(fig) == ["webhook (n=1, median 0.30 s)", "poll (n=1, median 27.76 s)"]


# -- drift -------------------------------------------------------------------------------------------


def test_drift_timeline_marks_injection_detection_each_attempt_and_the_heal() -> None:
    fig = plots.drift_timeline(SESSION, "demo")
    ax = fig.axes[0]
    assert ax.get_title() == "demo: drift and self-heal"
    assert ax.get_xlabel() == "time since the first drift event (s)"
    assert len(ax.collections) == 4
    attempts = next(c for c in ax.collections if c.get_label() == "self-heal attempt")
    assert [round(x, 2) for x, _ in attempts.get_offsets()] == [0.2, 5.3]
    assert texts(fig) == ["#1", "#2"]
    [span] = ax.patches
    assert span.get_x() == pytest.approx(0.0) and span.get_width() == pytest.approx(5.48)
    assert "cluster differs from Git" in legend_labels(fig)


def test_drift_timeline_shows_a_drift_that_self_heal_is_off_for_as_not_healed() -> None:
    fig = plots.drift_timeline(HEAL_OFF, "demo")
    assert len(fig.axes[0].collections) == 2
    assert "not healed (self-heal is off)" in texts(fig)


def test_drift_timeline_without_drift_says_how_to_make_some() -> None:
    fig = plots.drift_timeline(SESSION, "redis")
    assert len(fig.axes[0].collections) == 0 and "inject drift" in texts(fig)[0]


# -- replicas ----------------------------------------------------------------------------------------


def test_replicas_over_time_draws_desired_ready_and_the_marks() -> None:
    samples = [(0.0, 2, 2), (0.5, 5, 2), (1.0, 5, 4), (1.5, 5, 5)]
    fig = plots.replicas_over_time(samples, marks={"git push": 0.2})
    ax = fig.axes[0]
    assert ax.get_title() == "Desired vs ready replicas"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time since sampling started (s)", "replicas")
    desired, ready, push = ax.get_lines()
    assert list(desired.get_ydata()) == [2, 5, 5, 5] and list(ready.get_ydata()) == [2, 2, 4, 5]
    assert list(push.get_xdata()) == [0.2, 0.2]
    assert legend_labels(fig)[2] == "git push at 0.2 s"


def test_replicas_over_time_refuses_samples_without_the_needed_columns() -> None:
    import pandas as pd

    with pytest.raises(PlotError, match="lack the columns"):
        plots.replicas_over_time(pd.DataFrame({"t": [0.0], "n": [1]}))


class FakeKube:
    """Returns the Deployments it is given, one per read (the last one forever), and counts reads."""

    def __init__(self, deployments: list[dict[str, Any] | None]) -> None:
        self.deployments, self.reads = deployments, []

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        self.reads.append((api_version, kind, name, namespace))
        return self.deployments[min(len(self.reads) - 1, len(self.deployments) - 1)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def deployment(desired: int | None, ready: int) -> dict[str, Any]:
    spec = {} if desired is None else {"replicas": desired}
    return {
        "spec": spec,
        "status": {"readyReplicas": ready, "updatedReplicas": ready, "availableReplicas": ready},
    }


def test_sample_replicas_reads_the_deployment_on_a_fixed_beat_and_runs_the_action_once() -> None:
    kube = FakeKube([None, deployment(2, 2), deployment(5, 2), deployment(5, 5)])
    clock, pushed = FakeClock(), []
    frame = sample_replicas(
        kube, "demo", "web", 1.0, 0.25, action=lambda: pushed.append(clock()), clock=clock, sleep=clock.sleep
    )
    assert list(frame["t_s"]) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert list(frame["desired"]) == [0, 2, 5, 5, 5] and list(frame["ready"]) == [0, 2, 2, 5, 5]
    assert list(frame["exists"]) == [False, True, True, True, True]
    assert kube.reads[0] == ("apps/v1", "Deployment", "web", "demo")
    assert pushed == [100.0] and frame.attrs["marks"] == {"git push": 0.0}
    assert len(plots.replicas_over_time(frame).axes[0].get_lines()) == 3  # desired, ready, the push


def test_sample_replicas_defaults_desired_to_one_and_stops_when_asked() -> None:
    stop = threading.Event()
    stop.set()
    clock = FakeClock()
    frame = sample_replicas(
        FakeKube([deployment(None, 1)]), "demo", "web", 10.0, stop=stop, clock=clock, sleep=clock.sleep
    )
    assert list(frame["desired"]) == [1] and len(frame) == 1


def test_sample_replicas_refuses_a_zero_interval() -> None:
    with pytest.raises(PlotError, match="interval_s"):
        sample_replicas(FakeKube([None]), "demo", "web", 1.0, 0.0)


# -- the summary picture and rendering ------------------------------------------------------------


def test_summary_picture_draws_five_boxes_and_pull_and_push_arrows() -> None:
    fig = plots.summary_picture()
    ax = fig.axes[0]
    assert "Git holds the truth" in ax.get_title()
    assert len([p for p in ax.patches if isinstance(p, FancyBboxPatch)]) == 5
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 6
    assert sum(1 for a in arrows if a.get_linestyle() == "--") == 2  # the push model
    assert {"Git repository", "Kubernetes cluster", "CI pipeline"} <= set(texts(fig))
    assert legend_labels(fig) == ["pull model (GitOps agent)", "push model (CI applies)"]


FIGURES = {
    "swimlane": lambda: plots.swimlane(SESSION, "demo"),
    "swimlane-empty": lambda: plots.swimlane([], "demo"),
    "push_vs_pull": lambda: plots.push_vs_pull(SESSION),
    "poll_vs_webhook": lambda: plots.poll_vs_webhook(SESSION),
    "drift_timeline": lambda: plots.drift_timeline(HEAL_OFF, "demo"),
    "replicas_over_time": lambda: plots.replicas_over_time([(0, 1, 0), (1, 1, 1)]),
    "summary_picture": plots.summary_picture,
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_plot_renders_to_png_without_touching_pyplot(name: str) -> None:
    fig = FIGURES[name]()
    assert isinstance(fig, LabFigure)
    assert png_bytes(fig).startswith(PNG) and fig._repr_png_().startswith(PNG)
    fig.savefig(io.BytesIO(), format="svg")  # every text is drawn: a missing glyph would warn here
    assert plt.get_fignums() == []


def test_importing_labkit_ui_loads_neither_matplotlib_nor_ipywidgets() -> None:
    code = (
        "import sys, labkit.ui; "
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_labkit_ui_names_load_lazily_from_their_modules() -> None:
    import labkit.ui

    assert labkit.ui.swimlane is plots.swimlane and labkit.ui.sample_replicas is sample_replicas
    with pytest.raises(AttributeError):
        labkit.ui.no_such_plot  # noqa: B018
