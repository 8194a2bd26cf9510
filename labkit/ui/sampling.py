"""Record a Deployment's desired and ready replicas over time, for ``plots.replicas_over_time``.

The worked example of the curriculum (set ``replicas: 5``, push, watch the
Deployment scale) calls :func:`sample_replicas` from a notebook, usually with
``action=`` the commit, so the push happens after the first sample and its
moment is marked on the plot. It only reads the Deployment, through
:meth:`labkit.kube.Kube.get`; time comes from an injectable clock so tests
need no sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from labkit.ui.figures import PlotError

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_COLUMNS = ["t_s", "desired", "ready", "updated", "available", "exists"]


class ReadsObjects(Protocol):
    """What the sampler needs from :class:`labkit.kube.Kube`."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any: ...


def replica_counts(deployment: dict[str, Any] | None) -> tuple[int, int, int, int, bool]:
    """(desired, ready, updated, available, exists) of a Deployment object; all 0 when it is absent."""
    if deployment is None:
        return 0, 0, 0, 0, False
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))  # the API server defaults an absent spec.replicas to 1
    return (
        desired,
        int(status.get("readyReplicas") or 0),
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        True,
    )


def sample_replicas(
    kube: ReadsObjects,
    namespace: str,
    name: str,
    duration_s: float,
    interval_s: float = 0.25,
    *,
    action: Callable[[], object] | None = None,
    action_label: str = "git push",
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Read Deployment ``namespace/name`` every ``interval_s`` for ``duration_s`` seconds.

    Returns one row per read: t_s (seconds since the first), desired, ready,
    updated, available, exists. ``action`` runs once right after the first
    read; when it ran is kept in ``frame.attrs["marks"][action_label]``.
    ``stop`` ends the sampling early.
    """
    import pandas as pd

    if interval_s <= 0:
        raise PlotError(f"interval_s must be positive, not {interval_s}", hint="try 0.25")
    rows: list[list[Any]] = []
    marks: dict[str, float] = {}
    start = clock()
    tick = 0
    while True:
        now = clock() - start
        rows.append([round(now, 3), *replica_counts(kube.get("apps/v1", "Deployment", name, namespace))])
        if action is not None and not marks:
            marks[action_label] = round(clock() - start, 3)
            action()
        tick += 1
        next_at = tick * interval_s
        if next_at > duration_s or (stop is not None and stop.is_set()):
            break
        sleep(max(0.0, next_at - (clock() - start)))
    frame = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    frame.attrs["marks"] = marks
    return frame


__all__ = ["SAMPLE_COLUMNS", "replica_counts", "sample_replicas"]
