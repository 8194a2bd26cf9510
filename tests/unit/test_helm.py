"""Helm source: spec.source.helm parsing, the `helm template` argv, running it, and Helm hooks as Argo CD's.

Pure rules with a fake runner here; tests/unit/test_render.py renders the
fixture charts with the real helm from the toolchain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from labkit.errors import CommandError
from labkit.gitops.crd import crd_manifest
from labkit.gitops.helm import FIELDS, HelmError, HelmParameter, HelmSource, source_from_flags
from labkit.gitops.helm_hooks import map_hooks
from labkit.gitops.helm_template import resolve_value_files, split_output, template, template_argv
from labkit.proc import Result

FULL = {
    "releaseName": "shop",
    "valueFiles": ["values-staging.yaml", "/shared/common.yaml"],
    "values": "replicas: 2\n",
    "valuesObject": {"replicas": 3},
    "parameters": [
        {"name": "image.tag", "value": "1.27"},
        {"name": "version", "value": "1.10", "forceString": True},
    ],
    "ignoreMissingValueFiles": True,
    "skipCrds": True,
    "skipTests": True,
    "namespace": "shop-system",
}


# -- spec.source.helm ------------------------------------------------------------------------------


def test_every_argo_cd_field_parses_and_round_trips_to_the_same_manifest() -> None:
    source = HelmSource.from_manifest(FULL)
    assert source.release_name == "shop"
    assert source.value_files == ("values-staging.yaml", "/shared/common.yaml")
    assert source.parameters == (
        HelmParameter("image.tag", "1.27"),
        HelmParameter("version", "1.10", force_string=True),
    )
    assert (source.ignore_missing_value_files, source.skip_crds, source.skip_tests) == (True, True, True)
    assert source.namespace == "shop-system"
    assert source.to_manifest() == FULL


def test_an_empty_helm_block_is_all_defaults_and_writes_back_empty() -> None:
    source = HelmSource.from_manifest({})
    assert source == HelmSource()
    assert source.to_manifest() == {}


def test_values_object_wins_over_the_values_string_as_in_argo_cd() -> None:
    assert HelmSource(values="a: 1\n").values_yaml() == "a: 1\n"
    assert HelmSource(values="a: 1\n", values_object={"a": 2}).values_yaml() == "a: 2\n"
    assert HelmSource().values_yaml() == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("values.yaml", "spec.source.helm must be a mapping, got str"),
        ({"fileParameters": []}, "spec.source.helm.fileParameters is not supported by labkit's agent"),
        ({"releaseName": 5}, "spec.source.helm.releaseName must be a string, got 5"),
        ({"valueFiles": "values.yaml"}, "spec.source.helm.valueFiles must be a list, got str"),
        ({"valueFiles": [""]}, "spec.source.helm.valueFiles[0] must be a file name"),
        ({"valueFiles": ["https://example.com/v.yaml"]}, "is a URL"),
        ({"valueFiles": ["envs/*.yaml"]}, "is a glob pattern"),
        ({"valuesObject": "a: 1"}, "spec.source.helm.valuesObject must be a mapping, got str"),
        ({"parameters": ["replicas=3"]}, "spec.source.helm.parameters[0] must be a mapping"),
        ({"parameters": [{"value": "3"}]}, "spec.source.helm.parameters[0] has no name"),
        ({"parameters": [{"name": "replicas", "value": 3}]}, "parameters[0].value must be a string, got 3"),
        ({"parameters": [{"name": "a", "valeu": "1"}]}, "parameters[0].valeu is not a parameter field"),
        ({"skipCrds": "yes"}, "spec.source.helm.skipCrds must be true or false, got 'yes'"),
    ],
)
def test_a_wrong_helm_source_names_the_field_at_fault(raw: Any, message: str) -> None:
    with pytest.raises(HelmError) as info:
        HelmSource.from_manifest(raw)
    assert message in info.value.message


def test_the_crd_schema_offers_exactly_the_fields_the_agent_reads() -> None:
    schema = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    helm = schema["properties"]["spec"]["properties"]["source"]["properties"]["helm"]
    assert tuple(helm["properties"]) == FIELDS
    assert helm["properties"]["valuesObject"]["x-kubernetes-preserve-unknown-fields"] is True
    assert helm["x-kubernetes-preserve-unknown-fields"] is True, (
        "unknown fields reach the agent, which says so"
    )


# -- parameters and CLI flags ----------------------------------------------------------------------


def test_a_set_flag_splits_at_the_first_equals_sign() -> None:
    assert HelmParameter.parse("env.URL=http://x?a=b") == HelmParameter("env.URL", "http://x?a=b")
    assert HelmParameter.parse("note=", force_string=True) == HelmParameter("note", "", True)


@pytest.mark.parametrize("text", ["replicas", "=3"])
def test_a_set_flag_without_a_name_is_refused(text: str) -> None:
    with pytest.raises(HelmError, match="is not NAME=VALUE"):
        HelmParameter.parse(text)


def test_commas_in_a_value_are_escaped_unless_it_is_a_helm_list() -> None:
    assert HelmParameter("hosts", "a,b").flag() == ["--set", r"hosts=a\,b"]
    assert HelmParameter("hosts", r"a\,b").flag() == ["--set", r"hosts=a\,b"]
    assert HelmParameter("hosts", "{a,b}").flag() == ["--set", "hosts={a,b}"]
    assert HelmParameter("tag", "1.10", True).flag() == ["--set-string", "tag=1.10"]


def test_cli_flags_become_a_helm_source_and_no_flags_none() -> None:
    assert source_from_flags() is None
    source = source_from_flags(["values-staging.yaml"], ["replicas=3"], ["tag=1.10"], "shop")
    assert source == HelmSource(
        release_name="shop",
        value_files=("values-staging.yaml",),
        parameters=(HelmParameter("replicas", "3"), HelmParameter("tag", "1.10", True)),
    )
    with pytest.raises(HelmError, match="is a URL"):
        source_from_flags(["https://example.com/values.yaml"])


# -- the helm template command ---------------------------------------------------------------------


def test_argv_defaults_release_to_the_app_name_and_namespace_to_the_destination() -> None:
    argv = template_argv("helm", HelmSource(), app="web", dest_namespace="staging")
    assert argv == [
        "helm",
        "template",
        ".",
        "--name-template",
        "web",
        "--namespace",
        "staging",
        "--include-crds",
    ]


def test_argv_puts_flags_in_argo_cds_order_so_later_layers_win() -> None:
    source = HelmSource.from_manifest(FULL)
    argv = template_argv(
        "helm",
        source,
        app="web",
        dest_namespace="staging",
        value_files=["a.yaml", "b.yaml"],
        values_file="/t/v",
    )
    assert argv == [
        "helm",
        "template",
        ".",
        "--name-template",
        "shop",
        "--namespace",
        "shop-system",
        "--set",
        "image.tag=1.27",
        "--set-string",
        "version=1.10",
        "--values",
        "a.yaml",
        "--values",
        "b.yaml",
        "--values",
        "/t/v",
        "--skip-tests",
    ]


def test_set_string_parameters_follow_set_parameters_whatever_their_order() -> None:
    source = HelmSource(parameters=(HelmParameter("a", "1", True), HelmParameter("b", "2")))
    argv = template_argv("helm", source, app="web", dest_namespace="ns")
    assert argv[argv.index("--set") :][:4] == ["--set", "b=2", "--set-string", "a=1"]


# -- value files -----------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "apps" / "shop").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    for name in ("apps/shop/values-staging.yaml", "shared/common.yaml"):
        (tmp_path / name).write_text("a: 1\n")
    return tmp_path


def test_value_files_are_relative_to_the_chart_or_with_a_slash_to_the_repository(repo: Path) -> None:
    source = HelmSource(
        value_files=("values-staging.yaml", "/shared/common.yaml", "../../shared/common.yaml")
    )
    found = resolve_value_files(source, repo / "apps" / "shop", repo)
    assert found == ["values-staging.yaml", "../../shared/common.yaml", "../../shared/common.yaml"]


def test_a_missing_value_file_is_left_for_helm_to_report_unless_ignored(repo: Path) -> None:
    chart = repo / "apps" / "shop"
    assert resolve_value_files(HelmSource(value_files=("nope.yaml",)), chart, repo) == ["nope.yaml"]
    ignored = HelmSource(value_files=("nope.yaml", "values-staging.yaml"), ignore_missing_value_files=True)
    assert resolve_value_files(ignored, chart, repo) == ["values-staging.yaml"]


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/../outside.yaml"])
def test_a_value_file_outside_the_repository_is_refused(repo: Path, name: str) -> None:
    with pytest.raises(HelmError, match="leads outside the repository"):
        resolve_value_files(HelmSource(value_files=(name,)), repo / "apps" / "shop", repo)


# -- running helm ----------------------------------------------------------------------------------

OUTPUT = """\
---
# Source: shop/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
"""


class FakeHelm:
    """Answers like `helm template` would and remembers what it was asked, values file included."""

    def __init__(self, result: Result | None = None, raises: Exception | None = None) -> None:
        self.result = result or Result((), 0, OUTPUT, "")
        self.raises = raises
        self.argv: list[str] = []
        self.kwargs: dict[str, Any] = {}
        self.values_text = ""

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> Result:
        self.argv, self.kwargs = list(argv), kwargs
        if self.raises is not None:
            raise self.raises
        files = [Path(argv[i + 1]) for i, arg in enumerate(argv) if arg == "--values"]
        if files and files[-1].is_absolute():  # the temporary file of values/valuesObject comes last
            self.values_text = files[-1].read_text()
        return self.result


def test_template_runs_helm_in_the_chart_directory_with_a_home_of_its_own(repo: Path) -> None:
    fake = FakeHelm()
    chart = repo / "apps" / "shop"
    rendered = template(
        chart,
        HelmSource(values_object={"replicas": 4}),
        app="shop",
        dest_namespace="staging",
        repo_root=repo,
        helm="/bin/helm",
        runner=fake,
    )
    assert [r.source for r in rendered] == ["shop/templates/configmap.yaml", "shop/templates/deployment.yaml"]
    assert fake.argv[:3] == ["/bin/helm", "template", "."]
    assert fake.kwargs["cwd"] == chart
    env: Mapping[str, str] = fake.kwargs["env"]
    assert set(env) == {"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"}
    assert fake.values_text == "replicas: 4\n"
    assert not Path(fake.argv[-2]).exists(), "the temporary values file is removed afterwards"


def test_a_failing_helm_becomes_a_helm_error_quoting_helm_and_how_to_reproduce_it(repo: Path) -> None:
    stderr = 'Error: template: shop/templates/cm.yaml:6:30: function "nosuch" not defined\n'
    fake = FakeHelm(Result((), 1, "", stderr))
    source = HelmSource(value_files=("values-staging.yaml",), parameters=(HelmParameter("a", "1"),))
    with pytest.raises(HelmError) as info:
        template(
            repo / "apps" / "shop",
            source,
            app="shop",
            dest_namespace="s",
            repo_root=repo,
            shown="apps/shop",
            helm="helm",
            runner=fake,
        )
    assert info.value.message == (
        "helm template failed for 'apps/shop': "
        'Error: template: shop/templates/cm.yaml:6:30: function "nosuch" not defined'
    )
    assert info.value.hint == (
        "reproduce in your clone: helm template apps/shop --values apps/shop/values-staging.yaml --set a=1"
    )


def test_a_helm_that_cannot_start_becomes_a_helm_error(repo: Path) -> None:
    fake = FakeHelm(raises=CommandError(["helm"], 127, "no such file", hint="install 'helm'"))
    with pytest.raises(HelmError, match="helm could not run for"):
        template(repo, HelmSource(), app="a", dest_namespace="a", helm="helm", runner=fake)


def test_split_output_names_each_document_by_its_source_line() -> None:
    parts = split_output(OUTPUT + "---\n# only a comment\n")
    assert [p.source for p in parts] == [
        "shop/templates/configmap.yaml",
        "shop/templates/deployment.yaml",
        "helm output",
    ]
    assert "kind: ConfigMap" in parts[0].text and "kind: Deployment" not in parts[0].text


# -- Helm hooks as Argo CD hooks -------------------------------------------------------------------


def job(**annotations: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "annotations": annotations}}


def mapped(**annotations: str) -> dict[str, str] | None:
    obj = map_hooks(job(**annotations))
    return None if obj is None else obj["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("helm_hook", "phase"),
    [
        ("pre-install", "PreSync"),
        ("pre-upgrade", "PreSync"),
        ("pre-install,pre-upgrade", "PreSync"),
        ("post-install", "PostSync"),
        ("post-upgrade, post-install", "PostSync"),
        ("pre-install,post-install", "PreSync,PostSync"),
        ("pre-install,test", "PreSync"),
    ],
)
def test_install_and_upgrade_hooks_map_to_argo_cd_sync_phases(helm_hook: str, phase: str) -> None:
    assert mapped(**{"helm.sh/hook": helm_hook}) == {
        "helm.sh/hook": helm_hook,
        "argocd.argoproj.io/hook": phase,
    }


@pytest.mark.parametrize("helm_hook", ["test", "test-success", "pre-delete", "post-delete", "pre-rollback"])
def test_hooks_no_sync_runs_are_left_out(helm_hook: str) -> None:
    assert mapped(**{"helm.sh/hook": helm_hook}) is None


def test_a_crd_install_hook_is_an_ordinary_object() -> None:
    assert mapped(**{"helm.sh/hook": "crd-install"}) == {"helm.sh/hook": "crd-install"}


@pytest.mark.parametrize("name", ["argocd.argoproj.io/hook", "labkit.dev/hook"])
def test_an_argo_cd_hook_annotation_or_its_labkit_alias_wins_over_helms(name: str) -> None:
    annotations = {"helm.sh/hook": "test", name: "Sync"}
    assert mapped(**annotations) == annotations


def test_delete_policies_map_and_join_argo_cds() -> None:
    found = mapped(
        **{
            "helm.sh/hook": "pre-install",
            "helm.sh/hook-delete-policy": "before-hook-creation, hook-succeeded,hook-failed,unknown",
            "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
        }
    )
    assert found is not None
    assert found["argocd.argoproj.io/hook-delete-policy"] == "HookSucceeded,BeforeHookCreation,HookFailed"


def test_hook_weight_is_the_sync_wave_unless_the_object_has_one() -> None:
    found = mapped(**{"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-5"})
    assert found is not None and found["argocd.argoproj.io/sync-wave"] == "-5"
    kept = mapped(**{"helm.sh/hook-weight": "3", "argocd.argoproj.io/sync-wave": "1"})
    assert kept is not None and kept["argocd.argoproj.io/sync-wave"] == "1"
    alias = mapped(**{"helm.sh/hook-weight": "3", "labkit.dev/sync-wave": "1"})
    assert alias == {"helm.sh/hook-weight": "3", "labkit.dev/sync-wave": "1"}
    ignored = mapped(**{"helm.sh/hook-weight": "heavy"})
    assert ignored == {"helm.sh/hook-weight": "heavy"}


def test_objects_without_helm_annotations_come_back_untouched() -> None:
    plain = job(**{"argocd.argoproj.io/hook": "PreSync"})
    assert map_hooks(plain) is plain
    bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert map_hooks(bare) is bare


def test_mapping_leaves_the_original_object_unchanged() -> None:
    original = job(**{"helm.sh/hook": "post-install"})
    map_hooks(original)
    assert original["metadata"]["annotations"] == {"helm.sh/hook": "post-install"}
