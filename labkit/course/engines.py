"""The real Argo CD beside labkit's agent: waits and side-by-side tables for notebook 11.

Notebook 11 runs the same loop on both engines and calls these to wait for
Argo CD's Application (an ``argoproj.io`` object in namespace ``argocd``) as
``lab.apps.wait`` waits for labkit's, to put both statuses in one table, and
to time how long each engine takes to undo a ``kubectl scale``. They read the
objects through ``lab.kube()``; the commands the learner types stay in cells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from labkit.course.tables import app_status
from labkit.errors import LabkitError

if TYPE_CHECKING:
    import pandas as pd

Manifest = dict[str, Any]
ARGOCD_API = "argoproj.io/v1alpha1"
ARGOCD_NAMESPACE = "argocd"
LABKIT_API = "labkit.dev/v1alpha1"
LABKIT_NAMESPACE = "labkit"


def argocd_app(lab: Any, name: str) -> Manifest:
    """Argo CD's Application ``name`` as the API server holds it ({} when there is none)."""
    with lab.kube() as kube:
        return kube.get(ARGOCD_API, "Application", name, ARGOCD_NAMESPACE) or {}


def _matches(status: Mapping[str, str], wanted: Mapping[str, str | None]) -> bool:
    return all(value is None or status.get(key) == value for key, value in wanted.items())


def wait_argocd(
    lab: Any,
    name: str,
    *,
    sync: str | None = "Synced",
    health: str | None = "Healthy",
    revision: str | None = None,
    timeout_s: float = 90.0,
) -> dict[str, str]:
    """Wait until Argo CD's app ``name`` shows ``sync``/``health`` (at ``revision``); its status row."""
    wanted = {"sync": sync, "health": health, "revision": revision[:7] if revision else None}
    deadline = time.monotonic() + timeout_s
    while True:
        status = app_status(argocd_app(lab, name))
        if _matches(status, wanted):
            return status
        if time.monotonic() >= deadline:
            raise LabkitError(
                f"Argo CD app {name} is {status['sync']}/{status['health']} at {status['revision'] or '-'}, "
                f"not {sync}/{health} within {timeout_s:g} s",
                hint=f"run `argocd app get {name}` and read its conditions and last operation",
            )
        time.sleep(0.25)


def side_by_side(lab: Any, argocd_name: str, labkit_name: str) -> pd.DataFrame:
    """Both engines' status of the same repository path, one column each."""
    import pandas as pd

    argo = app_status(argocd_app(lab, argocd_name))
    mine = app_status(lab.apps.get(labkit_name) or {})
    return pd.DataFrame(
        {f"Argo CD ({argocd_name})": argo, f"labkit's agent ({labkit_name})": mine}
    ).rename_axis("status")


def _replicas(kube: Any, namespace: str, deployment: str) -> int | None:
    live = kube.get("apps/v1", "Deployment", deployment, namespace)
    return None if live is None else int(live["spec"].get("replicas", 1))


def time_until_replicas(
    lab: Any,
    deployment: str,
    wanted: Mapping[str, int],
    *,
    timeout_s: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
) -> pd.DataFrame:
    """Seconds until ``deployment`` has ``wanted[namespace]`` replicas in each namespace (NaN: never)."""
    import pandas as pd

    start = clock()
    seen: dict[str, float] = {}
    with lab.kube() as kube:
        while len(seen) < len(wanted) and clock() - start < timeout_s:
            for namespace, count in wanted.items():
                if namespace not in seen and _replicas(kube, namespace, deployment) == count:
                    seen[namespace] = round(clock() - start, 2)
            time.sleep(0.1)
    rows = [
        {"namespace": ns, "replicas": n, "back after (s)": seen.get(ns, float("nan"))}
        for ns, n in wanted.items()
    ]
    return pd.DataFrame(rows)
