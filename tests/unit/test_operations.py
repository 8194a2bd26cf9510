"""Operations (labkit.gitops.operations): narrow collaborators; they return results, never edit the record."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

from labkit.events import Timeline
from labkit.gitops.application import AppSpec, application_manifest
from labkit.gitops.autosync import Memory
from labkit.gitops.livecache import LiveCache
from labkit.gitops.operations import Operations
from labkit.gitops.record import AppRecord
from labkit.gitops.types import OperationPhase
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
