"""Health: is a live object doing its job? One small function per kind, Argo CD's rules.

``labkit.gitops.sync`` waits on :func:`health_of` between waves (and
``labkit.gitops.hooks`` judges a hook by it); ``labkit.gitops.compare`` takes
it per resource for ``status.resources`` and, through :func:`app_health`, for
``status.health``. The rules and messages follow gitops-engine's
``pkg/health/health_*.go`` so what a learner reads here transfers to Argo CD;
the workload kinds live in ``labkit.gitops.health_workloads``.

Kinds without a check (ConfigMap, Secret, ServiceAccount, RBAC, CRDs, ...)
get ``None``: they are Healthy as soon as they exist, and app-level health
counts them as Healthy — as Argo CD does. An Ingress is Healthy once a
controller has given it an address; a lab cluster runs no ingress
controller, so there an Ingress stays Progressing — exactly what Argo CD
shows on such a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping

from labkit.gitops.health_workloads import (
    condition_of,
    daemonset_health,
    deployment_health,
    pod_health,
    replicaset_health,
    statefulset_health,
    status_of,
)
from labkit.gitops.types import GROUP, KIND, Health, HealthStatus, Manifest, ResourceKey, worst

H = HealthStatus


def service_health(obj: Manifest) -> Health:
    is_load_balancer = (obj.get("spec") or {}).get("type") == "LoadBalancer"
    if is_load_balancer and not (status_of(obj).get("loadBalancer") or {}).get("ingress"):
        return Health(H.Progressing, "Waiting for the load balancer to get an address")
    return Health(H.Healthy)


def job_health(obj: Manifest) -> Health:
    conditions = {
        c.get("type"): c for c in status_of(obj).get("conditions") or () if c.get("status") == "True"
    }
    if failed := conditions.get("Failed"):
        return Health(H.Degraded, str(failed.get("message", "")))
    if complete := conditions.get("Complete"):
        return Health(H.Healthy, str(complete.get("message", "")))
    if suspended := conditions.get("Suspended"):
        return Health(H.Suspended, str(suspended.get("message", "")))
    return Health(H.Progressing, "Job is running")


def pvc_health(obj: Manifest) -> Health:
    phase = status_of(obj).get("phase")
    return {
        "Bound": Health(H.Healthy),
        "Pending": Health(H.Progressing, "Waiting for the claim to be bound"),
        "Lost": Health(H.Degraded, "The claim lost its volume"),
    }.get(str(phase), Health(H.Unknown, f"unexpected phase {phase!r}"))


def namespace_health(obj: Manifest) -> Health:
    phase = status_of(obj).get("phase", "Active")
    if phase == "Terminating":
        return Health(H.Progressing, "Namespace is terminating")
    return Health(H.Healthy)


def ingress_health(obj: Manifest) -> Health:
    """Healthy once an ingress controller has given it an address (``health_ingress.go``)."""
    if (status_of(obj).get("loadBalancer") or {}).get("ingress"):
        return Health(H.Healthy)
    return Health(H.Progressing)


#: HPA conditions Argo CD reads as Degraded and as Healthy (``health_hpa.go``), as (type, reason).
HPA_DEGRADED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
}
HPA_V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
HPA_HEALTHY = {
    ("AbleToScale", "SucceededRescale"),
    ("ScalingLimited", "DesiredWithinRange"),
    ("ScalingLimited", "TooFewReplicas"),
    ("ScalingLimited", "TooManyReplicas"),
}


def hpa_health(obj: Manifest) -> Health:
    """The first condition that says Degraded or Healthy decides; none yet: "Waiting to Autoscale".

    autoscaling/v2 keeps the conditions in ``status.conditions``;
    autoscaling/v1 has no such field and keeps them, as JSON, in the
    ``autoscaling.alpha.kubernetes.io/conditions`` annotation.
    """
    if str(obj.get("apiVersion")) == "autoscaling/v1":
        raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(HPA_V1_CONDITIONS)
        try:
            conditions = json.loads(raw) if raw else []
        except ValueError:
            return Health(H.Unknown, f"{HPA_V1_CONDITIONS} is not JSON")
    else:
        conditions = status_of(obj).get("conditions") or []
    for c in conditions if isinstance(conditions, list) else []:
        key = (c.get("type"), c.get("reason"))
        if key in HPA_DEGRADED:
            return Health(H.Degraded, str(c.get("message", "")))
        if key in HPA_HEALTHY:
            return Health(H.Healthy, str(c.get("message", "")))
    return Health(H.Progressing, "Waiting to Autoscale")


def apiservice_health(obj: Manifest) -> Health:
    """The ``Available`` condition decides (``health_apiservice.go``): "<reason>: <message>"."""
    available = condition_of(obj, "Available")
    if available is None:
        return Health(H.Progressing, "Waiting to be processed")
    message = f"{available.get('reason', '')}: {available.get('message', '')}"
    return Health(H.Healthy if available.get("status") == "True" else H.Progressing, message)


def application_health(obj: Manifest) -> Health:
    """An Application managed by another (app of apps): its own reported health, Argo CD's Lua rule."""
    health = status_of(obj).get("health") or {}
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
    ("networking.k8s.io", "Ingress"): ingress_health,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
    ("apiregistration.k8s.io", "APIService"): apiservice_health,
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
