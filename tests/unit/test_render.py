"""Render: a Git directory becomes checked, namespaced, tracked objects — or a clear RenderError."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from labkit.errors import CommandError, ToolchainError
from labkit.gitops.application import TRACKING_ANNOTATION, Manifest
from labkit.gitops.render import (
    RenderError,
    SourceType,
    default_is_namespaced,
    default_kubectl,
    render,
    source_type,
)
from labkit.proc import Result

FIXTURES = Path(__file__).parent.parent / "fixtures" / "render"
CHARTS = Path(__file__).parent.parent / "fixtures" / "helm"
STARTER_CHART = Path(__file__).parent.parent.parent / "repos" / "starter" / "apps" / "demo-helm"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
"""


def by_name(objects: list[Manifest]) -> dict[str, Manifest]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def write(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


class FakeRunner:
    """Records commands and answers like ``kubectl kustomize`` would."""

    def __init__(self, result: Result | None = None, raises: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.result = result
        self.raises = raises

    def __call__(self, argv: Sequence[str], **kwargs: object) -> Result:
        self.calls.append(list(argv))
        if self.raises is not None:
            raise self.raises
        assert self.result is not None
        return self.result


def test_plain_directory_renders_every_manifest_file_in_name_order() -> None:
    objects = render(FIXTURES / "plain", app="demo", dest_namespace="demo")
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    # configmaps-list.json, deployment-web.yaml, service-and-namespace.yml; README.md and nested/ skipped
    assert names == [
        "ConfigMap/settings",
        "ConfigMap/flags",
        "Deployment/web",
        "Service/web",
        "Namespace/demo",
    ]


def test_namespaced_objects_get_the_destination_namespace_and_cluster_scoped_ones_get_none() -> None:
    objects = by_name(render(FIXTURES / "plain", app="demo", dest_namespace="demo"))
    assert objects["Deployment/web"]["metadata"]["namespace"] == "demo"
    assert objects["ConfigMap/flags"]["metadata"]["namespace"] == "demo"
    assert "namespace" not in objects["Namespace/demo"]["metadata"]


def test_every_object_carries_the_tracking_annotation_and_keeps_its_own() -> None:
    objects = by_name(render(FIXTURES / "plain", app="guestbook", dest_namespace="demo"))
    annotations = objects["Deployment/web"]["metadata"]["annotations"]
    assert annotations[TRACKING_ANNOTATION] == "guestbook:apps/Deployment:demo/web"
    assert annotations["note"] == "created 2024-01-01"
    assert (
        objects["Namespace/demo"]["metadata"]["annotations"][TRACKING_ANNOTATION]
        == "guestbook:/Namespace:/demo"
    )


def test_timestamps_stay_strings_as_in_kubernetes_yaml(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {day: 2024-01-01}\n"},
    )
    assert render(src, app="a", dest_namespace="d")[0]["data"]["day"] == "2024-01-01"


def test_unknown_kinds_are_treated_as_namespaced(tmp_path: Path) -> None:
    src = write(tmp_path, {"w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"})
    assert render(src, app="a", dest_namespace="d")[0]["metadata"]["namespace"] == "d"


def test_scope_lookup_can_be_injected_for_custom_resources(tmp_path: Path) -> None:
    src = write(
        tmp_path, {"w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: x}\n"}
    )
    objects = render(src, app="a", dest_namespace="d", is_namespaced=lambda api_version, kind: False)
    assert "namespace" not in objects[0]["metadata"]


def test_empty_directory_renders_nothing(tmp_path: Path) -> None:
    assert render(tmp_path, app="a", dest_namespace="d") == []


def test_render_does_not_change_what_it_was_given(tmp_path: Path) -> None:
    src = write(tmp_path, {"d.yaml": DEPLOYMENT})
    first = render(src, app="a", dest_namespace="d")
    first[0]["metadata"]["name"] = "changed"
    assert render(src, app="a", dest_namespace="d")[0]["metadata"]["name"] == "web"


def test_missing_path_names_the_path_and_the_revision(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as info:
        render(tmp_path / "nope", app="a", dest_namespace="d", display_path="apps/x", revision="abc1234def")
    assert info.value.message == "path 'apps/x' does not exist at revision abc1234"


def test_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"f.yaml": DEPLOYMENT})
    with pytest.raises(RenderError, match="path 'apps/f.yaml' is not a directory"):
        render(tmp_path / "f.yaml", app="a", dest_namespace="d", display_path="apps/f.yaml")


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    src = write(tmp_path, {"bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"})
    with pytest.raises(RenderError, match=r"apps/x/bad\.yaml: invalid YAML at line \d+"):
        render(src, app="a", dest_namespace="d", display_path="apps/x")


def test_invalid_json_names_the_file_and_line(tmp_path: Path) -> None:
    src = write(tmp_path, {"bad.json": '{\n  "apiVersion": "v1",\n  oops\n}'})
    with pytest.raises(RenderError, match=r"bad\.json: invalid JSON at line 3"):
        render(src, app="a", dest_namespace="d")


def test_a_document_that_is_not_a_mapping_is_named_by_number(tmp_path: Path) -> None:
    src = write(tmp_path, {"two.yaml": DEPLOYMENT + "---\n- just\n- a list\n"})
    with pytest.raises(RenderError, match=r"two\.yaml \(document 2\) is a list, not a Kubernetes object"):
        render(src, app="a", dest_namespace="d")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: ConfigMap\nmetadata: {name: c}\n", "object has no apiVersion"),
        ("apiVersion: v1\nmetadata: {name: c}\n", "object has no kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "ConfigMap has no metadata.name"),
        ("apiVersion: v1\nkind: ConfigMap\n", "ConfigMap has no metadata.name"),
    ],
)
def test_objects_missing_identity_fields_are_refused(tmp_path: Path, text: str, message: str) -> None:
    src = write(tmp_path, {"o.yaml": text})
    with pytest.raises(RenderError, match=f"o.yaml: {message}"):
        render(src, app="a", dest_namespace="d")


