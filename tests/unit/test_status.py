"""What goes into Application.status: conditions, history (labkit.gitops.status, labkit.gitops.record)."""

from __future__ import annotations

from labkit.gitops import status as st
from labkit.gitops.application import AppSpec, SyncOperation
from labkit.gitops.plan import SyncPlan
from labkit.gitops.record import AppRecord
from labkit.gitops.status import add_history, merge_patch
from labkit.gitops.sync import SyncRun
from labkit.gitops.types import OperationPhase, ResourceKey

CONFIG = ResourceKey("", "ConfigMap", "redis", "redis-config")
DEPLOY = ResourceKey("apps", "Deployment", "redis", "redis")


def test_an_object_another_app_owns_gives_a_shared_resource_warning_naming_both_apps() -> None:
    record = AppRecord("shared-b")
    record.shared = {CONFIG: "shared-a"}
    message = "ConfigMap redis/redis-config is part of applications shared-b and shared-a"
    assert record.conditions() == {st.SHARED_RESOURCE_WARNING: message}


def test_several_shared_objects_make_one_warning_that_counts_the_others() -> None:
    message = st.shared_resource_message("shared-b", {DEPLOY: "shared-a", CONFIG: "shared-a"})
    assert (
        message
        == "ConfigMap redis/redis-config is part of applications shared-b and shared-a (and 1 more object)"
    )


def test_the_warning_leaves_the_status_once_no_object_is_shared() -> None:
    record = AppRecord("shared-b")
    record.shared = {CONFIG: "shared-a"}
    written = st.conditions(record.conditions(), 0.0)
    assert [c["type"] for c in written] == [st.SHARED_RESOURCE_WARNING]
    record.shared = {}
    assert st.conditions(record.conditions(), 1.0, written) == []


def spec() -> AppSpec:
    return AppSpec(name="demo", repo_url="file:///r.git", path="apps/demo")


def test_status_merge_patch_removes_keys_the_new_status_no_longer_has() -> None:
    old = {"health": {"status": "Progressing", "message": "2 of 5"}, "conditions": [{"type": "X"}]}
    new = {"health": {"status": "Healthy"}}
    assert merge_patch(old, new) == {"health": {"status": "Healthy", "message": None}, "conditions": None}


def succeeded_run(revision: str, started: float, *, resumed: bool = False) -> SyncRun:
    run = SyncRun("demo", revision, SyncPlan(()), kube=None, clock=lambda: started)  # type: ignore[arg-type]
    run.phase, run.finished_at, run.resumed = OperationPhase.Succeeded, started + 0.2, resumed
    return run


def test_history_keeps_two_syncs_of_one_revision_that_start_in_the_same_second() -> None:
    history = add_history([], spec(), succeeded_run("a" * 40, 100.1), SyncOperation())
    history = add_history(history, spec(), succeeded_run("a" * 40, 100.6), SyncOperation())
    assert [h["id"] for h in history] == [0, 1]


def test_a_resumed_self_heal_gets_its_entry_beside_the_sync_that_started_in_the_same_second() -> None:
    """The soak's 592-for-593: an auto-sync, then a self-heal in the same second, killed and resumed."""
    history = add_history([], spec(), succeeded_run("a" * 40, 100.1), SyncOperation())
    heal = succeeded_run("a" * 40, 100.0, resumed=True)  # resumed: its start time read back in seconds
    assert [h["id"] for h in add_history(history, spec(), heal, SyncOperation())] == [0, 1]
