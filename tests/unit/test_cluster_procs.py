"""Finding and stopping a kwok cluster's processes through kwokctl's pid files, on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.cluster import procs


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    path = tmp_path / "kwok" / "clusters" / "labkit"
    (path / "pids").mkdir(parents=True)
    return path


@pytest.fixture
def component(cluster_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping process whose command line names the cluster directory, like kwokctl's components."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"--data-dir={cluster_dir}/etcd"]
    )
    (cluster_dir / "pids" / "etcd.pid").write_text(str(proc.pid))
    yield proc
    proc.kill()
    proc.wait()


def test_a_live_component_is_found_through_its_pid_file(
    cluster_dir: Path, component: subprocess.Popen[bytes]
) -> None:
    assert procs.alive(cluster_dir) == {"etcd": component.pid}
    assert procs.all_alive(cluster_dir, ["etcd"])
    assert not procs.all_alive(cluster_dir, ["etcd", "kube-apiserver"])


def test_a_recycled_pid_that_belongs_to_another_program_is_not_ours(cluster_dir: Path) -> None:
    (cluster_dir / "pids" / "kube-apiserver.pid").write_text(str(os.getpid()))
    assert procs.alive(cluster_dir) == {}
    assert procs.stop(cluster_dir) == []


def test_stop_ends_the_components_and_only_them(
    cluster_dir: Path, component: subprocess.Popen[bytes]
) -> None:
    (cluster_dir / "pids" / "other.pid").write_text(str(os.getpid()))
    assert procs.stop(cluster_dir, grace_s=5) == [component.pid]
    assert component.wait(timeout=5) is not None
    assert procs.alive(cluster_dir) == {}


def test_a_garbled_pid_file_is_ignored(cluster_dir: Path) -> None:
    (cluster_dir / "pids" / "etcd.pid").write_text("not a pid")
    assert procs.pids(cluster_dir) == {}


def test_log_tail_indents_the_last_lines_and_tolerates_a_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("one\ntwo\nthree\n")
    assert procs.log_tail(log, 2) == "    two\n    three"
    assert procs.log_tail(tmp_path / "missing.log", 2) == ""
