"""`labkit app ...` against the real lab: the CLI writes to the Application, the controller acts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from labkit.cli import main
from tests.integration.apphelpers import configmap, dump, eventually, new_name

pytestmark = pytest.mark.cluster


def labkit(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def app_name(lab: Any) -> Iterator[str]:
    name = new_name("cli")
    lab.repo.commit_and_push("cli app", {f"apps/{name}/cm.yaml": dump(configmap("from-git", color="blue"))})
    yield name
    CliRunner().invoke(main, ["app", "delete", name, "--cascade"])
    eventually(lambda: name not in labkit("app", "list"), 30, "app deleted")
    with lab.kube() as kube:
        kube.delete("v1", "Namespace", name, None)


def test_create_sync_get_and_list_through_the_cli(lab: Any, app_name: str) -> None:
    labkit("app", "create", app_name, "--path", f"apps/{app_name}")
    eventually(lambda: "OutOfSync" in labkit("app", "get", app_name), 20, "OutOfSync")
    out = labkit("app", "sync", app_name, "--wait")
    assert "Succeeded" in out
    assert "Synced" in labkit("app", "get", app_name)
    row = next(line for line in labkit("app", "list").splitlines() if line.startswith(app_name))
    assert "Synced" in row and "Healthy" in row
    status = json.loads(labkit("app", "get", app_name, "--json"))["status"]
    assert status["history"][0]["id"] == 0


def test_diff_shows_the_declared_field_a_kubectl_edit_changed(lab: Any, app_name: str) -> None:
    labkit("app", "create", app_name, "--path", f"apps/{app_name}")
    labkit("app", "sync", app_name, "--wait")
    lab.kubectl(
        "-n",
        app_name,
        "patch",
        "configmap",
        "from-git",
        "--type",
        "merge",
        "-p",
        '{"data":{"color":"red"}}',
        echo=False,
    )
    eventually(lambda: "OutOfSync" in labkit("app", "get", app_name), 20, "drift seen")
    out = labkit("app", "diff", app_name)
    assert "-  color: red" in out and "+  color: blue" in out


def test_rollback_is_refused_while_auto_sync_is_on(lab: Any, app_name: str) -> None:
    labkit("app", "create", app_name, "--path", f"apps/{app_name}", "--auto-sync")
    eventually(lambda: "Synced" in labkit("app", "get", app_name), 20, "Synced")
    result = CliRunner().invoke(main, ["app", "rollback", app_name, "0"])
    assert result.exit_code == 1
    assert "rollback cannot be initiated when auto-sync is enabled" in result.output
