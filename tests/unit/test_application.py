"""The Application model: enums, tracking ids, spec parsing and the manifests the CLI writes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labkit.gitops import application, crd
from labkit.gitops.application import (
    APP_NAMESPACE,
    AppSpec,
    Backoff,
    InvalidSpec,
    Retry,
    SyncOperation,
    application_manifest,
    crd_manifest,
    operation_manifest,
    parse_duration,
)
from labkit.gitops.types import (
    DiffMode,
    HealthStatus,
    OperationPhase,
    ResourceKey,
    TrackingIdError,
    parse_tracking_id,
    worst,
)

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"}}


def test_worst_health_follows_argo_cd_ranking() -> None:
    h = HealthStatus
    assert worst([h.Healthy, h.Suspended]) is h.Suspended
    assert worst([h.Suspended, h.Progressing]) is h.Progressing
    assert worst([h.Progressing, h.Missing]) is h.Missing
    assert worst([h.Degraded, h.Missing, h.Healthy]) is h.Degraded
    assert worst([h.Degraded, h.Unknown]) is h.Unknown


def test_worst_of_nothing_is_healthy() -> None:
    assert worst([]) is HealthStatus.Healthy


def test_only_running_operations_are_not_completed() -> None:
    assert [p.value for p in OperationPhase if not p.completed] == ["Running"]


def test_status_enums_are_plain_strings_for_json_and_printing() -> None:
    assert HealthStatus.Degraded == "Degraded"
    assert str(HealthStatus.Degraded) == "Degraded"


def test_resource_key_takes_group_from_api_version() -> None:
    assert ResourceKey.from_manifest(DEPLOYMENT) == ResourceKey("apps", "Deployment", "demo", "web")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"}}
    assert ResourceKey.from_manifest(svc).group == ""


def test_tracking_id_round_trips_for_core_and_cluster_scoped_objects() -> None:
    for key in [
        ResourceKey("apps", "Deployment", "demo", "web"),
        ResourceKey("", "Service", "demo", "web"),
        ResourceKey("", "Namespace", "", "demo"),
        ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "viewer"),
    ]:
        assert parse_tracking_id(key.tracking_id("guestbook")) == ("guestbook", key)


def test_tracking_id_has_argo_cd_format() -> None:
    key = ResourceKey("apps", "Deployment", "demo", "web")
    assert key.tracking_id("guestbook") == "guestbook:apps/Deployment:demo/web"
    assert ResourceKey("", "Namespace", "", "demo").tracking_id("a") == "a:/Namespace:/demo"


@pytest.mark.parametrize(
    "bad", ["", "web", "a:apps/Deployment", "a:Deployment:demo/web", ":apps/Deployment:d/w"]
)
def test_malformed_tracking_ids_are_rejected(bad: str) -> None:
    with pytest.raises(TrackingIdError):
        parse_tracking_id(bad)


def test_resource_key_prints_like_kubectl_would_name_it() -> None:
    assert str(ResourceKey("apps", "Deployment", "demo", "web")) == "apps/Deployment demo/web"
    assert str(ResourceKey("", "Service", "demo", "web")) == "Service demo/web"
    assert str(ResourceKey("", "Namespace", "", "demo")) == "Namespace demo"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("3m", 180.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("2", 2.0), (7, 7.0)],
)
def test_durations_are_parsed_in_argo_cd_form(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "3x", "-5s", "s"])
def test_invalid_durations_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidSpec):
        parse_duration(bad)


def test_backoff_grows_by_factor_and_stops_at_the_cap() -> None:
    b = Backoff(duration_s=5, factor=2, max_duration_s=30)
    assert [b.delay(n) for n in range(5)] == [5, 10, 20, 30, 30]


def test_retry_limit_zero_means_no_retry_and_negative_means_unlimited() -> None:
    assert not Retry(limit=0).allows(0)
    assert Retry(limit=2).allows(1) and not Retry(limit=2).allows(2)
    assert Retry(limit=-1).allows(1000)


def test_minimal_application_gets_argo_cd_defaults() -> None:
    spec = AppSpec.from_manifest(
        {
            "metadata": {"name": "guestbook"},
            "spec": {"source": {"repoURL": "file:///r.git", "path": "apps/gb"}},
        }
    )
    assert spec == AppSpec(name="guestbook", repo_url="file:///r.git", path="apps/gb")
    assert spec.target_revision == "HEAD" and spec.dest_namespace == "default"
    assert not spec.automated and not spec.prune and spec.revision_history_limit == 10
    assert spec.poll_interval_s is None and spec.diff_mode == "server-side"


def test_application_manifest_round_trips_through_the_spec_parser() -> None:
    obj = application_manifest(
        "guestbook",
        "file:///r.git",
        "apps/gb",
        "demo",
        target_revision="main",
        auto_sync=True,
        prune=True,
        self_heal=True,
        sync_options=["CreateNamespace=true", "PruneLast=true"],
        retry_limit=3,
        refresh_interval=30,
        diff_mode="three-way",
    )
    assert obj["metadata"]["namespace"] == APP_NAMESPACE
    spec = AppSpec.from_manifest(obj)
    assert (spec.automated, spec.prune, spec.self_heal, spec.allow_empty) == (True, True, True, False)
    assert spec.has_option("CreateNamespace=true") and not spec.has_option("CreateNamespace=false")
    assert spec.retry == Retry(limit=3, backoff=Backoff(5.0, 2.0, 180.0))
    assert spec.poll_interval_s == 30.0 and spec.diff_mode == "three-way"
    assert spec.target_revision == "main" and spec.dest_namespace == "demo"


def test_prune_setting_survives_while_auto_sync_is_off() -> None:
    spec = AppSpec.from_manifest(application_manifest("a", "file:///r.git", ".", "demo", prune=True))
    assert not spec.automated and spec.prune


def test_an_empty_automated_block_turns_auto_sync_on() -> None:
    obj = {
        "metadata": {"name": "a"},
        "spec": {"source": {"repoURL": "u", "path": "."}, "syncPolicy": {"automated": {}}},
    }
    assert AppSpec.from_manifest(obj).automated


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"source": {"path": "x"}}, "spec.source.repoURL is missing"),
        ({"source": {"repoURL": "u"}}, "spec.source.path is missing"),
        ({"source": {"repoURL": "u", "path": "../etc"}}, "must stay inside the repository"),
        ({"source": {"repoURL": "u", "path": "x"}, "diffMode": "magic"}, "spec.diffMode 'magic'"),
        ({"source": "u"}, "spec.source must be a mapping"),
        ({"source": {"repoURL": "u", "path": "x"}, "refreshInterval": "soon"}, "invalid duration 'soon'"),
    ],
)
def test_invalid_application_specs_say_what_is_wrong(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message.replace(".", r"\.")):
        AppSpec.from_manifest({"metadata": {"name": "a"}, "spec": spec})


def test_operation_manifest_has_argo_cd_shape_and_parses_back() -> None:
    key = ResourceKey("apps", "Deployment", "demo", "web")
    op = operation_manifest(revision="abc123", prune=True, resources=[key], initiated_by="alice")
    assert op["sync"]["resources"] == [
        {"group": "apps", "kind": "Deployment", "namespace": "demo", "name": "web"}
    ]
    assert op["initiatedBy"]["username"] == "alice"
    parsed = SyncOperation.from_manifest({"operation": op})
    assert parsed == SyncOperation("abc123", True, False, (key,), "alice", False)


def test_an_application_without_operation_has_no_sync_operation() -> None:
    assert SyncOperation.from_manifest({"spec": {}}) is None


def test_crd_is_namespaced_with_status_subresource_and_argo_like_columns() -> None:
    crd = crd_manifest()
    assert crd["metadata"]["name"] == "applications.labkit.dev"
    assert crd["spec"]["scope"] == "Namespaced" and crd["spec"]["names"]["shortNames"] == ["app"]
    assert "categories" not in crd["spec"]["names"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Sync",
        "Health",
        "Revision",
        "As-Of",
        "Age",
    ]
    props = version["schema"]["openAPIV3Schema"]["properties"]
    assert props["status"]["x-kubernetes-preserve-unknown-fields"] is True
    policy = props["spec"]["properties"]["syncPolicy"]["properties"]
    assert set(policy["automated"]["properties"]) >= {"prune", "selfHeal", "allowEmpty"}
    assert set(policy["retry"]["properties"]["backoff"]["properties"]) == {
        "duration",
        "factor",
        "maxDuration",
    }
    assert set(props["operation"]["properties"]) == {"sync", "initiatedBy"}


def test_every_crd_schema_node_is_structural() -> None:
    # The API server rejects a CRD whose schema has a node without a type (structural schema rule).
    def walk(node: dict[str, object], where: str) -> None:
        assert "type" in node, where
        for name, child in dict(node.get("properties") or {}).items():  # type: ignore[call-overload]
            walk(child, f"{where}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]")  # type: ignore[arg-type]

    walk(crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")


def test_the_crd_and_the_resource_names_are_still_importable_from_application() -> None:
    for name in ("crd_manifest", "GROUP", "VERSION", "KIND", "PLURAL", "DIFF_MODES", "Manifest"):
        assert getattr(application, name) is getattr(crd, name), name
    assert crd_manifest()["metadata"]["name"] == f"{application.PLURAL}.{application.GROUP}"


@pytest.mark.parametrize("first", ["crd", "application"])
def test_crd_and_application_import_in_either_order_without_a_cycle(first: str) -> None:
    second = "application" if first == "crd" else "crd"
    code = f"import labkit.gitops.{first}, labkit.gitops.{second}; labkit.gitops.application.crd_manifest()"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)


def test_the_crd_offers_exactly_the_diff_modes_the_spec_understands() -> None:
    assert tuple(m.value for m in DiffMode) == crd.DIFF_MODES


def test_a_sync_option_labkit_does_not_carry_out_makes_the_spec_invalid() -> None:
    app = application_manifest("demo", "file:///r.git", "apps/demo", "demo", sync_options=["Replace=true"])
    refused = "does not carry out spec.syncPolicy.syncOptions \\['Replace=true'\\]"
    with pytest.raises(InvalidSpec, match=refused):
        AppSpec.from_manifest(app)


def test_sync_options_that_match_what_labkit_always_does_are_accepted() -> None:
    options = ["ServerSideApply=true", "Validate=false", "CreateNamespace=true"]
    app = application_manifest("demo", "file:///r.git", "apps/demo", "demo", sync_options=options)
    assert AppSpec.from_manifest(app).sync_options == frozenset(options)


def test_the_diff_mode_is_an_enum_and_an_unknown_one_is_refused() -> None:
    app = application_manifest("demo", "file:///r.git", "apps/demo", "demo", diff_mode="three-way")
    assert AppSpec.from_manifest(app).diff_mode is DiffMode.ThreeWay
    app["spec"]["diffMode"] = "two-way"
    with pytest.raises(InvalidSpec, match="spec.diffMode 'two-way' is not one of"):
        AppSpec.from_manifest(app)


def test_an_argocd_application_is_accepted_with_project_default_and_the_in_cluster_destination() -> None:
    from labkit.gitops.application import AppSpec

    app = {
        "metadata": {"name": "guestbook"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "http://127.0.0.1:1/gitops.git",
                "path": "apps/demo",
                "targetRevision": "HEAD",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        },
    }
    assert AppSpec.from_manifest(app).dest_namespace == "guestbook"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("project", "team-a", "spec.project 'team-a': labkit's agent has one project"),
        ("destination", {"server": "https://prod.example:6443"}, "deploys only to the lab's own cluster"),
        ("destination", {"name": "prod"}, "spec.destination.name 'prod'"),
    ],
)
def test_a_project_or_cluster_labkit_cannot_honour_is_refused_not_ignored(
    field: str, value: object, message: str
) -> None:
    from labkit.gitops.application import AppSpec, InvalidSpec

    app = {"metadata": {"name": "a"}, "spec": {"source": {"repoURL": "x", "path": "p"}, "destination": {}}}
    app["spec"][field] = value  # type: ignore[index]
    with pytest.raises(InvalidSpec, match=message):
        AppSpec.from_manifest(app)
