"""The pull agent's process: ``labkit controller run`` (started by ``labkit up``).

It runs outside the cluster, as its own process, so it survives notebook
kernel restarts — and it needs only two things: read access to Git and the
lab's kubeconfig. This module wires :class:`labkit.gitops.controller.Controller`
to the lab's state directory (kubeconfig, webhook secret, timeline), writes
``controller.json`` once the webhook listens, and stops cleanly on SIGTERM.

``start_detached`` / ``stop`` / ``read_info`` are what :class:`labkit.Lab`
uses to supervise it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import LabStateError
from labkit.events import Timeline
from labkit.gitops.application import crd_manifest
from labkit.gitops.controller import Controller
from labkit.kube import Kube
from labkit.settings import ControllerSettings

INFO = "controller.json"
LOG = "controller.log"

# Popen objects of controllers this process started. Keeping them referenced
# lets the child outlive the Popen object without a ResourceWarning; the
# child runs in its own session and is stopped by `stop()`, not by us exiting.
_CHILDREN: list[subprocess.Popen[bytes]] = []


@atexit.register
def _leave_children_running() -> None:
    # The controller is meant to outlive the process that started it (a
    # notebook kernel, `labkit up`). Marking its Popen as finished tells
    # Python not to warn that "subprocess N is still running" at exit.
    for proc in _CHILDREN:
        if proc.returncode is None:
            proc.returncode = 0


@dataclass(frozen=True)
class AgentInfo:
    """Where a running controller can be reached."""

    pid: int
    webhook_url: str

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is not alive for us.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


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
    controller = Controller(
        kube,
        Timeline(state_dir / "timeline.jsonl"),
        settings,
        webhook_secret=secret_path.read_bytes().strip(),
    ).start()
    assert controller.webhook is not None
    info = {"pid": os.getpid(), "webhook_url": controller.webhook.url}
    tmp = state_dir / (INFO + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(state_dir / INFO)
    logging.info("controller running: pid %s, webhook %s", os.getpid(), controller.webhook.url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    (state_dir / INFO).unlink(missing_ok=True)


def start_detached(state_dir: Path, env: dict[str, str] | None = None, timeout_s: float = 20.0) -> AgentInfo:
    """Start ``labkit controller run`` in its own session and wait until it listens."""
    (state_dir / INFO).unlink(missing_ok=True)
    _CHILDREN[:] = [p for p in _CHILDREN if p.poll() is None]  # forget (and reap) dead ones
    log = open(state_dir / LOG, "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit", "controller", "run", "--state-dir", str(state_dir)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    log.close()
    _CHILDREN.append(proc)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = read_info(state_dir)
        if info is not None and info.pid == proc.pid:
            return info
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    tail = (state_dir / LOG).read_text(errors="replace").splitlines()[-10:]
    raise LabStateError(
        "the controller did not start:\n" + "\n".join(tail),
        hint=f"read {state_dir / LOG}; then run `labkit up` again",
    )


def stop(state_dir: Path, timeout_s: float = 10.0) -> bool:
    """Stop a running controller (SIGTERM, then SIGKILL). True if one was running."""
    info = read_info(state_dir)
    if info is None or not info.alive:
        (state_dir / INFO).unlink(missing_ok=True)
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and info.alive:
        time.sleep(0.05)
    if info.alive:
        os.kill(info.pid, signal.SIGKILL)
    _reap(info.pid)
    (state_dir / INFO).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status of a controller this process started (no zombie, no warning)."""
    for proc in [p for p in _CHILDREN if p.pid == pid]:
        proc.wait(timeout=5)
        _CHILDREN.remove(proc)
