"""Operations (labkit.gitops.operations): narrow collaborators; they return results, never edit the record."""

from __future__ import annotations

import ast
import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from labkit.events import Timeline
from labkit.gitops.application import AppSpec, application_manifest
from labkit.gitops.autosync import Memory
from labkit.gitops.controller import _take_operation
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


def requested_sync(kube: FakeKube) -> dict[str, Any]:
    obj = app()
    obj["operation"] = {"sync": {"prune": False}, "initiatedBy": {"username": "learner"}}
    kube.apply(obj)
    return obj


def test_a_finished_sync_is_logged_then_written_to_the_status_then_its_operation_cleared(
    tmp_path: Path,
) -> None:
    """The order a kill at any moment relies on (see ``Operations._step``)."""
    kube, scheduled = FakeKube(), []
    obj = requested_sync(kube)
    ops = operations(kube, tmp_path, scheduled)
    seen: list[tuple[str, Any]] = []
    append, patch_status = ops.timeline.append, kube.patch_status

    def log(actor: str, kind: str, **data: Any) -> Any:
        if kind == "sync_finished":
            seen.append(("logged", copy.deepcopy(kube.find("Application", "demo"))))
        return append(actor, kind, **data)

    def write(*args: Any) -> Any:
        seen.append(("written", copy.deepcopy(kube.find("Application", "demo"))))
        return patch_status(*args)

    ops.timeline.append, kube.patch_status = log, write  # type: ignore[method-assign]
    result = ops.act(obj, AppSpec.from_manifest(obj), AppRecord("demo", revision=REV), None)
    assert [step for step, _ in seen] == ["written", "logged", "written"]
    running = seen[1][1]["status"]["operationState"]
    assert (running["phase"], running["startedAt"]) == ("Running", "1970-01-01T00:16:40Z"), (
        "a kill after the log finds a Running operation to resume"
    )
    assert all(app.get("operation") for _, app in seen), "the operation is cleared last"
    final = kube.find("Application", "demo")
    assert final is not None and final.get("operation") is None
    assert [h["revision"] for h in final["status"]["history"]] == [REV]
    assert final["status"]["operationState"]["phase"] == "Succeeded"
    assert result.finished and result.run is not None and result.run.recorded
    [finished] = Timeline(tmp_path / "timeline.jsonl").read(kind="sync_finished")
    assert finished.data["started_at"] == "1970-01-01T00:16:40Z" and finished.data["resumed"] is False


def test_a_result_the_api_server_does_not_take_is_written_again_and_logged_once(tmp_path: Path) -> None:
    kube, scheduled = FakeKube(), []
    obj = requested_sync(kube)
    ops, record = operations(kube, tmp_path, scheduled), AppRecord("demo", revision=REV)
    patch_status = kube.patch_status

    def api_down(*args: Any) -> Any:
        if "history" not in args[-1]:
            return patch_status(*args)  # the Running state went through; the result does not
        raise KubeApiError("the API server is restarting", code=503)

    kube.patch_status = api_down  # type: ignore[method-assign]
    first = ops.act(obj, AppSpec.from_manifest(obj), record, None)
    assert not first.finished and first.run is not None and first.run.done and not first.run.recorded
    assert scheduled[-1] == (2.0, "demo", "record-retry")
    assert kube.find("Application", "demo")["operation"], "still requested"  # type: ignore[index]
    _take_operation(record, first)  # what the controller keeps of it
    assert record.syncing, "a finished run not yet written is still the app's operation"
    kube.patch_status = patch_status  # type: ignore[method-assign]
    again = ops.act(obj, AppSpec.from_manifest(obj), record, None)
    assert again.finished and again.run is first.run and [h["revision"] for h in again.history] == [REV]
    assert len(Timeline(tmp_path / "timeline.jsonl").read(kind="sync_finished")) == 1
    assert kube.find("Application", "demo").get("operation") is None  # type: ignore[union-attr]


def test_a_recorded_result_whose_operation_is_not_cleared_is_kept_and_the_operation_not_run_again(
    tmp_path: Path,
) -> None:
    """The soak's 302-for-303: kube-apiserver went away between the result write and the clear."""
    kube, scheduled = FakeKube(), []
    obj = requested_sync(kube)
    ops, record = operations(kube, tmp_path, scheduled), AppRecord("demo", revision=REV)
    patch = kube.patch

    def api_down(api: str, kind: str, name: str, ns: str, body: dict[str, Any], **kw: Any) -> Any:
        if "operation" in body and body["operation"] is None:
            raise KubeApiError("the API server is restarting", code=503)
        return patch(api, kind, name, ns, body, **kw)

    kube.patch = api_down  # type: ignore[method-assign]
    first = ops.act(obj, AppSpec.from_manifest(obj), record, None)
    assert first.finished and [h["revision"] for h in first.history] == [REV], (
        "the record keeps what it wrote"
    )
    assert scheduled[-1] == (2.0, "demo", "clear-retry")
    _take_operation(record, first)
    assert not record.syncing
    kube.patch = patch  # type: ignore[method-assign]
    again = ops.act(obj, AppSpec.from_manifest(obj), record, None)
    assert again.last_decision == "cleared the operation of a sync already recorded"
    assert again.history == first.history and again.run is first.run
    assert kube.find("Application", "demo").get("operation") is None  # type: ignore[union-attr]
    assert len(Timeline(tmp_path / "timeline.jsonl").read(kind="sync_started")) == 1, "not run again"


