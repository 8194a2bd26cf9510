"""The lab's processes under its supervisor, for real: nothing stays down, and nothing lies meanwhile.

SIGKILL of labkit's controller: the supervisor starts a new one within 5 s,
which takes the heartbeat Lease over and heals drift made while it was down
within 5 s; while it was down, ``labkit app get`` said so (and that sync was
only as of ``status.reconciledAt``). To hold the outage open long enough to
look at it, one test stops the supervisor (SIGSTOP) for a moment and lets it
go again (SIGCONT) in a ``finally``. A program that crashes at once every time
ends "gave up" with its log in ``labkit status``, and the lab goes on working.
(The Git HTTP server's SIGKILL is tested in ``test_githttp.py``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from labkit import supervisor
from labkit.drift import DriftInjector
from labkit.gitops import heartbeat
from labkit.kube import Kube
from tests.integration.apphelpers import GitApp, configmap, deployment, dump, eventually

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "sup"
"""Names this module's apps (the ``gitapp`` fixture in conftest.py)."""


def labkit_cli(lab: Any, *args: str) -> str:
    """The labkit CLI for the session's lab, as a learner runs it; its output."""
    env = {**os.environ, "LABKIT_HOME": str(lab.settings.home), "LABKIT_LAB": lab.settings.lab}
    done = subprocess.run(
        [sys.executable, "-m", "labkit", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def program(lab: Any, name: str) -> dict[str, Any]:
    return dict(supervisor.read_status(lab.state_dir).get("programs", {}).get(name, {}))


def restarted(lab: Any, name: str, old: int) -> int | None:
    entry = program(lab, name)
    pid = entry.get("pid")
    return int(pid) if pid and pid != old and entry.get("state") == "running" else None


def lease_held_by(kube: Kube, pid: int) -> bool:
    state = heartbeat.read(kube)
    return state.up and state.holder == heartbeat.holder_identity(pid=pid)


@contextmanager
def supervisor_paused(lab: Any) -> Iterator[int]:
    """Hold the supervisor still (SIGSTOP), so a killed program stays down until the block ends."""
    pid = int(supervisor.read_status(lab.state_dir)["pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_controller_killed_with_sigkill_is_back_within_5_s_and_holds_the_heartbeat_lease(lab: Any) -> None:
    old = supervisor.wait_for_pid(lab.state_dir, "controller")
    with lab.kube() as kube:
        eventually(lambda: lease_held_by(kube, old), 10, "the running controller to hold the Lease")
        restarts = int(program(lab, "controller").get("restarts", 0))
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        new = eventually(lambda: restarted(lab, "controller", old), 10, "the controller to be restarted")
        eventually(lambda: lease_held_by(kube, new), 10, "the new controller to take the Lease over")
        took = time.monotonic() - killed
    assert took < 5, f"the controller took {took:.1f} s to come back"
    assert int(program(lab, "controller")["restarts"]) == restarts + 1
    status = labkit_cli(lab, "status")
    row = next(line.split() for line in status.splitlines() if line.startswith("process controller"))
    assert row == ["process", "controller", "running", "pid", str(new), "restarts", str(restarts + 1)], status
    assert f"agent          up ({heartbeat.holder_identity(pid=new)}, heartbeat" in status, status


def test_drift_made_while_the_controller_is_down_is_reported_honestly_then_healed_within_5_s_of_the_restart(
    lab: Any, gitapp: GitApp, drift: DriftInjector
) -> None:
    gitapp.commit("demo", **{"app.yaml": dump(deployment(replicas=2), configmap())})
    gitapp.create(auto_sync=True, self_heal=True)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    old = supervisor.wait_for_pid(lab.state_dir, "controller")
    with supervisor_paused(lab):
        os.kill(old, signal.SIGKILL)
        shown = labkit_cli(lab, "app", "get", gitapp.name)
        listed = labkit_cli(lab, "app", "list")
        status = labkit_cli(lab, "status")
        drift.scale(gitapp.namespace, "web", 5, app=gitapp.name)
        time.sleep(1.0)
        assert gitapp.live("Deployment", "web", "apps/v1")["spec"]["replicas"] == 5, "nobody heals"  # type: ignore[index]
        resumed_ns, resumed = time.time_ns(), time.monotonic()
    assert (
        "Agent:     DOWN since" in shown
        and f"its process {heartbeat.holder_identity(pid=old)} is gone" in shown
    )
    assert "Sync:      Synced @" in shown and "(as of 20" in shown, shown
    assert "Synced (stale)" in listed and "nobody reconciles now" in listed
    assert "agent          DOWN since" in status, status
    new = eventually(lambda: restarted(lab, "controller", old), 10, "the controller to be restarted")
    assert time.monotonic() - resumed < 5, "restarted within 5 s once the supervisor runs again"
    healed = eventually(lambda: gitapp.timeline.read(app=gitapp.name, kind="healed", since_ns=resumed_ns), 10)
    [up] = [
        e
        for e in lab.timeline.read(kind="agent_up", since_ns=resumed_ns)
        if e.data["holder"].endswith(f"/{new}")
    ]
    assert (healed[0].ts_ns - up.ts_ns) / 1e9 < 5, "healed within 5 s of the new agent's first beat"
    assert (gitapp.live("Deployment", "web", "apps/v1") or {})["spec"]["replicas"] == 2
    assert "Agent:     up" in labkit_cli(lab, "app", "get", gitapp.name)


def test_a_program_that_crashes_at_once_gives_up_with_its_log_in_labkit_status_and_the_lab_still_works(
    lab: Any, gitapp: GitApp
) -> None:
    log = lab.state_dir / "crasher.log"
    crasher = supervisor.Program(
        "crasher",
        (sys.executable, "-c", "import sys; print('crasher: no config file, exiting'); sys.exit(3)"),
        str(log),
    )
    supervisor.register(lab.state_dir, crasher)
    try:
        eventually(lambda: program(lab, "crasher").get("state") == "gave-up", 40, "the supervisor to give up")
        status = labkit_cli(lab, "status")
        assert "process crasher        gave-up   pid -" in status, status
        assert f"gave up after {supervisor.GIVE_UP_CRASHES} crashes in" in status
        assert f"see: tail -n 50 {log}" in status
        assert "| crasher: no config file, exiting" in status
        assert "process controller     running" in status
        sha = gitapp.commit("demo", **{"app.yaml": dump(configmap())})
        gitapp.create(auto_sync=True)
        gitapp.wait(sync="Synced", revision=sha, timeout_s=60)
    finally:
        supervisor.unregister(lab.state_dir, "crasher")
        log.unlink(missing_ok=True)
    eventually(lambda: not program(lab, "crasher"), 10, "the supervisor to forget the crasher")
