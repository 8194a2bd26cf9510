"""`labkit app get` / `labkit app list` print tables that stay aligned whatever the names' lengths."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from labkit.cli import app_cmds
from labkit.gitops.application import application_manifest
from labkit.gitops.heartbeat import AgentState

LONG = "a-deployment-name-much-longer-than-twenty-characters"


class Apps:
    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj

    def get(self, name: str) -> dict[str, Any]:
        return self.obj

    def agent(self) -> AgentState:
        return AgentState(True, "host/1", 0.0, 1.0, "heartbeat 1 s ago")


def app_with_resources() -> dict[str, Any]:
    obj = application_manifest("demo", "file:///r.git", "apps/demo", "a-long-destination-namespace")
    obj["status"] = {
        "sync": {"status": "Synced", "revision": "c" * 40},
        "health": {"status": "Healthy"},
        "resources": [
            {
                "kind": "Deployment",
                "namespace": "a-long-destination-namespace",
                "name": LONG,
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
            {"kind": "ConfigMap", "namespace": "demo", "name": "cm", "status": "OutOfSync"},
        ],
    }
    return obj


def test_app_get_keeps_its_resource_table_aligned_for_long_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_cmds, "_client", lambda: Apps(app_with_resources()))
    result = CliRunner().invoke(app_cmds.app, ["get", "demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("KIND"))) :]
    assert [line.split() for line in table] == [
        ["KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"],
        ["Deployment", "a-long-destination-namespace", LONG, "Synced", "Healthy"],
        ["ConfigMap", "demo", "cm", "OutOfSync"],
    ]
    starts = {line.index("Synced") for line in table[1:2]} | {
        table[0].index("STATUS"),
        table[2].index("OutOfSync"),
    }
    assert len(starts) == 1, f"the STATUS column starts at one place:\n{result.output}"


def test_a_table_has_no_trailing_spaces_and_two_spaces_between_columns() -> None:
    text = app_cmds._table(["A", "BB"], [["xxx", "y"], ["z", ""]])
    assert text.splitlines() == ["A    BB", "xxx  y", "z"]