def test_the_same_sync_requested_again_after_its_operation_was_cleared_runs_again(tmp_path: Path) -> None:
    """Notebook 06 syncs by hand once per drift: each request is new, though it asks the same."""
    kube, scheduled = FakeKube(), []
    obj = requested_sync(kube)
    ops, record = operations(kube, tmp_path, scheduled), AppRecord("demo", revision=REV)
    _take_operation(record, ops.act(obj, AppSpec.from_manifest(obj), record, None))
    again = requested_sync(kube)
    result = ops.act(again, AppSpec.from_manifest(again), record, None)
    assert result.run is not None and result.run is not record.run and result.finished
    assert len(Timeline(tmp_path / "timeline.jsonl").read(kind="sync_started")) == 2


def test_an_automated_operation_with_no_running_sync_is_left_over_and_cleared(tmp_path: Path) -> None:
    """A restarted controller finds auto-sync's operation but a finished operationState: cleared, not run."""
    kube, scheduled = FakeKube(), []
    obj = app(auto_sync=True)
    obj["operation"] = {
        "sync": {"prune": False},
        "initiatedBy": {"username": "automated sync policy", "automated": True},
    }
    kube.apply(obj)
    history = [{"id": 0, "revision": REV, "deployStartedAt": "1970-01-01T00:16:30Z"}]
    done = {"phase": "Succeeded", "startedAt": "1970-01-01T00:16:30Z", "syncResult": {"revision": REV}}
    record = AppRecord.from_status("demo", {"history": history, "operationState": done})
    record.revision = REV
    result = operations(kube, tmp_path, scheduled).act(obj, AppSpec.from_manifest(obj), record, None)
    assert result.run is None and result.history == history
    assert kube.find("Application", "demo").get("operation") is None  # type: ignore[union-attr]
    assert Timeline(tmp_path / "timeline.jsonl").read(kind="sync_started") == []


def test_a_sync_cut_short_before_its_status_write_is_resumed_under_its_start_time(tmp_path: Path) -> None:
    """Killed between the log and the status write: the next controller finishes the same operation."""
    kube, scheduled = FakeKube(), []
    obj = requested_sync(kube)
    started = "1970-01-01T00:16:30Z"
    status = {"operationState": {"phase": "Running", "startedAt": started, "operation": obj["operation"]}}
    record = AppRecord.from_status("demo", status)
    record.revision = REV  # what the next controller's first refresh finds
    result = operations(kube, tmp_path, scheduled).act(obj, AppSpec.from_manifest(obj), record, None)
    assert result.finished and result.run is not None and result.run.resumed
    assert [(h["revision"], h["deployStartedAt"]) for h in result.history] == [(REV, started)]
    [finished] = Timeline(tmp_path / "timeline.jsonl").read(kind="sync_finished")
    assert (finished.data["started_at"], finished.data["resumed"]) == (started, True)


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


def test_a_resumed_sync_finishes_the_revision_it_began_not_a_newer_one(tmp_path: Path) -> None:
    kube, scheduled = FakeKube(), []
    obj = requested_sync(kube)
    started = "1970-01-01T00:16:30Z"
    running = {"phase": "Running", "startedAt": started, "syncResult": {"revision": REV}}
    record = AppRecord.from_status("demo", {"operationState": running})
    record.revision = "2" * 40  # a commit pushed while the controller was down
    result = operations(kube, tmp_path, scheduled).act(obj, AppSpec.from_manifest(obj), record, None)
    assert result.run is not None and result.run.resumed and result.run.revision == REV
    assert [(h["revision"], h["deployStartedAt"]) for h in result.history] == [(REV, started)]


def test_a_self_heal_writes_its_operation_so_a_restarted_controller_can_resume_it(tmp_path: Path) -> None:
    from labkit.gitops.compare import compare

    kube, scheduled = FakeKube(), []
    obj = app(auto_sync=True, self_heal=True)
    kube.apply(obj)
    record = AppRecord("demo", revision=REV, deployed_revision=REV)
    record.memory = Memory(synced_revision=REV)
    drifted = compare("demo", REV, [CONFIG], [])
    ops = operations(kube, tmp_path, scheduled)
    written: list[Any] = []
    patch = kube.patch

    def spy(api: str, kind: str, name: str, ns: str, body: dict[str, Any], **kw: Any) -> Any:
        if body.get("operation"):
            written.append(body["operation"])
        return patch(api, kind, name, ns, body, **kw)

    kube.patch = spy  # type: ignore[method-assign]
    result = ops.act(obj, AppSpec.from_manifest(obj), record, drifted)
    assert result.run is not None and result.op is not None and result.op.resources
    [operation] = written
    assert operation["initiatedBy"] == {"username": "automated sync policy (self-heal)", "automated": True}
    assert [r["name"] for r in operation["sync"]["resources"]] == ["web-config"], "a selective sync"


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
