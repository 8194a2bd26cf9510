"""The pull agent's process: ``labkit controller run`` (started by ``labkit up``).

It runs outside the cluster, as its own process, so it survives notebook
kernel restarts — and it needs only two things: read access to Git and the
lab's kubeconfig. This module wires :class:`labkit.gitops.controller.Controller`
to the lab's state directory (kubeconfig, webhook secret, timeline), writes
``controller.json`` once the webhook listens, keeps the agent's heartbeat
Lease (:mod:`labkit.gitops.heartbeat`) renewed, and stops cleanly on SIGTERM.

:func:`program` is how the lab's supervisor (:mod:`labkit.supervisor`) runs
it; :func:`wait_until_listening` and :func:`read_info` are what
:class:`labkit.Lab` uses to find it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from labkit import supervisor
from labkit.errors import LabStateError
from labkit.events import Timeline
from labkit.gitops.application import crd_manifest
from labkit.gitops.controller import Controller
from labkit.gitops.heartbeat import Heartbeat
from labkit.gitops.source import SourceCache
from labkit.kube import Kube
from labkit.settings import ControllerSettings
from labkit.supervisor import Program, pid_alive

INFO = "controller.json"
LOG = "controller.log"


@dataclass(frozen=True)
class AgentInfo:
    """Where a running controller can be reached."""

    pid: int
    webhook_url: str

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def read_info(state_dir: Path) -> AgentInfo | None:
    path = state_dir / INFO
    try:
        data = json.loads(path.read_text())
        return AgentInfo(int(data["pid"]), str(data["webhook_url"]))
    except (OSError, ValueError, KeyError):
        return None


def run(state_dir: Path, settings: ControllerSettings | None = None) -> None:
    """Run the controller in this process until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
    kubeconfig = state_dir / "kubeconfig"
    secret_path = state_dir / "webhook.secret"
    if not kubeconfig.exists() or not secret_path.exists():
        raise LabStateError(f"no lab in {state_dir}", hint="run `labkit up` first")
    kube = Kube(kubeconfig)
    kube.ensure_crd(crd_manifest())
    kube.ensure_namespace("labkit")
    timeline = Timeline(state_dir / "timeline.jsonl")
    controller = Controller(
        kube,
        timeline,
        settings,
        webhook_secret=secret_path.read_bytes().strip(),
        # http(s) repositories are mirrored here, as Argo CD's repo-server keeps its clones.
        source=SourceCache(
            is_namespaced=kube.is_namespaced, mirrors=state_dir / "repo-server", timeline=timeline
        ),
    ).start()
    assert controller.webhook is not None
    heartbeat = Heartbeat(kube, timeline).start()
    info = {"pid": os.getpid(), "webhook_url": controller.webhook.url}
    tmp = state_dir / (INFO + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(state_dir / INFO)
    logging.info("controller running: pid %s, webhook %s", os.getpid(), controller.webhook.url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    heartbeat.stop()
    controller.stop()
    (state_dir / INFO).unlink(missing_ok=True)


def program(state_dir: Path, env: dict[str, str] | None = None) -> Program:
    """How the lab's supervisor runs the controller: ``labkit controller run`` for this lab."""
    return Program(
        "controller",
        (sys.executable, "-m", "labkit", "controller", "run", "--state-dir", str(state_dir)),
        str(state_dir / LOG),
        env=env or {},
    )


def wait_until_listening(state_dir: Path, timeout_s: float = 20.0) -> AgentInfo:
    """The running controller's info once its webhook listens (it writes ``controller.json`` then)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = supervisor.read_status(state_dir).get("programs", {}).get("controller", {}).get("pid")
        info = read_info(state_dir)
        if info is not None and info.pid == pid and info.alive:
            return info
        time.sleep(0.05)
    tail = (
        (state_dir / LOG).read_text(errors="replace").splitlines()[-10:] if (state_dir / LOG).exists() else []
    )
    raise LabStateError(
        "the controller did not start:\n" + "\n".join(tail),
        hint=f"read {state_dir / LOG}; then run `labkit up` again",
    )
