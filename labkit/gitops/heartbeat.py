"""The agent's heartbeat: a ``coordination.k8s.io/v1`` Lease the cluster can see, and who reads it.

A status written by a controller stays on the Application after the
controller died: ``Synced`` keeps saying Synced while nobody watches. So, as
Kubernetes' own controllers and kubelets do, labkit's agent renews a Lease
(``labkit-controller`` in namespace ``labkit``) every :data:`RENEW_S` seconds:
``holderIdentity`` is ``host/pid``, ``renewTime`` the last beat,
``leaseDurationSeconds`` how long a beat counts. ``kubectl get lease -n labkit
labkit-controller -o yaml`` shows it.

:class:`Heartbeat` is the writer, started by :func:`labkit.agent.run` beside
the controller. When it takes the Lease over from an earlier holder it
writes ``agent_up`` to the timeline with how long the agent was gone.
:func:`read` and the pure :func:`judge` are the readers (``labkit app get``
and ``list`` through :meth:`labkit.apps.AppClient.agent`, the dashboard, the
soak benchmark): the agent is down when the Lease is older than its
duration, or at once when its holder is a process on this host that no
longer runs (a SIGKILL is then visible before the Lease expires).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labkit.errors import LabkitError
from labkit.events import Timeline
from labkit.kube import Kube
from labkit.supervisor import pid_alive

Manifest = dict[str, Any]
log = logging.getLogger(__name__)

API_VERSION = "coordination.k8s.io/v1"
KIND = "Lease"
LEASE_NAME = "labkit-controller"
LEASE_NAMESPACE = "labkit"
RENEW_S = 2.0
"""How often the agent renews its Lease, in seconds."""
LEASE_DURATION_S = 10
"""How long one renewal counts, in seconds: an older ``renewTime`` means the agent is down."""


def holder_identity(host: str | None = None, pid: int | None = None) -> str:
    """``host/pid`` of this process: who holds the Lease."""
    return f"{host or socket.gethostname()}/{pid or os.getpid()}"


def micro_time(ts: float) -> str:
    """A Kubernetes MicroTime (what Lease times are): UTC with microseconds."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch from a Kubernetes Time or MicroTime; None when empty or unreadable."""
    if not text:
        return None
    stamp = text.rstrip("Z")
    try:
        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f" if "." in stamp else "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return at.replace(tzinfo=UTC).timestamp()


def clock_time(ts: float) -> str:
    """HH:MM:SS UTC, for a line a learner reads."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S UTC")


def lease_manifest(
    holder: str, renewed_at: float, acquired_at: float, transitions: int, duration_s: int = LEASE_DURATION_S
) -> Manifest:
    """The Lease as the agent applies it on every beat."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration_s,
            "acquireTime": micro_time(acquired_at),
            "renewTime": micro_time(renewed_at),
            "leaseTransitions": transitions,
        },
    }


@dataclass(frozen=True)
class AgentState:
    """Whether labkit's agent is alive, judged from its Lease at ``checked_at``."""

    up: bool
    holder: str
    renewed_at: float | None
    """The last heartbeat (seconds since the epoch); None when there never was one."""
    checked_at: float
    reason: str
    """Why it is judged so, in words: "heartbeat 1 s ago", "process host/42 is gone", ..."""

    def line(self) -> str:
        """One line for `labkit app get`: up with its holder, or down since when and why."""
        if self.up:
            return f"up ({self.holder}, {self.reason})"
        since = f" since {clock_time(self.renewed_at)}" if self.renewed_at else ""
        return f"DOWN{since} ({self.reason})"


def judge(
    lease: Manifest | None,
    now: float,
    *,
    host: str | None = None,
    alive: Callable[[int], bool] = lambda pid: pid_alive(pid, "labkit"),
) -> AgentState:
    """Read a Lease (or None) as the agent's state at ``now``: pure but for ``alive``."""
    if lease is None:
        return AgentState(False, "", None, now, "no heartbeat Lease: the agent never started")
    spec = lease.get("spec") or {}
    holder = str(spec.get("holderIdentity") or "")
    renewed = parse_time(spec.get("renewTime"))
    duration = float(spec.get("leaseDurationSeconds") or LEASE_DURATION_S)
    if renewed is None:
        return AgentState(False, holder, None, now, "its Lease was never renewed")
    age = now - renewed
    if age > duration:
        return AgentState(
            False, holder, renewed, now, f"no heartbeat for {age:.0f} s; a beat counts {duration:.0f} s"
        )
    holder_host, _, pid = holder.rpartition("/")
    if holder_host == (host or socket.gethostname()) and pid.isdigit() and not alive(int(pid)):
        return AgentState(False, holder, renewed, now, f"its process {holder} is gone")
    return AgentState(True, holder, renewed, now, f"heartbeat {max(age, 0):.0f} s ago")


def read(kube: Kube, now: float | None = None) -> AgentState:
    """The agent's state now, from its Lease in the cluster."""
    lease = kube.get(API_VERSION, KIND, LEASE_NAME, LEASE_NAMESPACE)
    return judge(lease, time.time() if now is None else now)


def as_of(obj: Manifest) -> str:
    """When the Application's status was last written (``status.reconciledAt``); "" if never."""
    return str((obj.get("status") or {}).get("reconciledAt") or "")


class Heartbeat:
    """Renews the agent's Lease every ``renew_s`` seconds in a thread of its own."""

    def __init__(
        self,
        kube: Kube,
        timeline: Timeline,
        *,
        holder: str | None = None,
        renew_s: float = RENEW_S,
        duration_s: int = LEASE_DURATION_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube, self.timeline = kube, timeline
        self.holder = holder or holder_identity()
        self.renew_s, self.duration_s, self.clock = renew_s, duration_s, clock
        self.acquired_at: float | None = None
        self.transitions = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        """Renew the Lease once (taking it over on the first beat); True if the API server took it."""
        now = self.clock()
        if self.acquired_at is None:
            self._take_over(now)
        assert self.acquired_at is not None
        lease = lease_manifest(self.holder, now, self.acquired_at, self.transitions, self.duration_s)
        result = self.kube.apply(lease, field_manager="labkit-heartbeat")
        if not result.ok:
            log.warning("heartbeat not renewed: %s", result.message)
        return result.ok

    def _take_over(self, now: float) -> None:
        old = self.kube.get(API_VERSION, KIND, LEASE_NAME, LEASE_NAMESPACE)
        spec = (old or {}).get("spec") or {}
        previous, last = str(spec.get("holderIdentity") or ""), parse_time(spec.get("renewTime"))
        self.transitions = int(spec.get("leaseTransitions") or 0) + (1 if previous else 0)
        self.acquired_at = now
        gap = round(now - last, 3) if last is not None else None
        self.timeline.append(
            "controller", "agent_up", holder=self.holder, previous=previous or None, down_s=gap
        )

    def start(self) -> Heartbeat:
        """Beat now (so the Lease exists when this returns, if the API answers), then every ``renew_s``."""
        self._safe_beat()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating; the Lease then goes stale, which is the truth: nobody reconciles."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.renew_s):
            self._safe_beat()

    def _safe_beat(self) -> None:
        try:
            self.beat()
        except LabkitError as e:  # API server away: the next beat tries again
            log.warning("heartbeat not renewed: %s", str(e).splitlines()[0])
        except Exception:  # a bug must not stop the beats: a silent Lease would say "down" falsely
            log.exception("bug while renewing the heartbeat")
