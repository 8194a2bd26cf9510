"""Health: Argo CD's per-kind rules on YAML fixtures, and the app-level roll-up.

Fixtures are named ``<kind>-<status>[-variant].yaml``; the status in the name
is what :func:`health_of` must return (``none`` = no health check).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.gitops.health import Health, app_health, app_health_by_key, health_of
from labkit.gitops.types import HealthStatus, ResourceKey

FIXTURES = Path(__file__).parent.parent / "fixtures" / "health"
ALL = sorted(p.name for p in FIXTURES.glob("*.yaml"))

ROLLOUT = "Waiting for rollout to finish: "
DAEMON = "Waiting for daemon set 'agent' rollout to finish: "
MESSAGES = {
    "deployment-progressing.yaml": ROLLOUT + "2 of 5 updated replicas are available...",
    "deployment-progressing-generation.yaml": (
        "Waiting for rollout to finish: observed deployment generation less than desired generation"
    ),
    "deployment-progressing-updating.yaml": ROLLOUT + "1 out of 3 new replicas have been updated...",
    "deployment-progressing-old-replicas.yaml": ROLLOUT + "1 old replicas are pending termination...",
    "deployment-progressing-deleting.yaml": "Pending deletion",
    "deployment-degraded.yaml": "Deployment 'web' exceeded its progress deadline",
    "deployment-suspended.yaml": "Deployment is paused",
    "deployment-healthy.yaml": "",
    "replicaset-progressing.yaml": ROLLOUT + "1 out of 3 new replicas are available...",
    "replicaset-degraded.yaml": 'pods "web-7c9d8-abcde" is forbidden: exceeded quota: compute',
    "statefulset-progressing.yaml": "Waiting for 2 pods to be ready...",
    "statefulset-progressing-rolling.yaml": "waiting for statefulset rolling update to complete 1 pods "
    "at revision db-6b4c2...",
    "statefulset-healthy.yaml": "statefulset rolling update complete 2 pods at revision db-5d8f7...",
    "statefulset-healthy-partitioned.yaml": "partitioned roll out complete: 1 new pods have been updated...",
    "daemonset-progressing.yaml": DAEMON + "1 out of 3 new pods have been updated...",
    "daemonset-progressing-unavailable.yaml": DAEMON + "2 of 3 updated pods are available...",
    "pod-progressing.yaml": "0/3 nodes are available: 3 Insufficient cpu.",
    "pod-degraded.yaml": "container 'migrate' exited with code 1: table already exists",
    "pod-degraded-image-pull.yaml": 'Back-off pulling image "nginx:does-not-exist"',
    "pod-degraded-crashloop.yaml": "back-off 1m20s restarting failed container=web pod=web-7c9d8-abcde_demo",
    "pod-unknown.yaml": "node kwok-node-1 is not responding",
    "service-progressing.yaml": "Waiting for the load balancer to get an address",
    "job-degraded.yaml": "Job has reached the specified backoff limit",
    "job-healthy.yaml": "Reached expected number of succeeded pods",
    "persistentvolumeclaim-degraded.yaml": "The claim lost its volume",
    "namespace-progressing.yaml": "Namespace is terminating",
    "application-degraded.yaml": "apps/Deployment demo/web: Deployment 'web' exceeded its progress deadline",
    "ingress-progressing.yaml": "",
    "horizontalpodautoscaler-healthy.yaml": "the desired count is within the acceptable range",
    "horizontalpodautoscaler-degraded.yaml": "the HPA was unable to compute the replica count: "
    "failed to get cpu utilization: unable to get metrics for resource cpu",
    "horizontalpodautoscaler-progressing.yaml": "Waiting to Autoscale",
    "horizontalpodautoscaler-healthy-v1.yaml": "the HPA controller was able to update the target scale to 3",
    "horizontalpodautoscaler-degraded-v1.yaml": "the HPA controller was unable to get the target's "
    'current scale: deployments/scale.apps "web" not found',
    "horizontalpodautoscaler-progressing-v1.yaml": "Waiting to Autoscale",
    "apiservice-healthy.yaml": "Passed: all checks passed",
    "apiservice-progressing.yaml": 'MissingEndpoints: endpoints for service/metrics-server in "kube-system" '
    'have no addresses with port name "https"',
}


def load(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    return obj


def expected_status(name: str) -> HealthStatus | None:
    word = name.removesuffix(".yaml").split("-")[1]
    return None if word == "none" else HealthStatus(word.capitalize())


@pytest.mark.parametrize("name", ALL)
def test_fixture_health_matches_the_status_in_its_name(name: str) -> None:
    health = health_of(load(name))
    expected = expected_status(name)
    if expected is None:
        assert health is None
    else:
        assert health is not None and health.status is expected


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_non_healthy_results_carry_argo_cd_like_messages(name: str) -> None:
    health = health_of(load(name))
    assert health is not None and health.message == MESSAGES[name]


def test_every_kind_with_a_check_has_a_healthy_and_a_non_healthy_fixture() -> None:
    kinds: dict[str, set[str]] = {}
    for name in ALL:
        kind, status = name.removesuffix(".yaml").split("-")[:2]
        kinds.setdefault(kind, set()).add(status)
    for kind, statuses in kinds.items():
        if statuses != {"none"}:
            assert "healthy" in statuses and len(statuses) >= 2, kind
    assert {"deployment", "pod", "service", "job", "persistentvolumeclaim", "namespace"} <= kinds.keys()
    assert {"ingress", "horizontalpodautoscaler", "apiservice"} <= kinds.keys()
    assert kinds["deployment"] == {"healthy", "progressing", "degraded", "suspended"}


def test_a_deployment_without_status_is_progressing() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1},
        "spec": {},
    }
    assert health_of(obj) == Health(
        HealthStatus.Progressing,
        "Waiting for rollout to finish: observed deployment generation less than desired generation",
    )


def test_a_hook_pod_waiting_for_its_image_is_not_degraded() -> None:
    # Argo CD skips the waiting-error rule for finite pods so a hook is not failed while its image pulls.
    obj = load("pod-degraded-image-pull.yaml")
    obj["spec"]["restartPolicy"] = "Never"
    health = health_of(obj)
    assert health is not None and health.status is HealthStatus.Progressing


def test_a_deployment_in_another_api_group_has_no_check() -> None:
    obj = load("deployment-healthy.yaml")
    obj["apiVersion"] = "example.com/v1"
    assert health_of(obj) is None


def test_app_health_is_the_worst_with_that_resources_message() -> None:
    healths = [
        Health(HealthStatus.Healthy),
        None,
        Health(HealthStatus.Progressing, "rolling out"),
        Health(HealthStatus.Suspended, "paused"),
    ]
    assert app_health(healths) == Health(HealthStatus.Progressing, "rolling out")


def test_resources_without_a_check_count_as_healthy() -> None:
    assert app_health([None, None]) == Health(HealthStatus.Healthy)
    assert app_health([]) == Health(HealthStatus.Healthy)


def test_missing_resources_rank_above_progressing_and_below_degraded() -> None:
    progressing = Health(HealthStatus.Progressing, "rolling out")
    assert app_health([progressing], missing=2) == Health(
        HealthStatus.Missing, "2 resources missing from the cluster"
    )
    degraded = Health(HealthStatus.Degraded, "crash")
    assert app_health([degraded], missing=1).status is HealthStatus.Degraded


def test_app_health_by_key_names_the_resource_in_the_message() -> None:
    web = ResourceKey("apps", "Deployment", "demo", "web")
    cm = ResourceKey("", "ConfigMap", "demo", "settings")
    health = app_health_by_key({web: health_of(load("deployment-degraded.yaml")), cm: None})
    assert health == Health(
        HealthStatus.Degraded, "apps/Deployment demo/web: Deployment 'web' exceeded its progress deadline"
    )
    assert app_health_by_key({cm: None}) == Health(HealthStatus.Healthy)
    svc = ResourceKey("", "Service", "demo", "web")
    assert app_health_by_key({}, missing=[svc]) == Health(
        HealthStatus.Missing, "Service demo/web: missing from the cluster"
    )
