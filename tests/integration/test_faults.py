"""Faults against the real kwok lab: the agent killed mid-sync, the API server restarted,
history rewritten by a force push, a kubectl edit racing a sync, a webhook flood.

The lab is shared by the whole session, so every test here leaves it as it
found it: the API server restart relaunches exactly the process it stopped
(same command line, environment and log file) and waits until the control
plane's leaders have renewed their leases; the agent killed with SIGKILL is
restarted by ``Lab.up()``, its supervisor.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import ProxyHandler, Request, build_opener

import pytest

from labkit import agent
from labkit.cluster import kubectl, procs
from labkit.drift import DriftInjector
from labkit.errors import CommandError, LabkitError
from labkit.events import Event
from labkit.hook import SIGNATURE_HEADER, read_secret, sign
from labkit.kube import Kube
from labkit.settings import Settings
from tests.integration.apphelpers import GitApp, configmap, deployment, dump, eventually

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "fault"
"""Names this module's apps (the ``gitapp`` fixture in conftest.py)."""
log = logging.getLogger("labkit.tests")
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller")
LEADERS = ("kube-controller-manager", "kube-scheduler")


def controller_pid(lab: Any) -> int:
    info = agent.read_info(lab.state_dir)
    assert info is not None and info.alive, "the controller is not running"
    return info.pid


def events(app: GitApp, kind: str, since_ns: int, revision: str | None = None, **data: Any) -> list[Event]:
    return [
        e
        for e in app.timeline.read(app=app.name, kind=kind, since_ns=since_ns)
        if (revision is None or e.revision == revision) and all(e.data.get(k) == v for k, v in data.items())
    ]


def log_errors(lab: Any, offset: int) -> list[str]:
    """Lines of the controller log written since ``offset`` that report a bug (a traceback)."""
    text = (lab.state_dir / agent.LOG).read_bytes()[offset:].decode(errors="replace")
    return [line for line in text.splitlines() if "bug while reconciling" in line or "Traceback" in line]


# -- (a) the agent is killed in the middle of a sync ------------------------------------------------


def sigkill(pid: int) -> None:
    """SIGKILL the controller (the lab's supervisor, its parent, reaps it)."""
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: not agent.pid_alive(pid), 10, f"controller {pid} to die")


def test_a_controller_killed_mid_sync_is_restarted_and_finishes_the_sync_once(
    lab: Any, gitapp: GitApp
) -> None:
    from labkit.lab import Lab

    # Wave 0 waits for a node labelled for this test only: the sync stays Running until the label comes.
    gate_label = f"labkit.dev/gate-{gitapp.name}"
    gate = deployment("gate", replicas=1)
    gate["spec"]["template"]["spec"]["nodeSelector"] = {gate_label: "open"}
    after = configmap("after")
    after["metadata"]["annotations"] = {"labkit.dev/sync-wave": "1"}
    sha = gitapp.commit("gated waves", **{"app.yaml": dump(gate, after)})
    gitapp.create(auto_sync=True)
    eventually(
        lambda: (
            "waiting for healthy state" in str((gitapp.status().get("operationState") or {}).get("message"))
        ),
        30,
        "the sync to wait for wave 0",
    )
    old = controller_pid(lab)
    sigkill(old)
    node = lab_node(gitapp.kube)
    try:
        restarted = Lab.up(Settings(), backend="kwok", progress=log.info)
        new = controller_pid(restarted)
        assert new != old
        status = gitapp.status()
        assert status["operationState"]["phase"] == "Running", "the cut-short sync is still on record"
        gitapp.kube.patch("v1", "Node", node, None, {"metadata": {"labels": {gate_label: "open"}}})
        gitapp.wait(sync="Synced", health="Healthy", revision=sha, timeout_s=60)
    finally:
        gitapp.kube.patch("v1", "Node", node, None, {"metadata": {"labels": {gate_label: None}}})
    assert gitapp.live("ConfigMap", "after") is not None
    entries = [h for h in gitapp.status()["history"] if h["revision"] == sha]
    assert len(entries) == 1, f"exactly one history entry for {sha[:7]}: {entries}"
    finished = [e for e in gitapp.events("sync_finished") if e.revision == sha]
    assert [e.data["phase"] for e in finished] == ["Succeeded"]
    started = [e for e in gitapp.events("sync_started") if e.revision == sha]
    assert len(started) == 2, "started by the killed agent, resumed by the new one"
    assert entries[0]["deployStartedAt"] == status["operationState"]["startedAt"], "resumed, not restarted"