def test_an_object_for_another_namespace_is_refused(tmp_path: Path) -> None:
    src = write(
        tmp_path, {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: prod}\n"}
    )
    with pytest.raises(RenderError, match="targets namespace 'prod' but the Application deploys to 'demo'"):
        render(src, app="a", dest_namespace="demo")


def test_duplicate_objects_are_refused_naming_both_places(tmp_path: Path) -> None:
    src = write(tmp_path, {"a.yaml": DEPLOYMENT, "b.yaml": DEPLOYMENT.replace("replicas: 1", "replicas: 2")})
    with pytest.raises(
        RenderError, match=r"duplicate object apps/Deployment d/web: in .*a\.yaml and in .*b\.yaml"
    ):
        render(src, app="a", dest_namespace="d")


def test_kustomize_directory_is_built_with_real_kubectl() -> None:
    objects = render(FIXTURES / "kustomize", app="a", dest_namespace="demo")
    assert [o["kind"] for o in objects] == ["Deployment"]
    deployment = objects[0]
    assert deployment["metadata"]["labels"] == {"team": "blue"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert deployment["metadata"]["namespace"] == "demo"
    assert TRACKING_ANNOTATION in deployment["metadata"]["annotations"]


def test_kustomize_goes_through_the_injected_runner_with_the_given_kubectl(tmp_path: Path) -> None:
    src = write(tmp_path, {"kustomization.yaml": "resources: [d.yaml]\n", "d.yaml": DEPLOYMENT})
    runner = FakeRunner(Result(("k",), 0, DEPLOYMENT, ""))
    objects = render(src, app="a", dest_namespace="d", kubectl="/opt/kubectl", runner=runner)
    assert runner.calls == [["/opt/kubectl", "kustomize", str(src)]]
    assert objects[0]["metadata"]["name"] == "web"


def test_kustomize_failure_shows_its_stderr(tmp_path: Path) -> None:
    src = write(tmp_path, {"kustomization.yaml": "resources: [missing.yaml]\n"})
    runner = FakeRunner(Result(("k",), 1, "", "Error: accumulating resources: missing.yaml: no such file"))
    with pytest.raises(RenderError, match="kustomize failed for .*accumulating resources: missing.yaml"):
        render(src, app="a", dest_namespace="d", runner=runner)


def test_kustomize_failure_from_real_kubectl_is_a_render_error(tmp_path: Path) -> None:
    src = write(tmp_path, {"kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(RenderError, match="kustomize failed for 'apps/k'.*missing.yaml"):
        render(src, app="a", dest_namespace="d", display_path="apps/k")


def test_kubectl_that_cannot_run_is_a_render_error(tmp_path: Path) -> None:
    src = write(tmp_path, {"kustomization.yaml": "resources: []\n"})
    runner = FakeRunner(raises=CommandError(["kubectl"], 127, "No such file", hint="install kubectl"))
    with pytest.raises(RenderError, match="kustomize could not run") as info:
        render(src, app="a", dest_namespace="d", runner=runner)
    assert info.value.hint == "install kubectl"


def test_a_symlink_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text(DEPLOYMENT)
    src = tmp_path / "app"
    src.mkdir()
    (src / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(RenderError, match="symlink that leads outside"):
        render(src, app="a", dest_namespace="d")


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("v1", "Namespace", False),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", False),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", False),
        ("storage.k8s.io/v1", "StorageClass", False),
        ("apps/v1", "Deployment", True),
        ("v1", "ConfigMap", True),
        ("rbac.authorization.k8s.io/v1", "Role", True),
        ("example.com/v1", "Namespace", None),
        ("example.com/v1", "Widget", None),
    ],
)
def test_built_in_scopes_are_known_by_group_and_kind(
    api_version: str, kind: str, expected: bool | None
) -> None:
    assert default_is_namespaced(api_version, kind) is expected


def test_default_kubectl_is_the_one_beside_this_python() -> None:
    assert Path(default_kubectl()).parent == Path(sys.executable).parent


# -- Helm charts ------------------------------------------------------------------------------------


def test_the_source_type_is_chosen_as_argo_cd_chooses_it(tmp_path: Path) -> None:
    assert source_type(FIXTURES / "plain") is SourceType.Directory
    assert source_type(FIXTURES / "kustomize") is SourceType.Kustomize
    assert source_type(CHARTS / "web") is SourceType.Helm
    assert source_type(FIXTURES / "plain", helm=True) is SourceType.Helm, "spec.source.helm is explicit"
    both = write(tmp_path, {"Chart.yaml": "name: x\n", "kustomization.yaml": "resources: []\n"})
    assert source_type(both) is SourceType.Kustomize, "a kustomization wins, as in Argo CD's discovery"


@pytest.fixture(scope="module")
def helm() -> str:
    """The real helm from labkit's toolchain (``labkit toolchain ensure`` builds it)."""
    from labkit.cluster.toolchain import tool_path

    try:
        return str(tool_path("helm"))
    except ToolchainError as e:
        pytest.skip(f"{e.message}; {e.hint}")


def render_chart(chart: Path, binary: str, app: str = "shop", **kw: Any) -> dict[str, Manifest]:
    """``chart`` rendered for app ``app`` into namespace ``app`` (``kw``: ``helm=`` and the rest)."""
    return by_name(render(chart, app=app, dest_namespace=app, helm_binary=binary, **kw))


def test_a_chart_renders_with_the_app_as_release_and_its_vendored_subchart(helm: str) -> None:
    objects = render_chart(CHARTS / "web", helm)
    assert set(objects) == {
        "ConfigMap/shop-layers",
        "Deployment/shop-web",
        "Deployment/shop-cache",
        "Job/shop-migrate",
    }
    assert objects["ConfigMap/shop-layers"]["data"]["release-namespace"] == "shop"
    assert objects["Deployment/shop-cache"]["metadata"]["namespace"] == "shop"
    annotations = objects["Deployment/shop-web"]["metadata"]["annotations"]
    assert annotations[TRACKING_ANNOTATION] == "shop:apps/Deployment:shop/shop-web"


def test_a_charts_helm_hooks_arrive_as_argo_cd_hooks_and_its_test_hook_not_at_all(helm: str) -> None:
    objects = render_chart(CHARTS / "web", helm)
    annotations = objects["Job/shop-migrate"]["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/sync-wave"] == "-5"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation,HookSucceeded"
    assert "Pod/shop-test" not in objects


@pytest.mark.parametrize(
    ("helm_source", "layers"),
    [
        ({}, {"a": "chart", "b": "chart", "c": "chart", "d": "chart"}),
        ({"valueFiles": ["values-extra.yaml"]}, {"a": "file", "b": "file", "c": "file", "d": "file"}),
        (
            {
                "valueFiles": ["values-extra.yaml"],
                "values": "layers: {b: values, c: values, d: values}",
                "parameters": [{"name": "layers.d", "value": "parameter"}],
            },
            {"a": "file", "b": "values", "c": "values", "d": "parameter"},
        ),
        (
            {
                "valueFiles": ["values-extra.yaml"],
                "values": "layers: {b: values, c: values}",
                "valuesObject": {"layers": {"c": "object"}},
            },
            {"a": "file", "b": "file", "c": "object", "d": "file"},
        ),
    ],
)
def test_values_layer_as_in_argo_cd_files_then_values_or_values_object_then_parameters(
    helm: str, helm_source: dict[str, Any], layers: dict[str, str]
) -> None:
    data = render_chart(CHARTS / "web", helm, helm=helm_source)["ConfigMap/shop-layers"]["data"]
    assert {k: v for k, v in data.items() if k in "abcd"} == layers


def test_release_name_and_helm_namespace_override_the_defaults(helm: str) -> None:
    objects = render_chart(CHARTS / "web", helm, helm={"releaseName": "blue", "namespace": "elsewhere"})
    assert objects["ConfigMap/blue-layers"]["data"]["release-namespace"] == "elsewhere"
    assert objects["ConfigMap/blue-layers"]["metadata"]["namespace"] == "shop", (
        "objects still go to the destination"
    )


def test_a_template_error_is_a_render_error_quoting_helm(helm: str) -> None:
    with pytest.raises(RenderError) as info:
        render(CHARTS / "broken", app="b", dest_namespace="b", helm_binary=helm, display_path="apps/broken")
    assert info.value.message.startswith("helm template failed for 'apps/broken': Error: ")
    assert 'function "nosuchfunction" not defined' in info.value.message
    assert info.value.hint == "reproduce in your clone: helm template apps/broken"


def test_a_missing_value_file_is_reported_by_helm_unless_ignored(helm: str) -> None:
    with pytest.raises(RenderError, match="open values-nope.yaml: no such file or directory"):
        render_chart(CHARTS / "web", helm, helm={"valueFiles": ["values-nope.yaml"]})
    ignored = {"valueFiles": ["values-nope.yaml"], "ignoreMissingValueFiles": True}
    assert "ConfigMap/shop-layers" in render_chart(CHARTS / "web", helm, helm=ignored)


def test_value_files_may_come_from_elsewhere_in_the_repository(helm: str, tmp_path: Path) -> None:
    shutil.copytree(CHARTS / "web", tmp_path / "charts" / "web")
    write(tmp_path, {"shared.yaml": "layers: {a: shared}\n"})
    source = {"valueFiles": ["/shared.yaml", "../../shared.yaml"]}
    objects = render_chart(tmp_path / "charts" / "web", helm, helm=source, repo_root=tmp_path)
    assert objects["ConfigMap/shop-layers"]["data"]["a"] == "shared"


def test_an_invalid_helm_source_is_a_render_error_naming_the_field(helm: str) -> None:
    with pytest.raises(RenderError, match=r"spec.source.helm.parameters\[0\] has no name"):
        render_chart(CHARTS / "web", helm, helm={"parameters": [{"value": "3"}]})


def test_a_helm_not_built_yet_is_a_render_error_saying_how_to_build_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import labkit.cluster.toolchain

    def not_built(binary: str) -> Path:
        raise ToolchainError(f"{binary} is not built yet", hint="run: labkit toolchain ensure")

    monkeypatch.setattr(labkit.cluster.toolchain, "tool_path", not_built)
    with pytest.raises(RenderError, match="cannot render the chart .* helm is not built yet") as info:
        render(CHARTS / "web", app="a", dest_namespace="a")
    assert info.value.hint == "run: labkit toolchain ensure"


@pytest.mark.parametrize(
    ("value_files", "replicas", "environment"),
    [([], 2, "dev"), (["values-staging.yaml"], 1, "staging"), (["values-production.yaml"], 4, "production")],
)
def test_the_starter_chart_renders_for_every_environment(
    helm: str, value_files: list[str], replicas: int, environment: str
) -> None:
    objects = render_chart(STARTER_CHART, helm, app="demo-helm", helm={"valueFiles": value_files})
    assert set(objects) == {
        "ConfigMap/demo-helm-config",
        "Deployment/demo-helm",
        "Service/demo-helm",
        "Job/demo-helm-migrate",
    }
    assert objects["Deployment/demo-helm"]["spec"]["replicas"] == replicas
    assert objects["ConfigMap/demo-helm-config"]["data"]["environment"] == environment
    assert objects["Job/demo-helm-migrate"]["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
