"""The controller's decisions without a cluster: one reconcile (Controller.process) against FakeKube.

Each test puts an Application into the shared fake API server
(tests/conftest.py), calls ``process`` the way a worker would, and reads what
the controller did: objects applied or deleted, the status it wrote, the
timeline. The live cache is the real one, fed by the fake's watches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.events import Timeline
from labkit.gitops.application import application_manifest, operation_manifest
from labkit.gitops.controller import Controller
from labkit.gitops.types import API_VERSION, FINALIZER, KIND, REFRESH_ANNOTATION
from labkit.settings import ControllerSettings
from tests.conftest import FakeKube, FakeSource

Manifest = dict[str, Any]
REV1, REV2 = "1" * 40, "2" * 40


def configmap(name: str, value: str = "v", **annotations: str) -> Manifest:
    meta: Manifest = {"name": name, "annotations": annotations} if annotations else {"name": name}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Controller, FakeKube, FakeSource]]:
    kube = FakeKube()
    source = FakeSource({REV1: [configmap("web-config")], REV2: [configmap("web-config", "new")]}, REV1)
    controller = Controller(
        kube,  # type: ignore[arg-type]
        Timeline(tmp_path / "timeline.jsonl"),
        ControllerSettings(),
        source=source,  # type: ignore[arg-type]
    )
    yield controller, kube, source
    controller.stop()


def add_app(kube: FakeKube, **options: Any) -> Manifest:
    app = application_manifest("demo", "file:///repo.git", "apps/demo", "demo", **options)
    kube.apply(app)
    return app


def status(kube: FakeKube) -> Manifest:
    app = kube.get(API_VERSION, KIND, "demo", "labkit")
    assert app is not None
    return dict(app.get("status") or {})


def reconcile(controller: Controller, kube: FakeKube, *reasons: str) -> None:
    kube.quiet()  # the live cache has seen every change so far
    controller.process("demo", set(reasons))


def events(controller: Controller, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in controller.timeline.read(app="demo", kind=kind)]


def test_auto_sync_applies_a_new_revision_once_and_then_reports_synced(rig: Any) -> None:
    controller, kube, _ = rig
    add_app(kube, auto_sync=True)
    reconcile(controller, kube, "startup")
    assert kube.find("ConfigMap", "web-config") is not None
    assert kube.get(API_VERSION, KIND, "demo", "labkit").get("operation") is None  # type: ignore[union-attr]
    reconcile(controller, kube, "synced")
    st = status(kube)
    assert (st["sync"]["status"], st["health"]["status"]) == ("Synced", "Healthy")
    assert [h["revision"] for h in st["history"]] == [REV1]
    assert st["operationState"]["phase"] == "Succeeded"
    applies = [c for c in kube.calls if c[0] == "apply" and c[1] == "ConfigMap"]
    reconcile(controller, kube, "resource")
    assert [c for c in kube.calls if c[0] == "apply" and c[1] == "ConfigMap"] == applies, "once per revision"


def test_without_auto_sync_the_controller_only_reports_out_of_sync(rig: Any) -> None:
    controller, kube, _ = rig
    add_app(kube)
    reconcile(controller, kube, "startup")
    st = status(kube)
    assert st["sync"]["status"] == "OutOfSync"
    assert st["summary"]["agent"] == "OutOfSync, and auto-sync is off: waiting for a manual sync"
    assert kube.find("ConfigMap", "web-config") is None


def test_a_manual_sync_written_into_the_application_is_carried_out_and_cleared(rig: Any) -> None:
    controller, kube, _ = rig
    add_app(kube)
    kube.patch(API_VERSION, KIND, "demo", "labkit", {"operation": operation_manifest(initiated_by="learner")})
    reconcile(controller, kube, "operation")
    assert kube.find("ConfigMap", "web-config") is not None
    assert kube.get(API_VERSION, KIND, "demo", "labkit").get("operation") is None  # type: ignore[union-attr]
    reconcile(controller, kube, "synced")
    assert status(kube)["history"][0]["initiatedBy"] == {"username": "learner", "automated": False}


def test_drift_is_healed_when_self_heal_is_on(rig: Any) -> None:
    controller, kube, _ = rig
    add_app(kube, auto_sync=True, self_heal=True)
    reconcile(controller, kube, "startup")
    reconcile(controller, kube, "synced")
    live = kube.find("ConfigMap", "web-config")
    assert live is not None
    kube.apply({**live, "data": {"k": "edited by hand"}}, field_manager="kubectl")
    reconcile(controller, kube, "resource")
    assert [e["resources"] for e in events(controller, "drift_detected")] == [["ConfigMap demo/web-config"]]
    assert [e["attempt"] for e in events(controller, "self_heal_attempt")] == [1]
    assert kube.find("ConfigMap", "web-config")["data"] == {"k": "v"}  # type: ignore[index]
    reconcile(controller, kube, "synced")
    assert [e["attempts"] for e in events(controller, "healed")] == [1]


def test_drift_stays_when_self_heal_is_off(rig: Any) -> None:
    controller, kube, _ = rig
    add_app(kube, auto_sync=True)
    reconcile(controller, kube, "startup")
    reconcile(controller, kube, "synced")
    live = kube.find("ConfigMap", "web-config")
    kube.apply({**live, "data": {"k": "edited by hand"}})  # type: ignore[dict-item]
    reconcile(controller, kube, "resource")
    assert status(kube)["sync"]["status"] == "OutOfSync"
    assert kube.find("ConfigMap", "web-config")["data"] == {"k": "edited by hand"}  # type: ignore[index]
    assert status(kube)["summary"]["agent"] == "drift on an already synced revision, and selfHeal is off"


def test_a_new_commit_is_seen_only_after_a_refresh(rig: Any) -> None:
    controller, kube, source = rig
    add_app(kube, auto_sync=True)
    reconcile(controller, kube, "startup")
    reconcile(controller, kube, "synced")
    source.head = REV2
    reconcile(controller, kube, "resource")
    assert kube.find("ConfigMap", "web-config")["data"] == {"k": "v"}, "no refresh, no new commit"  # type: ignore[index]
    reconcile(controller, kube, "webhook")
    assert kube.find("ConfigMap", "web-config")["data"] == {"k": "new"}  # type: ignore[index]
    assert [e["trigger"] for e in events(controller, "revision_detected")] == ["startup", "webhook"]


def test_the_refresh_annotation_refreshes_and_is_removed(rig: Any) -> None:
    controller, kube, source = rig
    app = add_app(kube)
    app["metadata"]["annotations"] = {REFRESH_ANNOTATION: "hard"}
    kube.apply(app)
    reconcile(controller, kube, "spec")
    annotations = kube.get(API_VERSION, KIND, "demo", "labkit")["metadata"].get("annotations") or {}  # type: ignore[index]
    assert REFRESH_ANNOTATION not in annotations
    assert source.cleared == 1, "hard: rendered commits forgotten"
    assert [e["trigger"] for e in events(controller, "refresh_started")] == ["annotation"]


def test_a_spec_labkit_cannot_carry_out_is_a_condition_and_nothing_is_applied(rig: Any) -> None:
    controller, kube, _ = rig
    add_app(kube, auto_sync=True, sync_options=["Replace=true"])
    reconcile(controller, kube, "startup")
    conditions = status(kube)["conditions"]
    assert [c["type"] for c in conditions] == ["InvalidSpecError"]
    assert "Replace=true" in conditions[0]["message"]
    assert kube.find("ConfigMap", "web-config") is None


def test_deleting_the_application_deletes_its_objects_but_not_delete_false_ones(rig: Any) -> None:
    controller, kube, source = rig
    source.revisions[REV1] = [
        configmap("web-config"),
        configmap("keep", **{"argocd.argoproj.io/sync-options": "Delete=false"}),
    ]
    add_app(kube, auto_sync=True)
    reconcile(controller, kube, "startup")
    reconcile(controller, kube, "synced")
    kube.patch(
        API_VERSION,
        KIND,
        "demo",
        "labkit",
        {"metadata": {"finalizers": [FINALIZER], "deletionTimestamp": "now"}},
    )
    reconcile(controller, kube, "spec")
    assert kube.find("ConfigMap", "web-config") is None
    assert kube.find("ConfigMap", "keep") is not None
    assert kube.get(API_VERSION, KIND, "demo", "labkit")["metadata"].get("finalizers") is None  # type: ignore[index]
    assert "demo" not in controller.apps
