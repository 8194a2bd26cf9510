"""Health of workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet and Pod, Argo CD's rules.

gitops-engine's ``health_deployment.go``, ``health_replicaset.go``,
``health_statefulset.go``, ``health_daemonset.go`` and ``health_pod.go`` in
Python, with their messages. ``labkit.gitops.health`` dispatches here by kind.
Pure functions.
"""

from __future__ import annotations

from typing import Any

from labkit.gitops.types import Health, HealthStatus, Manifest

H = HealthStatus


def status_of(obj: Manifest) -> dict[str, Any]:
    """The object's ``status`` ({} when it has none yet)."""
    return obj.get("status") or {}


def _generation_observed(obj: Manifest) -> bool:
    return int((obj.get("metadata") or {}).get("generation", 0)) <= int(
        status_of(obj).get("observedGeneration", 0)
    )


def condition_of(obj: Manifest, kind: str) -> dict[str, Any] | None:
    """The status condition of type ``kind``, if the object has one."""
    return next((c for c in status_of(obj).get("conditions") or () if c.get("type") == kind), None)


def deployment_health(obj: Manifest) -> Health:
    spec, st = obj.get("spec") or {}, status_of(obj)
    if spec.get("paused"):
        return Health(H.Suspended, "Deployment is paused")
    if not _generation_observed(obj):
        return Health(
            H.Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    progressing = condition_of(obj, "Progressing")
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
    failure = condition_of(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return Health(H.Degraded, str(failure.get("message", "")))
    replicas, available = (
        int((obj.get("spec") or {}).get("replicas", 1)),
        int(status_of(obj).get("availableReplicas", 0)),
    )
    if available < replicas:
        return Health(
            H.Progressing,
            f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available...",
        )
    return Health(H.Healthy)


def statefulset_health(obj: Manifest) -> Health:
    spec, st = obj.get("spec") or {}, status_of(obj)
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
    st, name = status_of(obj), obj["metadata"]["name"]
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
    spec, st = obj.get("spec") or {}, status_of(obj)
    restart, message = spec.get("restartPolicy", "Always"), str(st.get("message", ""))
    # Only for long-running pods: a hook pod (Never/OnFailure) still pulling its image must not fail a sync.
    if restart == "Always" and (waiting_errors := _waiting_errors(st)):
        return Health(H.Degraded, waiting_errors)
    phase = st.get("phase")
    if phase == "Pending":
        # status.message is usually empty while pending; the scheduler's reason is more useful.
        return Health(
            H.Progressing, message or str((condition_of(obj, "PodScheduled") or {}).get("message", ""))
        )
    if phase == "Succeeded":
        return Health(H.Healthy, message)
    if phase == "Failed":
        return Health(H.Degraded, message or _termination_message(st))
    if phase != "Running":
        return Health(H.Unknown, message)
    if restart != "Always":
        return Health(H.Progressing, message)  # finite pods (hooks) are done only when they succeed
    if (condition_of(obj, "Ready") or {}).get("status") == "True":
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
