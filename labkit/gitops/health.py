"""Health: is a live object doing its job? One small function per kind, Argo CD's rules.

``labkit.gitops.sync`` waits on :func:`health_of` between waves and the
controller stores it per resource in ``status.resources`` and, through
:func:`app_health`, in ``status.health``. The rules and messages follow
gitops-engine's ``pkg/health/health_*.go`` so what a learner reads here
transfers to Argo CD.

Kinds without a check (ConfigMap, Secret, ServiceAccount, RBAC, CRDs, ...)
get ``None``: they are Healthy as soon as they exist, and app-level health
counts them as Healthy — as Argo CD does. Ingress has no check on purpose: a
lab cluster has no ingress controller to fill its status, so Argo CD's rule
would leave it Progressing forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit.gitops.types import GROUP, KIND, HealthStatus, Manifest, ResourceKey, worst


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    message: str = ""


H = HealthStatus


def _status(obj: Manifest) -> dict[str, Any]:
    return obj.get("status") or {}


def _generation_observed(obj: Manifest) -> bool:
    return int((obj.get("metadata") or {}).get("generation", 0)) <= int(
        _status(obj).get("observedGeneration", 0)
    )


def _condition(obj: Manifest, kind: str) -> dict[str, Any] | None:
    return next((c for c in _status(obj).get("conditions") or () if c.get("type") == kind), None)


def deployment_health(obj: Manifest) -> Health:
    spec, st = obj.get("spec") or {}, _status(obj)
    if spec.get("paused"):
        return Health(H.Suspended, "Deployment is paused")
    if not _generation_observed(obj):
        return Health(
            H.Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    progressing = _condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(H.Degraded, f"Deployment {obj['metadata']['name']!r} exceeded its progress deadline")
    replicas = int(spec.get("replicas", 1))
    total, updated = int(st.get("replicas", 0)), int(st.get("updatedReplicas", 0))
    available = int(st.get("availableReplicas", 0))
    if updated < replicas:
        msg = f"{updated} out of {replicas} new replicas have been updated..."
    elif total > updated:
        msg = f"{total - updated} old replicas are pending termination..."
    elif available < updated:
        msg = f"{available} of {updated} updated replicas are available..."
    else:
        return Health(H.Healthy)
    return Health(H.Progressing, f"Waiting for rollout to finish: {msg}")


def replicaset_health(obj: Manifest) -> Health:
    if not _generation_observed(obj):
        return Health(
            H.Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        )
    failure = _condition(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return Health(H.Degraded, str(failure.get("message", "")))
    replicas, available = (
        int((obj.get("spec") or {}).get("replicas", 1)),
        int(_status(obj).get("availableReplicas", 0)),
    )
    if available < replicas:
        return Health(
            H.Progressing,
            f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available...",
        )
    return Health(H.Healthy)


def statefulset_health(obj: Manifest) -> Health:
    spec, st = obj.get("spec") or {}, _status(obj)
    observed = int(st.get("observedGeneration", 0))
    if observed == 0 or int(obj["metadata"].get("generation", 0)) > observed:
        return Health(H.Progressing, "Waiting for statefulset spec update to be observed...")
    replicas, ready, updated = (
        int(spec.get("replicas", 1)),
        int(st.get("readyReplicas", 0)),
        int(st.get("updatedReplicas", 0)),
    )
    if ready < replicas:
        return Health(H.Progressing, f"Waiting for {replicas - ready} pods to be ready...")
    strategy = spec.get("updateStrategy") or {}
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and partition is not None:
        if updated < replicas - int(partition):
            return Health(
                H.Progressing,
                f"Waiting for partitioned roll out to finish: {updated} out of {replicas - int(partition)} "
                "new pods have been updated...",
            )
        return Health(H.Healthy, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy.get("type") == "OnDelete":
        return Health(H.Healthy, f"statefulset has {ready} ready pods")
    if st.get("updateRevision") != st.get("currentRevision"):
        return Health(
            H.Progressing,
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {st.get('updateRevision')}...",
        )
    current = int(st.get("currentReplicas", 0))
    return Health(
        H.Healthy,
        f"statefulset rolling update complete {current} pods at revision {st.get('currentRevision')}...",
    )


def daemonset_health(obj: Manifest) -> Health:
    if not _generation_observed(obj):
        return Health(
            H.Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )
    st, name = _status(obj), obj["metadata"]["name"]
    desired, updated = int(st.get("desiredNumberScheduled", 0)), int(st.get("updatedNumberScheduled", 0))
    available = int(st.get("numberAvailable", 0))
    if ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(H.Healthy, f"daemon set {updated} out of {desired} new pods have been updated")
    if updated < desired:
        msg = f"{updated} out of {desired} new pods have been updated..."
    elif available < desired:
        msg = f"{available} of {desired} updated pods are available..."
    else:
        return Health(H.Healthy)
    return Health(H.Progressing, f"Waiting for daemon set {name!r} rollout to finish: {msg}")


def pod_health(obj: Manifest) -> Health:
    spec, st = obj.get("spec") or {}, _status(obj)
    restart, message = spec.get("restartPolicy", "Always"), str(st.get("message", ""))
    # Only for long-running pods: a hook pod (Never/OnFailure) still pulling its image must not fail a sync.
    if restart == "Always" and (waiting_errors := _waiting_errors(st)):
        return Health(H.Degraded, waiting_errors)
    phase = st.get("phase")
    if phase == "Pending":
        # status.message is usually empty while pending; the scheduler's reason is more useful.
        return Health(
            H.Progressing, message or str((_condition(obj, "PodScheduled") or {}).get("message", ""))
        )
    if phase == "Succeeded":
        return Health(H.Healthy, message)
    if phase == "Failed":
        return Health(H.Degraded, message or _termination_message(st))
    if phase != "Running":
        return Health(H.Unknown, message)
    if restart != "Always":
        return Health(H.Progressing, message)  # finite pods (hooks) are done only when they succeed
    if (_condition(obj, "Ready") or {}).get("status") == "True":
        return Health(H.Healthy, message)
    if any((c.get("lastState") or {}).get("terminated") for c in st.get("containerStatuses") or ()):
        return Health(H.Degraded, message or "a container is restarting")
    return Health(H.Progressing, message)


def _waiting_errors(st: dict[str, Any]) -> str:
    """Messages of containers stuck waiting on an error (ErrImagePull, CrashLoopBackOff, ...)."""
    waiting = [(c.get("state") or {}).get("waiting") or {} for c in st.get("containerStatuses") or ()]
    errors = [w for w in waiting if _is_error_reason(str(w.get("reason", "")))]
    return ", ".join(str(w.get("message") or w.get("reason")) for w in errors)


def _is_error_reason(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _termination_message(st: dict[str, Any]) -> str:
    for c in [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]:
        terminated = (c.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            detail = terminated.get("message") or terminated.get("reason") or ""
            return (
                f"container {c.get('name')!r} exited with code {terminated.get('exitCode')}: {detail}".rstrip(
                    ": "
                )
            )
    return ""


def service_health(obj: Manifest) -> Health:
    is_load_balancer = (obj.get("spec") or {}).get("type") == "LoadBalancer"
    if is_load_balancer and not (_status(obj).get("loadBalancer") or {}).get("ingress"):
        return Health(H.Progressing, "Waiting for the load balancer to get an address")
    return Health(H.Healthy)


def job_health(obj: Manifest) -> Health:
    conditions = {c.get("type"): c for c in _status(obj).get("conditions") or () if c.get("status") == "True"}
    if failed := conditions.get("Failed"):
        return Health(H.Degraded, str(failed.get("message", "")))
    if complete := conditions.get("Complete"):
        return Health(H.Healthy, str(complete.get("message", "")))
    if suspended := conditions.get("Suspended"):
        return Health(H.Suspended, str(suspended.get("message", "")))
    return Health(H.Progressing, "Job is running")


def pvc_health(obj: Manifest) -> Health:
    phase = _status(obj).get("phase")
    return {
        "Bound": Health(H.Healthy),
        "Pending": Health(H.Progressing, "Waiting for the claim to be bound"),
        "Lost": Health(H.Degraded, "The claim lost its volume"),
    }.get(str(phase), Health(H.Unknown, f"unexpected phase {phase!r}"))


def namespace_health(obj: Manifest) -> Health:
    phase = _status(obj).get("phase", "Active")
    if phase == "Terminating":
        return Health(H.Progressing, "Namespace is terminating")
    return Health(H.Healthy)


def application_health(obj: Manifest) -> Health:
    """An Application managed by another (app of apps): its own reported health, Argo CD's Lua rule."""
    health = _status(obj).get("health") or {}
    try:
        return Health(HealthStatus(health.get("status", "Progressing")), str(health.get("message", "")))
    except ValueError:
        return Health(H.Unknown, f"unknown health status {health.get('status')!r}")


