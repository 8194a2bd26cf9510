"""Deleting the namespaces a lab made, fast: what `labkit reset` and `down` (borrowed clusters) do.

Called by :class:`labkit.Lab`. A namespace is the lab's when it was not there
right after the cluster came up (``lab.json``'s ``baseline_namespaces``) and,
on a borrowed cluster (kubeconfig backend), when labkit also marked it
(``app.kubernetes.io/managed-by=labkit`` or a tracking annotation), so a
shared cluster's other namespaces are never touched. Kubernetes needs ~5 s to
delete even an empty namespace (the namespace controller's grace period);
pods are force-deleted at once so their own grace does not add ~10 s more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from labkit.cluster.kubectl import force_delete_pods, kubectl_argv, wait_until
from labkit.errors import ClusterError
from labkit.proc import Runner

MANAGED_BY = {"app.kubernetes.io/managed-by": "labkit"}
"""Label labkit puts on namespaces it creates."""


def labkit_made(namespace: dict[str, Any]) -> bool:
    metadata = namespace.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    return labels.get("app.kubernetes.io/managed-by") == "labkit" or "labkit.dev/tracking-id" in annotations


def namespaces(runner: Runner, kubeconfig: Path, context: str) -> list[dict[str, Any]]:
    argv = kubectl_argv(kubeconfig, context, "get", "namespaces", "-o", "json", "--request-timeout=10s")
    try:
        items = json.loads(runner(argv, timeout=30).stdout).get("items", [])
    except ValueError as e:
        raise ClusterError("kubectl printed something that is not JSON", hint="labkit status") from e
    return [ns for ns in items if isinstance(ns, dict)]


def lab_namespaces(
    runner: Runner, kubeconfig: Path, context: str, *, keep: Collection[str], owned_cluster: bool
) -> list[str]:
    """Names of the namespaces the lab made, never one in ``keep``."""
    return sorted(
        ns["metadata"]["name"]
        for ns in namespaces(runner, kubeconfig, context)
        if ns["metadata"]["name"] not in keep and (owned_cluster or labkit_made(ns))
    )


def delete_namespaces(
    runner: Runner,
    kubeconfig: Path,
    context: str,
    names: Collection[str],
    *,
    timeout_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Delete ``names`` and wait until they are gone; ClusterError after ``timeout_s``."""
    if not names:
        return
    runner(kubectl_argv(kubeconfig, context, "delete", "namespaces", *names, "--wait=false"), timeout=60)
    for name in names:
        force_delete_pods(runner, kubeconfig, context, name)

    def gone() -> bool:
        return not {ns["metadata"]["name"] for ns in namespaces(runner, kubeconfig, context)} & set(names)

    wait_until(
        gone,
        timeout_s,
        f"namespaces {', '.join(sorted(names))} to be deleted",
        hint="kubectl get namespaces (a finalizer may hold one)",
        sleep=sleep,
    )
