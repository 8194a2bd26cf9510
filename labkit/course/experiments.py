"""The live experiments of the drift and self-heal notebooks: a drift tour and a stand-in autoscaler.

Notebooks call :func:`drift_tour`, which runs the lab's drift injector (real
``kubectl``), and use :class:`Autoscaler` as a context manager to fight
self-heal the way an HPA would, writing ``spec.replicas`` through the API server.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from labkit.course.timeline import now_ns, wait_for_event
from labkit.errors import LabkitError
from labkit.events import Timeline

if TYPE_CHECKING:
    import pandas as pd


def drift_tour(
    lab: Any, kinds: Iterable[str], app: str, namespace: str, settle_s: float = 4.0
) -> pd.DataFrame:
    """Make each kind of drift in turn (real kubectl) and record whether the agent noticed it.

    Meant for an app with self-heal off, so that nothing but the drift itself
    changes: after each drift the agent noticed, a manual sync puts Git's
    version back, so the next one starts from a clean app (and no self-heal
    backoff builds up). Returns one row per drift: what changed, whether Git
    declares that field, and seconds until the agent reported it (NaN: never).
    """
    from labkit import metrics

    since = now_ns()
    for kind in kinds:
        mark = now_ns()
        drift = lab.drift.inject(kind, app=app, namespace=namespace)
        # A watch event arrives in milliseconds; an undeclared change gets a short look only.
        wait_s = settle_s if drift.declared else min(settle_s, 1.0)
        try:
            wait_for_event(lab.timeline, "drift_detected", app=app, since_ns=mark, timeout_s=wait_s)
        except LabkitError:
            continue  # not noticed: nothing to put back
        lab.apps.sync(app)
        lab.apps.wait(app, sync="Synced", timeout_s=30)
    table = metrics.drift_latencies(lab.timeline.read(since_ns=since))
    keep = [c for c in ("drift", "target", "field", "declared", "detected_s") if c in table]
    return table[keep]


# -- a stand-in for an autoscaler -----------------------------------------------------------------


class Autoscaler:
    """A tiny stand-in for an HPA: keeps a Deployment at ``replicas``, whatever Git says.

    Like a real autoscaler it writes ``spec.replicas`` through the API server;
    unlike one it reacts within ``poll_s`` instead of every 15 s, so a fight
    with self-heal shows its backoff within seconds. Each change it makes is
    a ``drift_injected`` event (actor ``autoscaler``) on the timeline.
    """

    def __init__(
        self, kube: Any, timeline: Timeline, namespace: str, deployment: str, replicas: int, *, app: str
    ) -> None:
        self.kube, self.timeline = kube, timeline
        self.namespace, self.deployment, self.replicas, self.app = namespace, deployment, replicas, app
        self.poll_s = 0.05
        self.changes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_lab(cls, lab: Any, namespace: str, deployment: str, replicas: int, *, app: str) -> Autoscaler:
        from labkit.kube import Kube

        return cls(Kube(lab.kubeconfig, lab.context), lab.timeline, namespace, deployment, replicas, app=app)

    def step(self) -> bool:
        """Look once; scale back to ``replicas`` if someone changed it. True when it scaled."""
        live = self.kube.get("apps/v1", "Deployment", self.deployment, self.namespace)
        if live is None or (live.get("spec") or {}).get("replicas") == self.replicas:
            return False
        self.kube.patch(
            "apps/v1", "Deployment", self.deployment, self.namespace, {"spec": {"replicas": self.replicas}}
        )
        self.changes += 1
        self.timeline.append(
            "autoscaler",
            "drift_injected",
            app=self.app,
            drift="autoscaler",
            namespace=self.namespace,
            target=f"deployment/{self.deployment}",
            field="spec.replicas",
            declared=True,
            command=f"(autoscaler) replicas -> {self.replicas}",
        )
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            # The API server was busy: look again next time, as a controller would.
            with contextlib.suppress(LabkitError):
                self.step()
            self._stop.wait(self.poll_s)

    def __enter__(self) -> Autoscaler:
        self._thread = threading.Thread(target=self._run, name="autoscaler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
