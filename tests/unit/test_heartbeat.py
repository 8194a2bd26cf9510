"""The agent's heartbeat Lease: written on every beat, taken over with the outage on the timeline,
and read honestly: stale, or held by a process that is gone, means the agent is down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labkit.cli import app_cmds, lab_cmds
from labkit.events import Timeline
from labkit.gitops import heartbeat
from labkit.gitops.application import application_manifest
from labkit.gitops.heartbeat import AgentState, Heartbeat, judge, lease_manifest, parse_time
from tests.conftest import FakeKube

LEASE_KINDS = {(heartbeat.API_VERSION, heartbeat.KIND): True}
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_lease_time_is_a_micro_time_that_reads_back_to_the_same_second() -> None:
    text = heartbeat.micro_time(NOW + 0.25)
    assert text.endswith("Z") and "." in text
    assert parse_time(text) == pytest.approx(NOW + 0.25)
    assert parse_time("2023-11-14T22:13:20Z") == NOW
    assert parse_time("") is None and parse_time("yesterday") is None


def test_every_beat_renews_the_lease_and_the_first_one_records_the_take_over(tmp_path: Path) -> None:
    kube, clock = FakeKube(kinds=LEASE_KINDS), Clock(NOW)
    timeline = Timeline(tmp_path / "timeline.jsonl")
    kube.apply(lease_manifest("host/1", NOW - 7, NOW - 100, 3))
    beat = Heartbeat(kube, timeline, holder="host/2", clock=clock)  # type: ignore[arg-type]
    assert beat.beat()
    clock.now += 2
    assert beat.beat()
    spec = kube.find("Lease", heartbeat.LEASE_NAME)["spec"]  # type: ignore[index]
    assert spec["holderIdentity"] == "host/2" and spec["leaseDurationSeconds"] == 10
    assert parse_time(spec["renewTime"]) == pytest.approx(NOW + 2)
    assert parse_time(spec["acquireTime"]) == pytest.approx(NOW)
    assert spec["leaseTransitions"] == 4
    [up] = timeline.read(kind="agent_up")
    assert up.data == {"holder": "host/2", "previous": "host/1", "down_s": 7.0}


def test_a_first_agent_takes_a_lease_nobody_held_without_counting_a_transition(tmp_path: Path) -> None:
    kube = FakeKube(kinds=LEASE_KINDS)
    beat = Heartbeat(kube, Timeline(tmp_path / "t.jsonl"), holder="host/2", clock=Clock(NOW))  # type: ignore[arg-type]
    beat.beat()
    assert kube.find("Lease", heartbeat.LEASE_NAME)["spec"]["leaseTransitions"] == 0  # type: ignore[index]


def test_a_fresh_lease_of_a_live_process_means_the_agent_is_up() -> None:
    state = judge(lease_manifest("host/42", NOW - 1, NOW - 60, 0), NOW, host="host", alive=lambda pid: True)
    assert state.up and state.holder == "host/42"
    assert state.line() == "up (host/42, heartbeat 1 s ago)"


def test_a_lease_older_than_its_duration_means_down_since_the_last_beat() -> None:
    state = judge(lease_manifest("other/42", NOW - 14, NOW - 60, 0), NOW, host="host", alive=lambda pid: True)
    assert not state.up and state.renewed_at == pytest.approx(NOW - 14)
    assert state.line() == "DOWN since 22:13:06 UTC (no heartbeat for 14 s; a beat counts 10 s)"


def test_a_fresh_lease_whose_process_on_this_host_is_gone_means_down_at_once() -> None:
    lease = lease_manifest("host/42", NOW - 1, NOW - 60, 0)
    state = judge(lease, NOW, host="host", alive=lambda pid: pid != 42)
    assert not state.up and "its process host/42 is gone" in state.line()
    # A holder on another host cannot be checked by pid: only its age counts.
    assert judge(
        lease_manifest("elsewhere/42", NOW - 1, NOW - 60, 0), NOW, host="host", alive=lambda p: False
    ).up


def test_no_lease_at_all_means_the_agent_never_started() -> None:
    state = judge(None, NOW)
    assert not state.up and state.renewed_at is None and "never started" in state.line()


class Apps:
    def __init__(self, obj: dict[str, Any], agent: AgentState) -> None:
        self.obj, self.state = obj, agent

    def get(self, name: str) -> dict[str, Any]:
        return self.obj

    def list(self) -> list[Any]:
        return [app_cmds.AppSummary.from_manifest(self.obj)]

    def agent(self) -> AgentState:
        return self.state


def synced_app() -> dict[str, Any]:
    obj = application_manifest("demo", "file:///r.git", "apps/demo", "demo")
    obj["status"] = {
        "sync": {"status": "Synced", "revision": "c" * 40},
        "health": {"status": "Healthy"},
        "reconciledAt": "2023-11-14T22:13:00Z",
    }
    return obj


DOWN = AgentState(False, "host/42", NOW - 14, NOW, "its process host/42 is gone")
UP = AgentState(True, "host/43", NOW - 1, NOW, "heartbeat 1 s ago")


def test_app_get_says_the_agent_is_down_since_when_and_that_sync_is_as_of_reconciled_at(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_cmds, "_client", lambda: Apps(synced_app(), DOWN))
    out = CliRunner().invoke(app_cmds.app, ["get", "demo"]).output
    assert "Agent:     DOWN since 22:13:06 UTC (its process host/42 is gone)" in out
    sync_line = next(line for line in out.splitlines() if line.startswith("Sync:"))
    assert sync_line == "Sync:      Synced @ ccccccc  (as of 2023-11-14T22:13:00Z, status.reconciledAt)"
    assert "nobody reconciles now" in out


def test_app_get_with_a_live_agent_shows_the_status_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_cmds, "_client", lambda: Apps(synced_app(), UP))
    out = CliRunner().invoke(app_cmds.app, ["get", "demo"]).output
    assert "Agent:     up (host/43, heartbeat 1 s ago)" in out and "Sync:      Synced @ ccccccc\n" in out


def test_app_list_marks_every_status_stale_while_the_agent_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_cmds, "_client", lambda: Apps(synced_app(), DOWN))
    lines = CliRunner().invoke(app_cmds.app, ["list"]).output.splitlines()
    assert lines[0].startswith("labkit's agent is DOWN since 22:13:06 UTC")
    assert lines[1].split()[:6] == ["NAME", "SYNC", "HEALTH", "REV", "AS", "OF"]
    assert lines[2].split()[:7] == ["demo", "Synced", "(stale)", "Healthy", "(stale)", "ccccccc", "20s"]


def test_ages_read_as_kubectl_prints_them() -> None:
    assert [app_cmds._age(heartbeat.micro_time(NOW - s), NOW) for s in (5, 150, 7200, 200000)] == [
        "5s",
        "2m",
        "2h",
        "2d",
    ]
    assert app_cmds._age("", NOW) == "-"


def test_labkit_status_shows_each_process_and_why_one_gave_up_with_its_log() -> None:
    programs = {
        "controller": {"state": "running", "pid": 12, "restarts": 2, "message": ""},
        "crasher": {
            "state": "gave-up",
            "pid": None,
            "restarts": 4,
            "message": "gave up after 5 crashes in 9 s; see: tail -n 50 /x/crasher.log",
            "log_tail": ["boom"],
        },
    }
    lines = lab_cmds.process_lines(programs)
    assert lines[0].split() == ["process", "controller", "running", "pid", "12", "restarts", "2"]
    assert lines[1].split() == ["process", "crasher", "gave-up", "pid", "-", "restarts", "4"]
    assert lines[2].strip() == "gave up after 5 crashes in 9 s; see: tail -n 50 /x/crasher.log"
    assert lines[3].strip() == "| boom"


def test_the_dashboard_shows_sync_as_of_reconciled_at_while_the_agent_is_down_and_plainly_after() -> None:
    from labkit.ui.widgets import Dashboard
    from tests.unit.test_widgets import SYNCED, TIMELINE, FakeApps, FakeKube, no_repo

    obj = {**SYNCED, "status": {**SYNCED["status"], "reconciledAt": "2023-11-14T22:13:00Z"}}
    board = Dashboard(FakeApps(obj), no_repo(), TIMELINE, kube=FakeKube(), start=False)
    board.show_agent(DOWN)
    header = board.panels["demo"].header.value
    assert "(as of 2023-11-14T22:13:00Z: the agent is down)" in header
    assert "DOWN since 22:13:06 UTC" in board.agent.value
    board.handle("ADDED", {**obj, "metadata": {**obj["metadata"], "name": "late"}})
    assert "the agent is down" in board.panels["late"].header.value, "a panel added later is honest too"
    board.show_agent(UP)
    assert board.agent.value == "" and "as of" not in board.panels["demo"].header.value
