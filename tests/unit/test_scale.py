"""The scale experiment's pure parts (labkit.scale) and `labkit up --nodes` on bad input."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from labkit import scale
from labkit.cli import main
from labkit.errors import LabkitError
from labkit.events import Timeline


def test_each_app_declares_a_deployment_and_four_configmaps_carrying_the_stamp() -> None:
    docs = list(yaml.safe_load_all(scale.manifests("v2-s-0001")))
    assert [d["kind"] for d in docs] == ["Deployment"] + ["ConfigMap"] * 4
    assert len(docs) == scale.RESOURCES
    assert {d["data"]["stamp"] for d in docs[1:]} == {"v2-s-0001"}


def test_app_names_refuse_zero_apps() -> None:
    assert scale.app_names(3) == ["s-0000", "s-0001", "s-0002"]
    with pytest.raises(LabkitError, match="at least 1 app, got 0"):
        scale.app_names(0)


def test_the_follower_returns_only_new_complete_events(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "timeline.jsonl")
    timeline.append("git", "pushed", revision="a")
    follow = scale.TimelineFollower(timeline.path)
    assert follow.new() == []
    timeline.append("controller", "sync_finished", app="s-0000", revision="b", phase="Succeeded")
    with timeline.path.open("a") as f:
        f.write('{"ts_ns": 1, "actor": "controller", "ki')  # a line still being written
    assert [e.kind for e in follow.new()] == ["sync_finished"]
    with timeline.path.open("a") as f:
        f.write('nd": "healthy"}\n')
    assert [e.kind for e in follow.new()] == ["healthy"]
    assert [e.kind for e in follow.seen] == ["sync_finished", "healthy"]


def _stat(utime: int, stime: int, rss_pages: int) -> str:
    fields = ["S"] + ["0"] * 10 + [str(utime), str(stime)] + ["0"] * 8 + [str(rss_pages)]
    return "42 (python3 -m labkit) " + " ".join(fields)


def test_the_sampler_keeps_peak_rss_and_cpu_seconds_between_enter_and_exit() -> None:
    import os

    hz, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    stats = iter([_stat(100, 0, 1000), _stat(100, hz, 5000), _stat(100, 2 * hz, 2000)])
    last = _stat(100, 2 * hz, 2000)
    sampler = scale.ProcessSampler({"agent": 42}, every_s=0.001, read=lambda pid: next(stats, last))
    with sampler:
        time.sleep(0.1)  # the sampling thread reads the middle values
    assert math.isclose(sampler.cpu_s["agent"], 2.0)
    assert math.isclose(sampler.peak_mb["agent"], 5000 * page / 2**20)


def test_a_scale_run_row_names_its_costs() -> None:
    run = scale.ScaleRun(100, "abc", 9.0, (1.0, 2.0, 3.0), 4.0, 70.0, 20.0, 350.0, 60.0, 0, 1)
    row = run.row()
    assert (row["apps"], row["resources"], row["all_synced_s"], row["p50_s"]) == (100, 500, 3.0, 2.0)
    assert scale.table([run]) == [row]


def test_labkit_up_refuses_zero_nodes() -> None:
    result = CliRunner().invoke(main, ["up", "--nodes", "0"])
    assert result.exit_code == 2
    assert "0 is not in the range x>=1" in result.output