def lab_node(kube: Kube) -> str:
    return str(kube.list("v1", "Node")[0]["metadata"]["name"])


# -- (b) the API server stops and starts again -------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """How a kwok component was started (kwokctl's binary runtime): enough to start it again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str

    @classmethod
    def of(cls, name: str, pid: int) -> Launch:
        proc = Path(f"/proc/{pid}")
        argv = [a.decode() for a in (proc / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")]
        pairs = (
            item.decode().partition("=") for item in (proc / "environ").read_bytes().split(b"\0") if item
        )
        return cls(name, argv, {k: v for k, _, v in pairs}, os.readlink(proc / "cwd"))

    def start(self, cluster_dir: Path) -> int:
        """Start it detached, output appended to its log, and record its pid where kwokctl keeps it."""
        log_file = cluster_dir / "logs" / f"{self.name}.log"
        script = 'setsid "$@" >>"$LABKIT_COMPONENT_LOG" 2>&1 </dev/null & echo $!'
        out = subprocess.run(
            ["sh", "-c", script, "sh", *self.argv],
            env={**self.env, "LABKIT_COMPONENT_LOG": str(log_file)},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        pid = int(out.stdout.strip())
        (cluster_dir / "pids" / f"{self.name}.pid").write_text(str(pid))
        return pid


def lease_renewed_since(kube: Kube, name: str, since: float) -> bool:
    """Whether the leader lease ``name`` was renewed after ``since`` (renewTime is a MicroTime)."""
    lease = kube.get("coordination.k8s.io/v1", "Lease", name, "kube-system") or {}
    renewed = str((lease.get("spec") or {}).get("renewTime") or "")
    if not renewed:
        return False
    stamp = renewed.rstrip("Z")
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f" if "." in stamp else "%Y-%m-%dT%H:%M:%S")
    return at.replace(tzinfo=UTC).timestamp() > since


def wait_api_ready(lab: Any) -> None:
    hint = f"read {lab.backend.cluster_dir / 'logs' / 'kube-apiserver.log'}"
    ready = lambda: kubectl.api_ready(lab.runner, lab.kubeconfig, lab.context)  # noqa: E731
    kubectl.wait_until(ready, 60, "the API server to answer /readyz", hint=hint)


def ensure_control_plane(lab: Any, launches: dict[str, Launch], since: float) -> None:
    """Every component alive again, the API ready, and the leaders' leases renewed after ``since``.

    kube-controller-manager and kube-scheduler give up leadership (and exit)
    when they cannot renew their lease for 10 s; once both renewed after the
    restart, they survived it. Any component found dead is started again.
    """
    cluster_dir = lab.backend.cluster_dir
    for name, launch in launches.items():
        if name not in procs.alive(cluster_dir):
            log.warning("%s is not running after the API server restart; starting it again", name)
            launch.start(cluster_dir)
    wait_api_ready(lab)
    with Kube(lab.kubeconfig, lab.context) as kube:
        for name in LEADERS:

            def renewed(name: str = name) -> bool:
                return lease_renewed_since(kube, name, since)

            eventually(renewed, 30, f"{name} to renew its leader lease")
        assert kube.nodes_ready() >= 1
    assert set(procs.alive(cluster_dir)) >= set(COMPONENTS)
    assert lab.backend.running()


def test_after_an_api_server_restart_the_controller_reconnects_and_heals_new_drift(
    lab: Any, gitapp: GitApp, drift: DriftInjector
) -> None:
    if lab.backend.name != "kwok":
        pytest.skip("restarts a kwok component")
    gitapp.commit("demo", **{"app.yaml": dump(deployment(replicas=2), configmap())})
    gitapp.create(auto_sync=True, self_heal=True)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    cluster_dir = lab.backend.cluster_dir
    launches = {name: Launch.of(name, pid) for name, pid in procs.alive(cluster_dir).items()}
    assert set(launches) >= set(COMPONENTS)
    pid, log_offset = controller_pid(lab), (lab.state_dir / agent.LOG).stat().st_size
    apiserver = procs.alive(cluster_dir)["kube-apiserver"]
    stopped = time.time()
    try:
        os.kill(apiserver, signal.SIGKILL)  # a crash; SIGTERM drains watches for a minute
        eventually(lambda: not procs.is_ours(apiserver, cluster_dir), 10, "kube-apiserver to stop")
        assert not kubectl.api_ready(lab.runner, lab.kubeconfig, lab.context), "the API really is down"
        time.sleep(1.5)  # long enough for every watch of the agent to notice
        launches["kube-apiserver"].start(cluster_dir)
        wait_api_ready(lab)
        ready = time.time()
        log.info("API server down for %.1f s", ready - stopped)
        mark = time.time_ns()
        drift.scale(gitapp.namespace, "web", 5, app=gitapp.name)
        healed = eventually(lambda: events(gitapp, "healed", mark), 30, "the drift to be healed")[0]
        injected = events(gitapp, "drift_injected", mark)[0]
        log.info("drift right after the restart healed in %.2f s", (healed.ts_ns - injected.ts_ns) / 1e9)
        assert (gitapp.live("Deployment", "web", "apps/v1") or {})["spec"]["replicas"] == 2
    finally:
        ensure_control_plane(lab, launches, stopped)
    assert controller_pid(lab) == pid, "the controller kept running through the restart"
    text = (lab.state_dir / agent.LOG).read_bytes()[log_offset:].decode(errors="replace")
    assert "reconnecting" in text, "the agent saw its watches break"
    assert log_errors(lab, log_offset) == []
    # Git changes still flow: the Applications watch reconnected too.
    sha = gitapp.commit("after the restart", **{"app.yaml": dump(deployment(replicas=3), configmap())})
    gitapp.wait(sync="Synced", revision=sha, timeout_s=30)


# -- (c) a force push rewrites history under the Application -------------------------------------------


def test_a_force_push_to_an_older_commit_is_detected_and_the_app_converges_to_it(
    lab: Any, gitapp: GitApp
) -> None:
    a = gitapp.commit("a", **{"app.yaml": dump(configmap(GREETING="a"))})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", revision=a, timeout_s=60)
    b = gitapp.commit("b", **{"app.yaml": dump(configmap(GREETING="b"))})
    gitapp.wait(sync="Synced", revision=b, timeout_s=30)
    pid, log_offset, mark = controller_pid(lab), (lab.state_dir / agent.LOG).stat().st_size, time.time_ns()
    gitapp.repo.force_push(a)
    assert gitapp.repo.head() == a
    detected = eventually(lambda: events(gitapp, "revision_detected", mark, a), 15, "the rewritten HEAD")[0]
    assert detected.data["previous"] == b
    gitapp.wait(sync="Synced", revision=a, timeout_s=30)
    assert (gitapp.live("ConfigMap", "web-config") or {})["data"]["GREETING"] == "a"
    assert events(gitapp, "sync_finished", mark, a, phase="Succeeded")
    assert gitapp.conditions() == []
    assert controller_pid(lab) == pid and log_errors(lab, log_offset) == []


# -- (d) a kubectl edit races a sync ------------------------------------------------------------------


RACE_EVENTS = {
    "drift_injected",
    "sync_started",
    "sync_finished",
    "drift_detected",
    "self_heal_attempt",
    "healed",
}


def test_a_kubectl_edit_racing_a_sync_ends_with_the_cluster_equal_to_git(
    gitapp: GitApp, drift: DriftInjector
) -> None:
    gitapp.commit("v0", **{"app.yaml": dump(deployment(replicas=1), configmap(GREETING="git-0"))})
    gitapp.create(auto_sync=True, self_heal=True)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    lost: list[str] = []

    def by_hand(round_: int) -> None:
        try:
            ns = gitapp.namespace
            drift.edit(ns, "configmap", "web-config", "data.GREETING", f"hand-{round_}", app=gitapp.name)
            drift.scale(ns, "web", 7, app=gitapp.name)
        except (CommandError, LabkitError) as e:  # kubectl edit may lose the race: "object has been modified"
            lost.append(e.message)

    for round_ in range(1, 4):
        mark = time.time_ns()
        files = {"app.yaml": dump(deployment(replicas=1 + round_), configmap(GREETING=f"git-{round_}"))}
        hand = threading.Thread(target=by_hand, args=(round_,))
        hand.start()
        sha = gitapp.commit(f"v{round_}", **files)
        hand.join(60)
        gitapp.wait(sync="Synced", revision=sha, timeout_s=60)

        def equals_git(want: int = 1 + round_, greeting: str = f"git-{round_}") -> bool:
            cm = gitapp.live("ConfigMap", "web-config") or {}
            deploy = gitapp.live("Deployment", "web", "apps/v1") or {}
            return cm.get("data", {}).get("GREETING") == greeting and deploy["spec"]["replicas"] == want

        eventually(equals_git, 30, f"the cluster to equal Git v{round_}")
        kinds = [
            e.kind for e in gitapp.timeline.read(app=gitapp.name, since_ns=mark) if e.kind in RACE_EVENTS
        ]
        log.info("round %d: %s", round_, ", ".join(kinds))
        time.sleep(1.0)
        assert equals_git() and gitapp.status()["sync"]["status"] == "Synced", "and it stays so"
    log.info("kubectl lost the race %d time(s): %s", len(lost), lost)


# -- (e) a webhook flood -------------------------------------------------------------------------------


def test_a_webhook_flood_is_coalesced_and_the_controller_stays_responsive(lab: Any, gitapp: GitApp) -> None:
    sha = gitapp.commit("demo", **{"app.yaml": dump(configmap())})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", revision=sha, timeout_s=60)
    url = lab.status()["controller"]["webhook_url"]
    secret = read_secret(lab.state_dir)
    assert secret is not None
    body = json.dumps(
        {"ref": "refs/heads/main", "before": sha, "after": sha, "repository": gitapp.repo.url}, sort_keys=True
    ).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
    opener = build_opener(ProxyHandler({}))

    def post(_: int) -> int:
        with opener.open(Request(url, data=body, headers=headers, method="POST"), timeout=10) as resp:
            return int(resp.status)

    requests = 200
    mark, started = time.time_ns(), time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(post, range(requests)))
    took = time.monotonic() - started
    assert codes == [202] * requests
    received = eventually(
        lambda: len(lab.timeline.read(kind="webhook_received", since_ns=mark)) >= requests, 10, "all webhooks"
    )
    assert received
    time.sleep(1.0)  # let the queue drain
    refreshes = [
        e for e in events(gitapp, "refresh_started", mark) if "webhook" in str(e.data.get("trigger"))
    ]
    log.info("%d webhooks in %.1f s -> %d refreshes of the app", requests, took, len(refreshes))
    assert took < 30
    assert 1 <= len(refreshes) <= requests // 4, "bursts are coalesced by the work queue"
    # Still responsive: a commit right after the flood syncs within about two seconds.
    pushed_at = time.time_ns()
    new = gitapp.commit("after the flood", **{"app.yaml": dump(configmap(GREETING="after"))})
    finished = eventually(
        lambda: events(gitapp, "sync_finished", pushed_at, new, phase="Succeeded"), 10, "the sync"
    )[0]
    pushed = [e for e in lab.timeline.read(kind="pushed", since_ns=pushed_at) if e.revision == new][0]
    latency = (finished.ts_ns - pushed.ts_ns) / 1e9
    log.info("commit after the flood: pushed -> synced %.2f s", latency)
    assert latency < 2.5
