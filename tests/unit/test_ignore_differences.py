"""spec.ignoreDifferences and RespectIgnoreDifferences=true, as Argo CD defines them, on YAML fixtures.

The Applications are in tests/fixtures/ignore; the drift scenarios are the
diff fixtures (tests/fixtures/diff): ``kubectl scale`` and ``kubectl set image``
on Deployment web.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.gitops import ignore
from labkit.gitops.application import AppSpec, InvalidSpec
from labkit.gitops.compare import compare
from labkit.gitops.crd import crd_manifest
from labkit.gitops.diff import server_side_diff, three_way_diff
from labkit.gitops.reconcile import Pair
from labkit.gitops.types import ResourceKey, SyncStatus

FIXTURES = Path(__file__).parent.parent / "fixtures"
WEB = ResourceKey("apps", "Deployment", "demo", "web")


def load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / path).read_text())
    return data


def spec() -> AppSpec:
    return AppSpec.from_manifest(load("ignore/application-ignore-replicas.yaml"))


def diff(mode: str, scenario: dict[str, Any], pointers: tuple[str, ...]) -> Any:
    if mode == "three-way":
        return three_way_diff(WEB, scenario["desired"], scenario["live"], pointers)
    return server_side_diff(WEB, scenario["predicted"], scenario["live"], pointers)


def test_the_application_fixture_parses_into_rules_and_the_sync_option() -> None:
    s = spec()
    assert s.ignore_differences == (
        ignore.IgnoreRule("Deployment", "apps", "web", "", ("/spec/replicas",)),
        ignore.IgnoreRule(
            "ConfigMap", "", "", "", ("/data/LOG_LEVEL", "/metadata/annotations/example.com~1owner")
        ),
    )
    assert s.has_option(ignore.RESPECT_IGNORE_DIFFERENCES)


@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_an_ignored_replicas_drift_is_synced_in_both_modes(mode: str) -> None:
    scenario = load("diff/deployment-replicas-drift.yaml")
    assert diff(mode, scenario, ()).status is SyncStatus.OutOfSync
    assert diff(mode, scenario, ("/spec/replicas",)).status is SyncStatus.Synced


@pytest.mark.parametrize("mode", ["server-side", "three-way"])
def test_a_drift_of_a_field_that_is_not_ignored_is_still_seen(mode: str) -> None:
    result = diff(mode, load("diff/deployment-image-drift.yaml"), ("/spec/replicas",))
    assert result.status is SyncStatus.OutOfSync
    assert result.changed_paths == ("spec.template.spec.containers[0].image",)


def test_compare_applies_only_the_rules_that_match_each_object() -> None:
    scenario = load("diff/deployment-replicas-drift.yaml")

    def judged(rules: tuple[ignore.IgnoreRule, ...]) -> SyncStatus:
        result = compare(
            "guestbook",
            "abc",
            [scenario["desired"]],
            [scenario["live"]],
            predict=lambda _: (scenario["predicted"], ""),
            ignore=rules,
        )
        return result.sync_status

    replicas = ("/spec/replicas",)
    assert judged((ignore.IgnoreRule("Deployment", "apps", json_pointers=replicas),)) is SyncStatus.Synced
    assert judged((ignore.IgnoreRule("*", "*", json_pointers=replicas),)) is SyncStatus.Synced
    assert judged((ignore.IgnoreRule("Deployment", "", json_pointers=replicas),)) is SyncStatus.OutOfSync
    assert (
        judged((ignore.IgnoreRule("Deployment", "apps", "api", json_pointers=replicas),))
        is SyncStatus.OutOfSync
    )
    assert judged((ignore.IgnoreRule("Deployment", "apps", namespace="prod", json_pointers=replicas),)) is (
        SyncStatus.OutOfSync
    )


def test_pointers_unescape_slashes_and_tildes_and_a_missing_field_is_no_error() -> None:
    obj = {"metadata": {"annotations": {"example.com/owner": "hpa", "a~b": "x", "keep": "y"}}, "spec": {}}
    out = ignore.without(
        obj, ["/metadata/annotations/example.com~1owner", "/metadata/annotations/a~0b", "/spec/nope/x"]
    )
    assert out == {"metadata": {"annotations": {"keep": "y"}}, "spec": {}}
    assert obj["metadata"]["annotations"]["a~b"] == "x"  # the input is not changed


def test_respect_keeps_the_live_value_of_an_ignored_field_and_gits_value_of_the_rest() -> None:
    scenario = load("diff/deployment-image-drift.yaml")
    desired, live = scenario["desired"], copy.deepcopy(scenario["live"])
    live["spec"]["replicas"] = 7
    applied = ignore.respect(desired, live, ["/spec/replicas"])
    assert applied["spec"]["replicas"] == 7
    image = applied["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (
        image
        == desired["spec"]["template"]["spec"]["containers"][0]["image"]
        != (live["spec"]["template"]["spec"]["containers"][0]["image"])
    )
    assert desired["spec"]["replicas"] == 2  # Git's object is not changed


def test_respect_leaves_out_an_ignored_field_the_live_object_lacks_and_never_copies_status() -> None:
    desired = {"spec": {"replicas": 2, "paused": False}, "status": {"x": 1}}
    live = {"spec": {"paused": True}, "status": {"x": 9}}
    assert ignore.respect(desired, live, ["/spec/replicas", "/status/x"]) == {
        "spec": {"paused": False},
        "status": {"x": 1},
    }


def test_respect_applies_a_new_object_as_git_has_it() -> None:
    desired = {"spec": {"replicas": 2}}
    assert ignore.respect(desired, None, ["/spec/replicas"]) is desired


def test_respect_sets_list_items_by_index_and_makes_missing_maps() -> None:
    desired = {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    live = {
        "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]},
        "metadata": {"labels": {"x": "1"}},
    }
    out = ignore.respect(desired, live, ["/spec/containers/0/image", "/metadata/labels/x"])
    assert out == {
        "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]},
        "metadata": {"labels": {"x": "1"}},
    }


def test_respect_pairs_changes_only_the_objects_the_rules_match() -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    other = {**deploy, "metadata": {"name": "api"}}
    live_web, live_api = copy.deepcopy(deploy), copy.deepcopy(other)
    live_web["spec"]["replicas"] = live_api["spec"]["replicas"] = 5
    pairs = [
        Pair(ResourceKey("apps", "Deployment", "", "web"), deploy, live_web),
        Pair(ResourceKey("apps", "Deployment", "", "api"), other, live_api),
        Pair(ResourceKey("apps", "Deployment", "", "old"), None, live_web),
    ]
    rules = (ignore.IgnoreRule("Deployment", "apps", "web", json_pointers=("/spec/replicas",)),)
    out = ignore.respect_pairs(pairs, rules)
    assert [p.desired["spec"]["replicas"] if p.desired else None for p in out] == [5, 2, None]


@pytest.mark.parametrize(
    ("fixture", "field"),
    [
        ("ignore/application-jq-path.yaml", "jqPathExpressions"),
        ("ignore/application-managed-fields-managers.yaml", "managedFieldsManagers"),
    ],
)
def test_fields_labkit_does_not_carry_out_are_refused_not_ignored(fixture: str, field: str) -> None:
    with pytest.raises(InvalidSpec) as e:
        AppSpec.from_manifest(load(fixture))
    assert f"spec.ignoreDifferences[0].{field}" in e.value.message
    assert "jsonPointers" in e.value.hint


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"group": "apps", "jsonPointers": ["/spec/replicas"]}, "kind is missing"),
        ({"kind": "Deployment"}, "jsonPointers must list"),
        ({"kind": "Deployment", "jsonPointers": ["spec/replicas"]}, "is not a JSON pointer"),
        (
            {"kind": "Deployment", "jsonPointers": ["/spec"], "jsonPaths": ["x"]},
            "unknown field(s) ['jsonPaths']",
        ),
        ("Deployment", "must be a mapping"),
    ],
)
def test_a_bad_rule_is_refused_with_its_position(rule: Any, words: str) -> None:
    app = load("ignore/application-ignore-replicas.yaml")
    app["spec"]["ignoreDifferences"] = [{"kind": "Service", "jsonPointers": ["/spec/type"]}, rule]
    with pytest.raises(InvalidSpec) as e:
        AppSpec.from_manifest(app)
    assert "spec.ignoreDifferences[1]" in e.value.message and words in e.value.message


def test_the_crd_keeps_every_field_of_a_rule_so_refused_ones_reach_the_agent() -> None:
    schema = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rule = schema["properties"]["spec"]["properties"]["ignoreDifferences"]["items"]
    assert set(rule["properties"]) == {
        "group",
        "kind",
        "name",
        "namespace",
        "jsonPointers",
        "jqPathExpressions",
        "managedFieldsManagers",
    }
    assert rule["required"] == ["kind"]
