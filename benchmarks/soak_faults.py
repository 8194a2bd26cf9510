"""The faults the chaos soak injects (:mod:`benchmarks.bench_soak`), each timed from the outside.

- :meth:`Faults.kill` — SIGKILL one process the lab's supervisor runs (``controller``,
  ``git-http``) and time until it serves again: the controller holds the heartbeat
  Lease under its new pid; the Git server answers a clone request.
- :meth:`Faults.restart_apiserver` — SIGKILL kwok's kube-apiserver and start it again
  exactly as kwokctl did (kwokctl does not restart it: the soak plays that part), then
  time until ``/readyz`` answers; any other component that gave up meanwhile is started again.
- :meth:`Faults.webhook_burst` — signed push webhooks, as a forge's retries would send.

Each fault takes a ``during`` callable: what to do while the process is down (drift,
a commit), so the soak also checks what happens to changes made in an outage.
Loopback only: every URL here is the lab's own 127.0.0.1 listener.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import ProxyHandler, Request, build_opener

from labkit import agent, supervisor
from labkit.cluster import kubectl, procs
from labkit.gitops import heartbeat
from labkit.hook import SIGNATURE_HEADER, read_secret, sign
from labkit.lab import Lab

RECOVERY_TIMEOUT_S = 60.0
"""A process not back within this many seconds counts as a fault not survived."""
OPENER = build_opener(ProxyHandler({}))  # loopback: never through a proxy


@dataclass(frozen=True)
class Launch:
    """How a kwok component was started (argv, environment, cwd), from /proc: enough to start it again."""

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
        """Start it detached, output appended to its log, its pid where kwokctl keeps it."""
        script = 'setsid "$@" >>"$LABKIT_COMPONENT_LOG" 2>&1 </dev/null & echo $!'
        out = subprocess.run(
            ["sh", "-c", script, "sh", *self.argv],
            env={**self.env, "LABKIT_COMPONENT_LOG": str(cluster_dir / "logs" / f"{self.name}.log")},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        pid = int(out.stdout.strip())
        (cluster_dir / "pids" / f"{self.name}.pid").write_text(str(pid))
        return pid


class Faults:
    """Inject faults into one lab; every method returns the seconds until it recovered (None: it did not)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        cluster_dir = getattr(lab.backend, "cluster_dir", None)
        self.cluster_dir: Path | None = cluster_dir
        self.launches = (
            {name: Launch.of(name, pid) for name, pid in procs.alive(cluster_dir).items()}
            if cluster_dir
            else {}
        )

    def kill(self, name: str, during: Callable[[], Any] = lambda: None) -> float | None:
        """SIGKILL the supervised program ``name``; seconds until it serves again."""
        old = supervisor.wait_for_pid(self.lab.state_dir, name)
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        during()
        deadline = killed + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._serves(name, old):
                return time.monotonic() - killed
            time.sleep(0.05)
        return None

    def _serves(self, name: str, old: int) -> bool:
        entry = supervisor.read_status(self.lab.state_dir).get("programs", {}).get(name, {})
        pid = entry.get("pid")
        if not pid or pid == old or entry.get("state") != "running":
            return False
        if name == "controller":
            with self.lab.kube() as kube:
                state = heartbeat.read(kube)
            return state.up and state.holder == heartbeat.holder_identity(pid=int(pid))
        if name == "git-http":
            try:
                url = f"{self.lab.repo.http_url}/info/refs?service=git-upload-pack"
                with OPENER.open(url, timeout=2) as resp:
                    return int(resp.status) == 200
            except (OSError, urllib.error.URLError):
                return False
        raise ValueError(f"no way to tell whether {name!r} serves")

    def restart_apiserver(self, during: Callable[[], Any] = lambda: None) -> float | None:
        """SIGKILL kube-apiserver, start it again as kwokctl did; seconds until /readyz answers."""
        if self.cluster_dir is None or "kube-apiserver" not in self.launches:
            raise ValueError("restarting the API server needs a kwok lab")
        pid = procs.alive(self.cluster_dir)["kube-apiserver"]
        os.kill(pid, signal.SIGKILL)  # a crash; SIGTERM would drain watches for a minute
        killed = time.monotonic()
        while procs.is_ours(pid, self.cluster_dir) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        during()
        self.launches["kube-apiserver"].start(self.cluster_dir)
        recovered = None
        while time.monotonic() - killed < RECOVERY_TIMEOUT_S:
            if kubectl.api_ready(self.lab.runner, self.lab.kubeconfig, self.lab.context):
                recovered = time.monotonic() - killed
                break
            time.sleep(0.1)
        self.revive()
        return recovered

    def revive(self) -> list[str]:
        """Start again any kwok component that exited (a leader that lost its lease); their names."""
        if self.cluster_dir is None:
            return []
        dead = [name for name in self.launches if name not in procs.alive(self.cluster_dir)]
        for name in dead:
            self.launches[name].start(self.cluster_dir)
        return dead

    def webhook_burst(self, requests: int) -> int:
        """POST ``requests`` signed push webhooks for HEAD to the controller; how many it accepted."""
        info, secret = agent.read_info(self.lab.state_dir), read_secret(self.lab.state_dir)
        if info is None or secret is None:
            return 0
        head = self.lab.repo.head()
        payload = {"ref": "refs/heads/main", "before": head, "after": head, "repository": self.lab.repo.url}
        body = json.dumps(payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        accepted = 0
        for _ in range(requests):
            try:
                with OPENER.open(Request(info.webhook_url, body, headers, method="POST"), timeout=5) as resp:
                    accepted += int(resp.status) == 202
            except (OSError, urllib.error.URLError):
                continue  # the controller is restarting: a forge would retry
        return accepted