CHECKS: dict[tuple[str, str], Callable[[Manifest], Health]] = {
    ("apps", "Deployment"): deployment_health,
    ("apps", "ReplicaSet"): replicaset_health,
    ("apps", "StatefulSet"): statefulset_health,
    ("apps", "DaemonSet"): daemonset_health,
    ("", "Pod"): pod_health,
    ("", "Service"): service_health,
    ("batch", "Job"): job_health,
    ("", "PersistentVolumeClaim"): pvc_health,
    ("", "Namespace"): namespace_health,
    (GROUP, KIND): application_health,
}


def health_of(obj: Manifest) -> Health | None:
    """The object's health, or None when its kind has no health check (it counts as Healthy)."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Health(H.Progressing, "Pending deletion")
    key = ResourceKey.from_manifest(obj)
    check = CHECKS.get((key.group, key.kind))
    return check(obj) if check is not None else None


def app_health(resource_healths: Iterable[Health | None], missing: int = 0) -> Health:
    """The worst of the resources' healths, with that resource's message; None counts as Healthy."""
    healths = [h or Health(H.Healthy) for h in resource_healths]
    if missing:
        healths.append(
            Health(H.Missing, f"{missing} resource{'s' if missing != 1 else ''} missing from the cluster")
        )
    status = worst(h.status for h in healths)
    return next((h for h in healths if h.status is status), Health(H.Healthy))


def app_health_by_key(
    healths: Mapping[ResourceKey, Health | None], missing: Iterable[ResourceKey] = ()
) -> Health:
    """Like :func:`app_health`, with the worst message prefixed by the resource it is about."""
    named = [
        Health(h.status, f"{key}: {h.message}" if h.message else str(key)) for key, h in healths.items() if h
    ]
    named += [Health(H.Missing, f"{key}: missing from the cluster") for key in missing]
    if all(h.status is H.Healthy for h in named):
        return Health(H.Healthy)
    return app_health(named)
