"""Operations (labkit.gitops.operations): narrow collaborators; they return results, never edit the record."""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labkit.events import Timeline
from labkit.gitops.application import AppSpec, application_manifest
from labkit.gitops.autosync import Memory
from labkit.gitops.livecache import LiveCache
from labkit.gitops.operations import Operations
from labkit.gitops.record import AppRecord
from labkit.gitops.types import OperationPhase
from labkit.kube import KubeApiError
from labkit.settings import ControllerSettings
from tests.conftest import FakeKube, FakeSource

REV = "1" * 40
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config"}, "data": {"k": "v"}}
GITOPS = Path(__file__).parents[2] / "labkit" / "gitops"


def operations(kube: FakeKube, tmp_path: Path, scheduled: list[tuple[float, str, str]]) -> Operations:
    live = LiveCache(kube, lambda *_: None)  # type: ignore[arg-type]
    return Operations(
        kube,  # type: ignore[arg-type]
        FakeSource({REV: [CONFIG]}, REV),  # type: ignore[arg-type]
        live,
        Timeline(tmp_path / "timeline.jsonl"),
        ControllerSettings(),
        lambda delay, app, reason: scheduled.append((delay, app, reason)),
        clock=lambda: 1000.0,
    )


def app(**options: Any) -> dict[str, Any]:
    obj = application_manifest("demo", "file:///repo.git", "apps/demo", "demo", **options)
    obj["metadata"]["resourceVersion"] = "1"
    return obj


def test_a_requested_sync_returns_its_result_and_leaves_the_record_alone(tmp_path: Path) -> None:
    kube, scheduled = FakeKube(), []
    obj = app()
    obj["operation"] = {"sync": {"prune": False}, "initiatedBy": {"username": "learner"}}
    kube.apply(obj)
    record = AppRecord("demo", revision=REV)
    result = operations(kube, tmp_path, scheduled).act(obj, AppSpec.from_manifest(obj), record, None)
    assert result.finished and result.run is not None and result.run.phase is OperationPhase.Succeeded
    assert [h["revision"] for h in result.history] == [REV] and result.deployed_revision == REV
    assert (record.history, record.run, record.deployed_revision) == ([], None, None), (
        "the record is untouched"
    )
    assert scheduled == [(0.0, "demo", "synced")]


def test_a_finished_sync_writes_its_history_to_the_status_before_it_logs_or_clears_the_operation(
    tmp_path: Path,
) -> None:
    """Killed right after ``sync_finished`` was logged, the controller must not lose the entry."""
    kube, scheduled = FakeKube(), []
    obj = app()
    obj["operation"] = {"sync": {"prune": False}, "initiatedBy": {"username": "learner"}}
    kube.apply(obj)
    ops = operations(kube, tmp_path, scheduled)
    logged_with: list[Any] = []
    append = ops.timeline.append

    def spy(actor: str, kind: str, **data: Any) -> Any:
        if kind == "sync_finished":
            logged_with.append(copy.deepcopy(kube.find("Application", "demo")))
        return append(actor, kind, **data)

    ops.timeline.append = spy  # type: ignore[method-assign]
    ops.act(obj, AppSpec.from_manifest(obj), AppRecord("demo", revision=REV), None)
    [seen] = logged_with
    assert [h["revision"] for h in seen["status"]["history"]] == [REV]
    assert seen["status"]["operationState"]["phase"] == "Succeeded"
    assert seen.get("operation"), "the operation is cleared only after the result is persisted"
    assert kube.find("Application", "demo").get("operation") is None  # type: ignore[union-attr]
    [finished] = Timeline(tmp_path / "timeline.jsonl").read(kind="sync_finished")
    assert finished.data["started_at"] == "1970-01-01T00:16:40Z" and finished.data["resumed"] is False


def test_a_result_that_cannot_be_persisted_is_neither_logged_nor_cleared(tmp_path: Path) -> None:
    kube, scheduled = FakeKube(), []
    obj = app()
    obj["operation"] = {"sync": {"prune": False}, "initiatedBy": {"username": "learner"}}
    kube.apply(obj)

    def api_down(*args: Any) -> Any:
        raise KubeApiError("the API server is restarting", code=503)

    kube.patch_status = api_down  # type: ignore[method-assign]
    with pytest.raises(KubeApiError):
        operations(kube, tmp_path, scheduled).act(
            obj, AppSpec.from_manifest(obj), AppRecord("demo", revision=REV), None
        )
    assert Timeline(tmp_path / "timeline.jsonl").read(kind="sync_finished") == []
    assert kube.find("Application", "demo")["operation"], "still requested: the next reconcile syncs again"  # type: ignore[index]


def test_a_self_heal_in_backoff_schedules_the_next_look_instead_of_syncing(tmp_path: Path) -> None:
    from labkit.gitops.compare import compare

    kube, scheduled = FakeKube(), []
    obj = app(auto_sync=True, self_heal=True)
    kube.apply(obj)
    record = AppRecord("demo", revision=REV, deployed_revision=REV)
    record.memory = replace(Memory(synced_revision=REV), heal_attempts=1, last_heal_at=999.0)
    drifted = compare("demo", REV, [CONFIG], [])
    result = operations(kube, tmp_path, scheduled).act(obj, AppSpec.from_manifest(obj), record, drifted)
    assert result.run is None and result.last_decision == "self-heal backoff: next attempt in 1.0 s"
    assert scheduled == [(1.0, "demo", "backoff")]
    assert kube.calls == [("apply", "Application", "demo")], "nothing but the test's own write"


def _imports(path: Path) -> set[str]:
    """The labkit.gitops modules ``path`` imports at run time (``if TYPE_CHECKING:`` blocks included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "labkit.gitops":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("labkit.gitops."):
                found.add(node.module.removeprefix("labkit.gitops."))
    return found


def test_the_gitops_package_has_no_import_cycle_and_operations_does_not_import_the_controller() -> None:
    graph = {p.stem: _imports(p) for p in GITOPS.glob("*.py")}
    assert "controller" not in graph["operations"]

    def visit(module: str, path: tuple[str, ...]) -> None:
        for imported in graph.get(module, ()):
            assert imported not in path, f"import cycle: {' -> '.join((*path, imported))}"
            visit(imported, (*path, imported))

    for module in graph:
        visit(module, (module,))
