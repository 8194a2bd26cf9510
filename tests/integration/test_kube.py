"""labkit.kube against a real API server (the kwok cluster), one namespace per test.

The cluster is the session's lab (``lab`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.errors import KubeError
from labkit.kube import Kube, KubeApiError, Manifest

pytestmark = pytest.mark.cluster

TRACKING = "labkit.dev/tracking-id"
WIDGET_CRD: Manifest = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.kubetest.labkit.dev"},
    "spec": {
        "group": "kubetest.labkit.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def kube(lab: Any) -> Iterator[Kube]:
    with Kube(Path(lab.kubeconfig), lab.context, poll_s=1) as k:
        yield k


@pytest.fixture(scope="module")
def created_namespaces(kube: Kube) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    # Each test deletes its namespace without waiting; wait once, here, until all are gone.
    kube.wait_for(
        lambda: not any(kube.get("v1", "Namespace", n) for n in created), 120, "test namespaces to go"
    )


@pytest.fixture
def ns(kube: Kube, created_namespaces: list[str]) -> Iterator[str]:
    name = f"kube-test-{uuid.uuid4().hex[:8]}"
    kube.ensure_namespace(name, {"labkit.dev/test": "kube"})
    created_namespaces.append(name)
    yield name
    kube.delete("v1", "Namespace", name, propagation="Background")


def config_map(name: str, namespace: str, data: dict[str, str], app: str | None = None) -> Manifest:
    meta: Manifest = {"name": name, "namespace": namespace}
    if app:
        meta["annotations"] = {TRACKING: f"{app}:/ConfigMap:{namespace}/{name}"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(namespace: str, app_label: str = "web") -> Manifest:
    labels = {"app": app_label}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def test_ping_returns_the_servers_version(kube: Kube) -> None:
    assert kube.ping().startswith("v")
    assert kube.server_url().startswith("https://127.0.0.1:")


def test_discovery_knows_which_kinds_are_namespaced_and_which_do_not_exist(kube: Kube) -> None:
    assert kube.is_namespaced("apps/v1", "Deployment") is True
    assert kube.is_namespaced("v1", "Namespace") is False
    assert kube.is_namespaced("v1", "ConfigMap") is True
    assert kube.is_namespaced("nothing.example/v1", "Nothing") is None


def test_the_fake_nodes_are_ready(kube: Kube) -> None:
    assert kube.nodes_ready() >= 1


def test_apply_creates_then_configures_and_get_returns_a_plain_dict(kube: Kube, ns: str) -> None:
    first = kube.apply(config_map("a", ns, {"k": "1"}))
    second = kube.apply(config_map("a", ns, {"k": "2"}))

    assert (first.ok, first.message, second.ok, second.message) == (True, "created", True, "configured")
    live = kube.get("v1", "ConfigMap", "a", ns)
    assert type(live) is dict
    assert live["data"] == {"k": "2"}
    assert any(
        f["manager"] == "labkit" and f["operation"] == "Apply" for f in live["metadata"]["managedFields"]
    )


def test_a_dry_run_apply_validates_without_saving(kube: Kube, ns: str) -> None:
    result = kube.apply(config_map("dry", ns, {"k": "1"}), dry_run=True)

    assert result.ok and result.message == "created (dry run)"
    assert kube.get("v1", "ConfigMap", "dry", ns) is None


def test_changing_an_immutable_field_is_a_failed_result_with_the_servers_message(kube: Kube, ns: str) -> None:
    assert kube.apply(deployment(ns, "web")).ok

    result = kube.apply(deployment(ns, "other"))

    assert (result.ok, result.code, result.reason) == (False, 422, "Invalid")
    assert result.message.startswith('Deployment.apps "web" is invalid: spec.selector')
    assert "field is immutable" in result.message


def test_applying_into_a_missing_namespace_is_a_failed_result(kube: Kube) -> None:
    result = kube.apply(config_map("a", "no-such-namespace-kube-test", {}))

    assert (result.ok, result.code) == (False, 404)
    assert result.message == 'namespaces "no-such-namespace-kube-test" not found'


def test_applying_an_unknown_kind_is_a_failed_result(kube: Kube, ns: str) -> None:
    obj = {"apiVersion": "nothing.example/v1", "kind": "Nothing", "metadata": {"name": "x", "namespace": ns}}

    result = kube.apply(obj)

    assert (result.ok, result.code) == (False, 404)
    assert result.message == 'no matches for kind "Nothing" in version "nothing.example/v1"'


def test_a_wrongly_typed_field_is_a_failed_result_not_an_exception(kube: Kube, ns: str) -> None:
    bad = config_map("typed", ns, {})
    bad["data"] = {"n": 1}

    result = kube.apply(bad)

    assert not result.ok
    assert ".data.n: expected string" in result.message


def test_a_field_owned_by_another_manager_conflicts_unless_forced(kube: Kube, ns: str) -> None:
    assert kube.apply(config_map("owned", ns, {"k": "theirs"}), field_manager="someone-else").ok

    polite = kube.apply(config_map("owned", ns, {"k": "ours"}), force=False)
    forced = kube.apply(config_map("owned", ns, {"k": "ours"}))

    assert (polite.ok, polite.code, polite.reason) == (False, 409, "Conflict")
    assert 'conflict with "someone-else"' in polite.message
    assert forced.ok and forced.obj is not None and forced.obj["data"] == {"k": "ours"}


def test_list_fills_in_api_version_and_kind_and_honours_label_selectors(kube: Kube, ns: str) -> None:
    labelled = config_map("labelled", ns, {})
    labelled["metadata"]["labels"] = {"tier": "x"}
    kube.apply(labelled)
    kube.apply(config_map("plain", ns, {}))

    everything = kube.list("v1", "ConfigMap", ns)
    selected = kube.list("v1", "ConfigMap", ns, label_selector="tier=x")

    assert {o["metadata"]["name"] for o in everything} >= {"labelled", "plain"}
    assert all((o["apiVersion"], o["kind"]) == ("v1", "ConfigMap") for o in everything)
    assert [o["metadata"]["name"] for o in selected] == ["labelled"]
    assert kube.list("nothing.example/v1", "Nothing") == []


def test_list_tracked_returns_only_this_apps_objects(kube: Kube, ns: str) -> None:
    kube.apply(config_map("mine", ns, {}, app="demo"))
    kube.apply(config_map("other-app", ns, {}, app="demo2"))
    kube.apply(config_map("untracked", ns, {}))

    found = kube.list_tracked([("v1", "ConfigMap"), ("nothing.example/v1", "Nothing")], ns, TRACKING, "demo")

    assert [o["metadata"]["name"] for o in found] == ["mine"]


def test_delete_removes_the_object_and_a_second_delete_is_ok_with_reason_not_found(
    kube: Kube, ns: str
) -> None:
    kube.apply(config_map("gone", ns, {}))

    first = kube.delete("v1", "ConfigMap", "gone", ns, propagation="Background")
    kube.wait_for(lambda: kube.get("v1", "ConfigMap", "gone", ns) is None, 10, "configmap gone to be deleted")
    second = kube.delete("v1", "ConfigMap", "gone", ns)

    assert (first.ok, first.reason) == (True, "")
    assert (second.ok, second.reason, second.code) == (True, "NotFound", 404)


def test_patch_applies_merge_and_json_patches_and_refuses_missing_objects(kube: Kube, ns: str) -> None:
    kube.apply(config_map("p", ns, {"a": "1"}))

    merged = kube.patch("v1", "ConfigMap", "p", ns, {"data": {"b": "2"}})
    patched = kube.patch("v1", "ConfigMap", "p", ns, [{"op": "remove", "path": "/data/a"}], patch_type="json")

    assert merged["data"] == {"a": "1", "b": "2"}
    assert patched["data"] == {"b": "2"}
    with pytest.raises(KubeApiError) as info:
        kube.patch("v1", "ConfigMap", "missing", ns, {"data": {}})
    assert info.value.code == 404


def test_ensure_crd_makes_the_kind_usable_at_once_and_patch_status_writes_the_status(
    kube: Kube, ns: str
) -> None:
    widget = {
        "apiVersion": "kubetest.labkit.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": ns},
    }
    kube.ensure_crd(WIDGET_CRD)
    try:
        assert kube.is_namespaced("kubetest.labkit.dev/v1", "Widget") is True
        assert kube.apply({**widget, "spec": {"size": 1}}).ok
        kube.patch_status("kubetest.labkit.dev/v1", "Widget", "w", ns, {"phase": "Ready"})
        assert kube.get("kubetest.labkit.dev/v1", "Widget", "w", ns)["status"] == {"phase": "Ready"}
    finally:
        kube.delete(WIDGET_CRD["apiVersion"], "CustomResourceDefinition", WIDGET_CRD["metadata"]["name"])


def test_a_kind_whose_crd_was_deleted_is_forgotten_after_the_first_404(kube: Kube, ns: str) -> None:
    crd = {**WIDGET_CRD, "metadata": {"name": "gadgets.kubetest.labkit.dev"}}
    crd["spec"] = {
        **WIDGET_CRD["spec"],
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
    }
    gadget = {
        "apiVersion": "kubetest.labkit.dev/v1",
        "kind": "Gadget",
        "metadata": {"name": "g", "namespace": ns},
    }
    kube.ensure_crd(crd)
    kube.delete(
        crd["apiVersion"], "CustomResourceDefinition", crd["metadata"]["name"], propagation="Background"
    )
    kube.wait_for(
        lambda: kube.get(crd["apiVersion"], "CustomResourceDefinition", crd["metadata"]["name"]) is None,
        30,
        "the CRD to be deleted",
    )

    assert kube.list("kubetest.labkit.dev/v1", "Gadget", ns) == []
    assert kube.apply(gadget).message == 'no matches for kind "Gadget" in version "kubetest.labkit.dev/v1"'
    assert kube.is_namespaced("kubetest.labkit.dev/v1", "Gadget") is None


def test_ensure_namespace_is_idempotent_and_adds_labels(kube: Kube, ns: str) -> None:
    kube.ensure_namespace(ns, {"extra": "yes"})

    labels = kube.get("v1", "Namespace", ns)["metadata"]["labels"]
    assert labels["extra"] == "yes"
    assert labels["labkit.dev/test"] == "kube"


def _collect(
    kube: Kube, ns: str, stop: threading.Event, out: list[tuple[str, str]], version: str | None = None
) -> threading.Thread:
    def run() -> None:
        for kind, obj in kube.watch("v1", "ConfigMap", ns, stop=stop, timeout_s=60, resource_version=version):
            out.append((kind, obj["metadata"]["name"]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_watch_reports_adds_changes_and_deletes_and_stops_promptly(kube: Kube, ns: str) -> None:
    stop, events = threading.Event(), []
    _, version = kube.list_versioned("v1", "ConfigMap", ns)
    thread = _collect(kube, ns, stop, events, version)

    kube.apply(config_map("w", ns, {"k": "1"}))
    kube.apply(config_map("w", ns, {"k": "2"}))
    kube.delete("v1", "ConfigMap", "w", ns, propagation="Background")
    kube.wait_for(lambda: ("DELETED", "w") in events, 10, "the DELETED event")
    started = time.monotonic()
    stop.set()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert time.monotonic() - started < 3  # poll_s=1: one short watch at most
    assert [e for e in events if e[1] == "w"] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_without_a_version_first_reports_what_exists(kube: Kube, ns: str) -> None:
    kube.apply(config_map("before", ns, {}))
    stop, events = threading.Event(), []
    thread = _collect(kube, ns, stop, events)

    kube.wait_for(lambda: ("ADDED", "before") in events, 10, "the ADDED event for an existing object")
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_watch_resumed_from_a_version_sees_only_later_changes(kube: Kube, ns: str) -> None:
    kube.apply(config_map("old", ns, {}))
    resume = kube.apply(config_map("old", ns, {"k": "1"})).obj["metadata"]["resourceVersion"]
    kube.apply(config_map("new", ns, {}))

    events = [
        (k, o["metadata"]["name"])
        for k, o in kube.watch("v1", "ConfigMap", ns, resource_version=resume, timeout_s=2)
        # kube-controller-manager adds kube-root-ca.crt to every new namespace, whenever it gets to it.
        if o["metadata"]["name"] != "kube-root-ca.crt"
    ]

    assert events == [("ADDED", "new")]


def test_watching_an_unknown_kind_raises_at_once(kube: Kube) -> None:
    with pytest.raises(KubeError, match="cannot watch"):
        kube.watch("nothing.example/v1", "Nothing")


def test_one_watch_thread_per_kind_runs_side_by_side_and_all_stop(kube: Kube, ns: str) -> None:
    kinds = [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount")]
    stop, seen, lock = threading.Event(), set(), threading.Lock()

    def follow(api_version: str, kind: str) -> None:
        for event, obj in kube.watch(api_version, kind, ns, stop=stop, timeout_s=60):
            with lock:
                seen.add((kind, event, obj["metadata"]["name"]))

    threads = [threading.Thread(target=follow, args=gvk, daemon=True) for gvk in kinds]
    for thread in threads:
        thread.start()
    for api_version, kind in kinds:
        assert kube.apply(
            {"apiVersion": api_version, "kind": kind, "metadata": {"name": "same", "namespace": ns}}
        ).ok
    kube.wait_for(lambda: {(k, "ADDED", "same") for _, k in kinds} <= seen, 10, "an ADDED event per kind")
    stop.set()
    for thread in threads:
        thread.join(timeout=5)

    assert not any(thread.is_alive() for thread in threads)
