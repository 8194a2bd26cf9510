"""labkit.yamledit: in-place edits of one Deployment field in YAML text, with the rest kept as written."""

from __future__ import annotations

import pytest
import yaml

from labkit.errors import GitError, LabkitError
from labkit.settings import PROJECT_ROOT
from labkit.yamledit import YamlEditError, find_deployment, with_image, with_replicas

DEMO = (PROJECT_ROOT / "repos" / "starter" / "apps" / "demo" / "deployment.yaml").read_text()
MULTI = (
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n---\n"
    "# the api server\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n"
    "spec:\n  # no replicas: the default is 1\n  selector:\n    matchLabels: {app: api}\n"
)
TWO_CONTAINERS = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n"
    '      containers:\n        - name: api\n          image: "api:1"\n'
    "        - name: proxy\n          image: envoy:1.30  # sidecar\n"
)


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]


def images(text: str) -> list[str]:
    doc = yaml.safe_load(text)
    return [c["image"] for c in doc["spec"]["template"]["spec"]["containers"]]


# -- find_deployment ------------------------------------------------------------------------------


def test_find_deployment_returns_the_document_of_that_deployment_in_a_multi_document_file() -> None:
    node = find_deployment(MULTI, "api")
    assert isinstance(node, yaml.MappingNode)
    assert MULTI[node.start_mark.index :].startswith("apiVersion: apps/v1\nkind: Deployment")


@pytest.mark.parametrize(
    "text",
    [MULTI.replace("kind: Deployment", "kind: StatefulSet"), "kind: Deployment\n  bad: [", "", "- a\n- b\n"],
    ids=["other-kind", "invalid-yaml", "empty", "not-a-mapping"],
)
def test_find_deployment_is_none_when_there_is_no_such_deployment(text: str) -> None:
    assert find_deployment(text, "api") is None
    assert find_deployment(MULTI, "web") is None


# -- with_replicas --------------------------------------------------------------------------------


def test_with_replicas_changes_only_the_replicas_line() -> None:
    assert changed_lines(DEMO, with_replicas(DEMO, "web", 5)) == [("  replicas: 2", "  replicas: 5")]


def test_with_replicas_returns_the_text_unchanged_when_the_count_is_already_set() -> None:
    assert with_replicas(DEMO, "web", 2) == DEMO


def test_with_replicas_adds_the_field_as_the_first_spec_key_keeping_comments_and_other_documents() -> None:
    new = with_replicas(MULTI, "api", 3)
    service, deployment = yaml.safe_load_all(new)
    assert deployment["spec"] == {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}}
    assert service == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}}
    assert "  # no replicas: the default is 1\n  replicas: 3\n  selector:\n" in new


@pytest.mark.parametrize(
    "spec",
    ["spec: {selector: {}}\n", "spec: {}\n", "spec: []\n", ""],
    ids=["flow-style", "empty", "not-a-mapping", "missing"],
)
def test_with_replicas_refuses_a_spec_it_cannot_insert_into(spec: str) -> None:
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n" + spec
    with pytest.raises(YamlEditError, match="cannot find where to put replicas in Deployment 'api'") as e:
        with_replicas(text, "api", 3)
    assert e.value.hint == "edit the file by hand"


# -- with_image -----------------------------------------------------------------------------------


def test_with_image_changes_only_the_image_of_the_only_container() -> None:
    new = with_image(DEMO, "web", "nginx:1.28")
    assert changed_lines(DEMO, new) == [("          image: nginx:1.27", "          image: nginx:1.28")]


def test_with_image_picks_the_named_container_and_keeps_its_comment() -> None:
    new = with_image(TWO_CONTAINERS, "api", "envoy:1.31", container="proxy")
    assert images(new) == ["api:1", "envoy:1.31"]
    assert "image: envoy:1.31  # sidecar" in new


def test_with_image_without_a_container_name_picks_the_container_named_like_the_deployment() -> None:
    new = with_image(TWO_CONTAINERS, "api", "api:2")
    assert images(new) == ["api:2", "envoy:1.30"]
    assert "image: api:2\n" in new


@pytest.mark.parametrize("image", ["yes", "1.30", "null", "a: b", "[x]", "two\nlines"])
def test_with_image_quotes_what_yaml_would_read_back_as_something_else(image: str) -> None:
    new = with_image(TWO_CONTAINERS, "api", image, container="proxy")
    assert images(new) == ["api:1", image]
    assert "# sidecar" in new


def test_with_image_lists_the_containers_when_the_name_is_wrong() -> None:
    with pytest.raises(
        YamlEditError, match=r"no container 'sidecar' with an image \(containers: api, proxy\)"
    ):
        with_image(TWO_CONTAINERS, "api", "x:1", container="sidecar")


def test_with_image_refuses_a_deployment_it_cannot_find() -> None:
    with pytest.raises(YamlEditError, match="Deployment 'web' has no container 'web'"):
        with_image(MULTI, "web", "x:1")


def test_edit_errors_are_labkit_errors_but_not_git_errors_since_no_git_is_involved() -> None:
    assert issubclass(YamlEditError, LabkitError) and not issubclass(YamlEditError, GitError)
