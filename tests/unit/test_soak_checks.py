"""The chaos soak's invariants fail when they should: a synced revision missing from history,
an entry too many, an agent outage longer than the worst restart, a lost operation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import soak_checks
from benchmarks.soak_checks import Check
from benchmarks.soak_report import SoakReport, Tally
from labkit.events import Timeline


class Apps:
    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history = history

    def get(self, name: str) -> dict[str, Any]:
        return {"status": {"history": self.history}}


def synced(timeline: Timeline, *revisions: str) -> None:
    for rev in revisions:
        timeline.append(
            "controller", "sync_finished", app="a", revision=rev, phase="Succeeded", dry_run=False
        )
    timeline.append("controller", "sync_finished", app="a", revision="dry", phase="Succeeded", dry_run=True)
    timeline.append("controller", "sync_finished", app="a", revision="bad", phase="Failed", dry_run=False)


def entries(*revisions: str) -> list[dict[str, Any]]:
    return [{"id": i, "revision": rev} for i, rev in enumerate(revisions)]


def test_history_holds_with_one_entry_per_successful_sync(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    synced(timeline, "r1", "r2", "r2")
    check = soak_checks.history(Apps(entries("r1", "r2", "r2")), timeline, ["a"])  # type: ignore[arg-type]
    assert check.ok and check.measured == "3 entries for 3 syncs; 0 revisions lost"


def test_history_fails_when_a_synced_revision_is_missing_or_an_entry_is_extra(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    synced(timeline, "r1", "r2")
    lost = soak_checks.history(Apps(entries("r1")), timeline, ["a"])  # type: ignore[arg-type]
    assert not lost.ok and "1 revisions lost" in lost.measured
    extra = soak_checks.history(Apps(entries("r1", "r2", "r2")), timeline, ["a"])  # type: ignore[arg-type]
    assert not extra.ok and "a: 3 entries for 2 syncs" in extra.measured


def sync_at_six(timeline: Timeline, *, started: bool = True, finished: bool = True, resumed: bool) -> None:
    """A sync of r1 that started at 06:00:00: its sync_started and a successful sync_finished."""
    common = {"app": "a", "revision": "r1", "dry_run": False, "resumed": resumed}
    if started:
        timeline.append("controller", "sync_started", **common)
    if finished:
        timeline.append(
            "controller", "sync_finished", phase="Succeeded", started_at="2026-11-30T06:00:00Z", **common
        )


def history_of(timeline: Timeline, *revisions: str) -> soak_checks.Check:
    return soak_checks.history(Apps(entries(*revisions)), timeline, ["a"])  # type: ignore[arg-type]


def test_a_resumed_sync_logged_twice_is_one_sync(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    for resumed in (False, True):  # killed between the log and the status write, then resumed
        sync_at_six(timeline, resumed=resumed)
    check = history_of(timeline, "r1")
    assert check.ok and check.measured == "1 entries for 1 syncs; 0 revisions lost"
    sync_at_six(timeline, resumed=False)
    assert "a: 1 entries for 2 syncs" in history_of(timeline, "r1").measured, "a new sync, same second"


def test_a_self_heal_resumed_after_a_sync_in_the_same_second_is_a_sync_of_its_own(tmp_path: Path) -> None:
    """The soak's 592-for-593: auto-sync and self-heal started in one second; the heal killed, resumed."""
    for logged_before_the_kill in (True, False):
        timeline = Timeline(tmp_path / f"t-{logged_before_the_kill}.jsonl")
        sync_at_six(timeline, resumed=False)  # the auto-sync
        sync_at_six(timeline, resumed=False, finished=logged_before_the_kill)  # the self-heal
        sync_at_six(timeline, resumed=True)  # the next controller finishes the heal
        check = history_of(timeline, "r1", "r1")
        assert check.ok and check.measured == "2 entries for 2 syncs; 0 revisions lost"


def test_an_agent_outage_longer_than_the_worst_restart_plus_a_beat_fails(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    timeline.append("controller", "agent_up", holder="h/2", previous="h/1", down_s=3.0)
    assert soak_checks.agent_outages(timeline, 0, worst_restart_s=1.0).ok  # 3.0 <= 1.0 + 2 + 0.5
    timeline.append("controller", "agent_up", holder="h/3", previous="h/2", down_s=9.0)
    assert not soak_checks.agent_outages(timeline, 0, worst_restart_s=1.0).ok


def test_lost_counts_failed_operations_faults_not_survived_and_broken_invariants() -> None:
    tally = Tally(faults=Counter(controller=3), survived=Counter(controller=2), errors=["drift: refused"])
    report = SoakReport(2, tally, (Check("x", True, ""), Check("y", False, "")))
    assert report.lost == 3
    assert report.rows()[-1][:3] == ("lost", "3", "0")
