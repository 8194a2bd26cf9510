"""Diff: server-side and three-way comparison of live objects with Git, on YAML scenarios.

Each file in tests/fixtures/diff holds one scenario: ``desired`` (rendered
from Git), ``live`` (as the API server returns it), ``predicted`` (the
server-side-apply dry run of ``desired`` against ``live``) and ``expect``,
the status and changed paths each mode must report.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.gitops.diff import (
    ResourceDiff,
    changed_paths,
    last_applied,
    merge_three_way,
    normalize,
    server_side_diff,
    three_way_diff,
)
from labkit.gitops.types import DiffMode, Manifest, ResourceKey, SyncStatus

FIXTURES = Path(__file__).parent.parent / "fixtures" / "diff"
SCENARIOS = sorted(p.name for p in FIXTURES.glob("*.yaml"))
KEY = ResourceKey("apps", "Deployment", "demo", "web")


def scenario(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    return data


def compare(
    mode: str, key: ResourceKey, desired: Manifest | None, live: Manifest | None, predicted: Manifest | None
) -> ResourceDiff:
    """The diff in ``mode``; ``predicted`` (the dry run of ``desired``) is only read server-side."""
    if DiffMode(mode) is DiffMode.ThreeWay:
        return three_way_diff(key, desired, live)
    return server_side_diff(key, predicted if desired is not None else None, live)


def run_mode(mode: str, s: dict[str, Any]) -> Any:
    key = ResourceKey.from_manifest(s["desired"])
    return compare(mode, key, s["desired"], s["live"], s["predicted"])


def test_there_are_diff_scenarios() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_each_mode_reports_what_the_scenario_expects(name: str, mode: str) -> None:
    s = scenario(name)
    result = run_mode(mode, s)
    assert result.status == SyncStatus(s["expect"][mode]["status"])
    assert list(result.changed_paths) == s["expect"][mode]["paths"]
    assert result.mode == mode
    assert bool(result.text) == (result.status is SyncStatus.OutOfSync)


@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_declared_field_drift_is_detected_by_both_modes(mode: str) -> None:
    replicas = run_mode(mode, scenario("deployment-replicas-drift.yaml"))
    image = run_mode(mode, scenario("deployment-image-drift.yaml"))
    assert replicas.changed_paths == ("spec.replicas",)
    assert image.changed_paths == ("spec.template.spec.containers[0].image",)


@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_undeclared_field_drift_goes_unnoticed_in_both_modes(mode: str) -> None:
    label = scenario("deployment-label-added.yaml")
    service = scenario("service-type-changed.yaml")
    assert label["live"]["metadata"]["labels"]["hotfix"] == "true"
    assert service["live"]["spec"]["type"] == "NodePort" and "type" not in service["desired"]["spec"]
    assert run_mode(mode, label).synced
    assert run_mode(mode, service).synced


def test_server_side_misses_undeclared_fields_because_the_dry_run_keeps_them() -> None:
    # The scenario's predicted object is the dry-run result: other managers' fields survive it.
    for name in ["deployment-label-added.yaml", "service-type-changed.yaml"]:
        s = scenario(name)
        assert normalize(s["predicted"]) == normalize(s["live"])


def test_comparing_desired_with_live_directly_would_flag_server_defaults() -> None:
    s = scenario("deployment-port-defaulted.yaml")
    naive = changed_paths(normalize(s["live"]), normalize(s["desired"]))
    for path in s["expect"]["naive"]["paths_include"]:
        assert path in naive
    assert run_mode("three-way", s).synced and run_mode("server-side", s).synced


def test_a_value_the_server_normalises_is_a_false_positive_only_in_three_way() -> None:
    s = scenario("deployment-quantity-normalized.yaml")
    assert not run_mode("three-way", s).synced
    assert run_mode("server-side", s).synced


def test_three_way_treats_defaulted_fields_in_list_items_as_no_difference() -> None:
    desired = {"spec": {"ports": [{"containerPort": 80}]}}
    live = {"spec": {"ports": [{"containerPort": 80, "protocol": "TCP"}]}}
    assert three_way_diff(KEY, desired, live).synced
    live_udp = {"spec": {"ports": [{"containerPort": 80, "protocol": "UDP"}]}}
    # Git never declared the protocol, so even a non-default value is not compared.
    assert three_way_diff(KEY, desired, live_udp).synced


def test_three_way_reports_a_list_of_a_different_length() -> None:
    desired = {"spec": {"args": ["a", "b"]}}
    assert three_way_diff(KEY, desired, {"spec": {"args": ["a"]}}).changed_paths == ("spec.args[1]",)
    assert three_way_diff(KEY, desired, {"spec": {"args": ["a", "b", "c"]}}).changed_paths == (
        "spec.args[2]",
    )


def test_three_way_sees_a_field_removed_from_git_through_last_applied() -> None:
    s = scenario("deployment-label-removed-from-git.yaml")
    live = copy.deepcopy(s["live"])
    assert three_way_diff(KEY, s["desired"], live).changed_paths == ("metadata.labels.tier",)
    # Without the annotation labkit cannot know the label was ever declared.
    del live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert three_way_diff(KEY, s["desired"], live).synced


def test_an_unreadable_last_applied_annotation_is_ignored() -> None:
    live = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{not json"}}}
    assert last_applied(live) == {}


def test_explicit_null_in_git_deletes_the_field() -> None:
    assert merge_three_way({}, {"spec": {"a": None, "b": 1}}, {"spec": {"a": 5, "b": 1, "c": 2}}) == {
        "spec": {"b": 1, "c": 2}
    }


@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_an_object_missing_from_the_cluster_is_out_of_sync(mode: str) -> None:
    desired = scenario("deployment-synced.yaml")["desired"]
    result = compare(mode, KEY, desired, None, desired)
    assert (result.status, result.reason) == (SyncStatus.OutOfSync, "missing")
    assert result.text.startswith("--- live\n+++ desired\n") and "+kind: Deployment" in result.text


@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_a_tracked_object_gone_from_git_is_out_of_sync(mode: str) -> None:
    live = scenario("deployment-synced.yaml")["live"]
    result = compare(mode, KEY, None, live, None)
    assert (result.status, result.reason) == (SyncStatus.OutOfSync, "extra")
    assert "-kind: Deployment" in result.text


def test_diff_text_is_a_unified_yaml_diff_from_live_to_desired() -> None:
    result = server_side_diff(KEY, {"spec": {"replicas": 2}}, {"spec": {"replicas": 5}})
    assert result.text.splitlines() == [
        "--- live",
        "+++ desired",
        "@@ -1,2 +1,2 @@",
        " spec:",
        "-  replicas: 5",
        "+  replicas: 2",
    ]
    assert result.reason == "changed"


def test_synced_diff_has_no_text() -> None:
    s = scenario("deployment-synced.yaml")
    result = server_side_diff(KEY, s["predicted"], s["live"])
    assert result.synced and result.text == "" and result.changed_paths == ()


def test_normalize_drops_what_the_server_writes_and_keeps_the_rest() -> None:
    live = scenario("deployment-synced.yaml")["live"]
    before = copy.deepcopy(live)
    out = normalize(live)
    assert live == before  # a copy, not an edit
    assert "status" not in out
    assert (
        not {"managedFields", "uid", "resourceVersion", "generation", "creationTimestamp"}
        & out["metadata"].keys()
    )
    assert list(out["metadata"]["annotations"]) == ["labkit.dev/tracking-id"]
    assert out["spec"]["replicas"] == 2


def test_normalize_removes_maps_left_empty() -> None:
    obj = {"metadata": {"name": "x", "labels": {}, "annotations": {"deployment.kubernetes.io/revision": "3"}}}
    assert normalize(obj) == {"metadata": {"name": "x"}}


def test_changed_paths_quote_keys_with_dots_and_slashes() -> None:
    old = {"metadata": {"labels": {"app.kubernetes.io/name": "a"}}}
    new = {"metadata": {"labels": {"app.kubernetes.io/name": "b"}}}
    assert changed_paths(old, new) == ['metadata.labels["app.kubernetes.io/name"]']
