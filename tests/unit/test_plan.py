"""Plan: pairing desired with tracked live objects, and the order a sync runs in.

Each file in tests/fixtures/plan is one scenario: the options, the rendered
(``desired``) and cluster (``live``) objects, which keys the diff found
OutOfSync, and the expected tasks written as ``<phase> <wave> <action> <key>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.gitops.hooks import DeletePolicy
from labkit.gitops.plan import Action, SyncPlan, plan_sync
from labkit.gitops.reconcile import is_hook, pair, tracked_by
from labkit.gitops.types import TRACKING_ANNOTATION, Manifest, ResourceKey, SyncPhase
from labkit.gitops.waves import KIND_ORDER, group

FIXTURES = Path(__file__).parent.parent / "fixtures" / "plan"
SCENARIOS = sorted(p.name for p in FIXTURES.glob("*.yaml"))
APP = "guestbook"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    return data


def plan_of(s: dict[str, Any], **overrides: Any) -> SyncPlan:
    pairs = pair(s["desired"], s["live"], APP)
    out = s["out_of_sync"]
    out_of_sync = None if out is None else {p.key for p in pairs if str(p.key) in out}
    return plan_sync(pairs, out_of_sync, **(s["options"] | overrides))


def lines(plan: SyncPlan) -> list[str]:
    return [f"{t.phase.value} {t.wave} {t.action.value} {t.key}" for t in plan.tasks]


def obj(
    kind: str, name: str, *, api_version: str = "v1", tracked: str | None = APP, **annotations: str
) -> Manifest:
    m: Manifest = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "demo"}}
    if tracked is not None:
        annotations[TRACKING_ANNOTATION] = ResourceKey.from_manifest(m).tracking_id(tracked)
    m["metadata"]["annotations"] = annotations
    return m


@pytest.mark.parametrize("name", SCENARIOS)
def test_plan_matches_the_scenario(name: str) -> None:
    s = load(name)
    plan = plan_of(s)
    assert plan.refused == s["expect"]["refused"]
    assert lines(plan) == s["expect"]["tasks"]


def test_pair_marks_creates_updates_and_prune_candidates() -> None:
    desired = [obj("ConfigMap", "a", tracked=None), obj("ConfigMap", "b", tracked=None)]
    live = [obj("ConfigMap", "b"), obj("ConfigMap", "c")]
    pairs = {p.key.name: p for p in pair(desired, live, APP)}
    assert pairs["a"].live is None and pairs["a"].desired is not None
    assert pairs["b"].live is live[0] and pairs["b"].desired is desired[1]
    assert pairs["c"].desired is None and pairs["c"].live is live[1]


def test_pair_ignores_objects_tracked_by_another_app_or_untracked() -> None:
    live = [obj("ConfigMap", "theirs", tracked="other"), obj("ConfigMap", "mine", tracked=None)]
    assert pair([], live, APP) == []


def test_a_copied_tracking_annotation_does_not_make_an_object_ours() -> None:
    copy = obj("ConfigMap", "copy")
    copy["metadata"]["annotations"][TRACKING_ANNOTATION] = "guestbook:/ConfigMap:demo/original"
    assert not tracked_by(copy, APP)
    assert tracked_by(obj("ConfigMap", "original"), APP)


def test_a_malformed_tracking_annotation_is_not_tracked() -> None:
    m = obj("ConfigMap", "x")
    m["metadata"]["annotations"][TRACKING_ANNOTATION] = "garbage"
    assert not tracked_by(m, APP)


def test_pair_lists_git_objects_first_in_git_order_then_extras_sorted() -> None:
    desired = [obj("Service", "z", tracked=None), obj("ConfigMap", "a", tracked=None)]
    live = [obj("Secret", "y"), obj("ConfigMap", "x")]
    assert [p.key.name for p in pair(desired, live, APP)] == ["z", "a", "x", "y"]


def test_without_prune_extra_objects_are_reported_as_prune_skipped() -> None:
    plan = plan_of(load("app-prune.yaml"), prune=False)
    assert plan.by_action(Action.Prune) == []
    assert {t.key.name for t in plan.by_action(Action.PruneSkipped)} == {
        "old-db",
        "old-api",
        "data",
        "old-settings",
    }


def test_empty_target_is_allowed_with_allow_empty() -> None:
    plan = plan_of(load("app-empty-target.yaml"), allow_empty=True)
    assert plan.refused is None and [t.action for t in plan.tasks] == [Action.Prune, Action.Prune]


def test_empty_target_without_prune_is_refused_with_its_own_message() -> None:
    plan = plan_of(load("app-empty-target.yaml"), prune=False)
    assert (
        plan.refused
        == "refusing to sync an empty target: Git renders no objects but 2 are live; set allowEmpty"
    )


def test_empty_target_guard_counts_synced_objects_omitted_by_apply_out_of_sync_only() -> None:
    s = load("app-prune.yaml")
    plan = plan_of(s, apply_out_of_sync_only=True)
    assert plan.refused is None
    assert "apps/Deployment demo/web" not in " ".join(lines(plan))


def test_nothing_to_sync_and_nothing_live_is_an_empty_plan_not_a_refusal() -> None:
    assert plan_sync(
        [], None, prune=True, apply_out_of_sync_only=False, prune_last=False, allow_empty=False
    ) == (SyncPlan(()))


def test_unknown_diff_state_treats_every_live_object_as_out_of_sync() -> None:
    pairs = pair([obj("ConfigMap", "a", tracked=None)], [obj("ConfigMap", "a")], APP)
    plan = plan_sync(
        pairs, None, prune=False, apply_out_of_sync_only=True, prune_last=False, allow_empty=False
    )
    assert [t.action for t in plan.tasks] == [Action.Update]


def test_selective_sync_only_plans_the_named_resources() -> None:
    s = load("app-prune.yaml")
    only = {ResourceKey("", "Service", "demo", "old-db")}
    plan = plan_of(s, only=only)
    assert lines(plan) == ["Sync 2 Prune Service demo/old-db"]  # its own wave: nothing to mirror against


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        (
            {"labkit.dev/sync-wave": "soon"},
            "ConfigMap demo/a: labkit.dev/sync-wave must be an integer, got 'soon'",
        ),
        ({"labkit.dev/hook": "Presync"}, "ConfigMap demo/a: unknown hook 'Presync' in labkit.dev/hook"),
        (
            {"labkit.dev/hook": "PreSync", "labkit.dev/hook-delete-policy": "Never"},
            "ConfigMap demo/a: unknown labkit.dev/hook-delete-policy 'Never'",
        ),
        (
            {"argocd.argoproj.io/sync-wave": "1.5"},
            "ConfigMap demo/a: argocd.argoproj.io/sync-wave must be an integer, got '1.5'",
        ),
        (
            {"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "Always"},
            "ConfigMap demo/a: unknown argocd.argoproj.io/hook-delete-policy 'Always'",
        ),
        (
            {"argocd.argoproj.io/sync-options": "Replace=true"},
            "ConfigMap demo/a: labkit does not carry out argocd.argoproj.io/sync-options 'Replace=true'",
        ),
        (
            {"argocd.argoproj.io/compare-options": "IncludeMutationWebhook=true"},
            "ConfigMap demo/a: labkit does not carry out argocd.argoproj.io/compare-options",
        ),
    ],
)
def test_a_bad_annotation_refuses_the_whole_plan(annotations: dict[str, str], message: str) -> None:
    desired = [obj("ConfigMap", "a", tracked=None, **annotations), obj("ConfigMap", "b", tracked=None)]
    plan = plan_sync(
        pair(desired, [], APP),
        None,
        prune=False,
        apply_out_of_sync_only=False,
        prune_last=False,
        allow_empty=False,
    )
    assert plan.tasks == () and plan.refused is not None and plan.refused.startswith(message)


def test_hooks_carry_their_delete_policy_with_before_hook_creation_as_default() -> None:
    plan = plan_of(load("app-waves-and-hooks.yaml"))
    policies = {t.key.name: t.delete_policies for t in plan.tasks}
    assert policies["migrate"] == {DeletePolicy.HookSucceeded}
    assert policies["smoke-test"] == {DeletePolicy.BeforeHookCreation}
    assert policies["web"] == frozenset()
    assert all(t.action is Action.Create for t in plan.tasks if t.hook)
    assert {t.key.name for t in plan.tasks if t.hook} == {"migrate", "smoke-test", "notify"}


def test_a_hook_in_two_phases_runs_in_both() -> None:
    desired = [obj("Pod", "check", tracked=None, **{"labkit.dev/hook": "PreSync,PostSync"})]
    plan = plan_sync(
        pair(desired, [], APP),
        None,
        prune=False,
        apply_out_of_sync_only=False,
        prune_last=False,
        allow_empty=True,
    )
    assert lines(plan) == ["PreSync 0 Create Pod demo/check", "PostSync 0 Create Pod demo/check"]


def test_per_resource_prune_last_moves_only_that_prune_after_the_last_wave() -> None:
    live = [
        obj("ConfigMap", "late", **{"labkit.dev/sync-options": "PruneLast=true"}),
        obj("ConfigMap", "early"),
    ]
    pairs = pair([obj("Service", "web", tracked=None)], live, APP)
    plan = plan_sync(
        pairs, None, prune=True, apply_out_of_sync_only=False, prune_last=False, allow_empty=False
    )
    assert lines(plan) == [
        "Sync 0 Create Service demo/web",
        "Sync 0 Prune ConfigMap demo/early",
        "Sync 1 Prune ConfigMap demo/late",
    ]


def test_waves_group_tasks_by_phase_and_wave_in_execution_order() -> None:
    groups = group(plan_of(load("app-waves-and-hooks.yaml")).tasks)
    assert [(phase, wave, len(tasks)) for phase, wave, tasks in groups] == [
        (SyncPhase.PreSync, 0, 1),
        (SyncPhase.Sync, -1, 1),
        (SyncPhase.Sync, 0, 2),
        (SyncPhase.Sync, 1, 1),
        (SyncPhase.PostSync, 0, 1),
        (SyncPhase.SyncFail, 0, 1),
    ]


def test_kind_order_is_argo_cds() -> None:
    assert KIND_ORDER[:3] == ("Namespace", "NetworkPolicy", "ResourceQuota")
    assert KIND_ORDER.index("ConfigMap") < KIND_ORDER.index("Service") < KIND_ORDER.index("Deployment")
    assert KIND_ORDER[-1] == "APIService" and len(KIND_ORDER) == 35


def test_argo_cd_annotation_names_win_over_labkits_older_ones() -> None:
    both = {"argocd.argoproj.io/sync-wave": "3", "labkit.dev/sync-wave": "-3"}
    plan = plan_sync(
        pair([obj("ConfigMap", "a", tracked=None, **both)], [], APP),
        None,
        prune=False,
        apply_out_of_sync_only=False,
        prune_last=False,
        allow_empty=False,
    )
    assert lines(plan) == ["Sync 3 Create ConfigMap demo/a"]


@pytest.mark.parametrize("name", ["argocd.argoproj.io/hook", "labkit.dev/hook"])
def test_a_sync_hook_is_a_hook_and_a_skip_is_not(name: str) -> None:
    assert is_hook(obj("Job", "j", **{name: "Sync"}))
    assert is_hook(obj("Job", "j", **{name: "PreSync,PostSync"}))
    assert not is_hook(obj("Job", "j", **{name: "Skip"}))
    assert not is_hook(obj("Job", "j"))


def test_a_sync_phase_hook_runs_with_the_resources_and_is_created_afresh() -> None:
    hook = obj("Job", "seed", api_version="batch/v1", tracked=None, **{"argocd.argoproj.io/hook": "Sync"})
    live_hook = obj("Job", "seed", api_version="batch/v1", **{"argocd.argoproj.io/hook": "Sync"})
    plan = plan_sync(
        pair([hook, obj("ConfigMap", "a", tracked=None)], [live_hook], APP),
        set(),
        prune=True,
        apply_out_of_sync_only=True,
        prune_last=False,
        allow_empty=False,
    )
    assert lines(plan) == ["Sync 0 Create ConfigMap demo/a", "Sync 0 Create batch/Job demo/seed"]
    assert [t.hook for t in plan.tasks] == [False, True]


def test_a_live_object_marked_ignore_extraneous_is_still_pruned_when_asked() -> None:
    extra = obj("ConfigMap", "generated", **{"argocd.argoproj.io/compare-options": "IgnoreExtraneous"})
    plan = plan_sync(
        pair([obj("ConfigMap", "a", tracked=None)], [extra], APP),
        None,
        prune=True,
        apply_out_of_sync_only=False,
        prune_last=False,
        allow_empty=False,
    )
    assert lines(plan) == ["Sync 0 Create ConfigMap demo/a", "Sync 0 Prune ConfigMap demo/generated"]
