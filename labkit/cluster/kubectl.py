"""Cluster housekeeping with the venv's kubectl: readiness waits and fast cleanup.

The backends call :func:`api_ready`, :func:`nodes_ready` and :func:`wait_until`
right after creating a cluster (the API server must answer ``/readyz``, the
wanted number of nodes must be Ready); :class:`labkit.Lab` calls
:func:`force_delete_pods` when ``reset`` deletes namespaces. They shell out to
kubectl through the injectable runner (as kwokctl itself does) rather than
import :mod:`labkit.kube`, which sits above ``labkit.cluster`` in the layers;
unit tests answer with canned kubectl output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from labkit.cluster.base import kubectl_binary
from labkit.errors import ClusterError, CommandError
from labkit.proc import Runner


def kubectl_argv(kubeconfig: Path, context: str, *args: str) -> list[str]:
    return [str(kubectl_binary()), "--kubeconfig", str(kubeconfig), "--context", context, *args]


def api_ready(runner: Runner, kubeconfig: Path, context: str, timeout_s: float = 5.0) -> bool:
    """Whether the API server answers ``/readyz`` within ``timeout_s``."""
    argv = kubectl_argv(kubeconfig, context, "get", "--raw", "/readyz", f"--request-timeout={timeout_s:g}s")
    try:
        return runner(argv, timeout=timeout_s + 5, check=False).ok
    except CommandError:
        return False


def nodes_ready(runner: Runner, kubeconfig: Path, context: str) -> int:
    """How many nodes report Ready=True (0 when the API does not answer)."""
    argv = kubectl_argv(kubeconfig, context, "get", "nodes", "-o", "json", "--request-timeout=5s")
    try:
        result = runner(argv, timeout=15, check=False)
        items = json.loads(result.stdout).get("items", []) if result.ok else []
    except (CommandError, ValueError):
        return 0
    return sum(
        any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
        for n in items
    )


def wait_until(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    *,
    hint: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll ``predicate`` (0.1 s, growing to 1 s) until true; ClusterError naming ``what`` on timeout."""
    deadline, delay = clock() + timeout_s, 0.1
    while not predicate():
        if clock() >= deadline:
            raise ClusterError(f"timed out after {timeout_s:g} s waiting for {what}", hint=hint)
        sleep(delay)
        delay = min(delay * 1.5, 1.0)


def force_delete_pods(runner: Runner, kubeconfig: Path, context: str, namespace: str) -> None:
    """Remove a terminating namespace's pods at once (grace 0), so deletion takes ~5 s, not ~15 s.

    The namespace controller waits out the pods' termination grace before it finishes; the lab
    is discarding these pods anyway. Failures are ignored: the namespace still goes, only later.
    """
    argv = kubectl_argv(kubeconfig, context, "delete", "pods", "--all", "-n", namespace)
    runner([*argv, "--grace-period=0", "--force", "--wait=false"], timeout=30, check=False)
