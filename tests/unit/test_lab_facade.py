"""Lab.up/attach/teardown with a fake backend: reuse, stale labs, and undoing a failed up.

The controller hooks are switched off here (they start real processes); the real
backends and the controller are exercised in tests/integration.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labkit.cluster import cleanup
from labkit.cluster.base import Check, Progress, venv_bin
from labkit.cluster.labstate import LabRecord, write_record
from labkit.errors import BackendError, LabStateError
from labkit.lab import Lab
from labkit.settings import Settings
from tests.conftest import FakeRunner


@dataclass
class FakeBackend:
    settings: Settings
    name: str = "kwok"
    owns_cluster: bool = True
    alive: bool = True
    fail_with: BaseException | None = None
    calls: list[str] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.settings.state_dir / "kubeconfig"

    @property
    def context(self) -> str:
        return "kwok-labkit"

    def available(self) -> Check:
        return Check(self.name, True, "fake")

    def create(self, progress: Progress) -> None:
        self.calls.append("create")
        (self.settings.state_dir / "kwok").mkdir()
        if self.fail_with is not None:
            raise self.fail_with

    def delete(self) -> None:
        self.calls.append("delete")

    def running(self) -> bool:
        return self.alive


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(Lab, "_start_controller", lambda self, progress: None)
    monkeypatch.setattr(Lab, "_stop_controller", classmethod(lambda cls, state_dir: None))
    monkeypatch.delenv("LABKIT_BACKEND", raising=False)
    return Settings(home=tmp_path / "home")


def use(monkeypatch: pytest.MonkeyPatch, backend: FakeBackend) -> None:
    monkeypatch.setattr("labkit.lab.detect_backend", lambda *a, **k: (backend, [backend.available()]))
    monkeypatch.setattr("labkit.lab.make_backend", lambda *a, **k: backend)


def record(settings: Settings) -> LabRecord:
    settings.state_dir.mkdir(parents=True)
    rec = LabRecord(
        "kwok", str(settings.state_dir / "kubeconfig"), "kwok-labkit", "labkit", "2026-01-01T00:00:00Z"
    )
    write_record(settings.state_dir, rec)
    return rec


@pytest.mark.parametrize("failure", [BackendError("kwokctl failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_first_up_leaves_no_lab_directory(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    backend = FakeBackend(settings, fail_with=failure)
    use(monkeypatch, backend)
    messages: list[str] = []
    with pytest.raises(type(failure)):
        Lab.up(settings, progress=messages.append)
    assert backend.calls == ["create", "delete"]
    assert not settings.state_dir.exists()
    assert any("removing what it created" in m for m in messages)


def test_a_running_lab_is_reused_without_creating_anything(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, fake_runner: FakeRunner
) -> None:
    rec = record(settings)
    backend = FakeBackend(settings)
    use(monkeypatch, backend)
    fake_runner.on("kubectl", "get", "--raw", "/readyz", stdout="ok")
    messages: list[str] = []
    lab = Lab.up(settings, progress=messages.append, runner=fake_runner)
    assert lab.record == rec and backend.calls == []
    assert any("reusing the running kwok lab" in m for m in messages)


def test_a_lab_whose_processes_died_is_cleaned_up_then_created_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(settings)
    backend = FakeBackend(settings, alive=False, fail_with=BackendError("stop here"))
    use(monkeypatch, backend)
    messages: list[str] = []
    with pytest.raises(BackendError):
        Lab.up(settings, progress=messages.append)
    assert backend.calls[:2] == ["delete", "create"]
    assert any("found a stale kwok lab" in m for m in messages)
    assert not (settings.state_dir / "lab.json").exists()


def test_asking_for_another_backend_while_a_lab_is_up_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(settings)
    use(monkeypatch, FakeBackend(settings))
    with pytest.raises(LabStateError) as e:
        Lab.up(settings, backend="kind")
    assert "a kwok lab" in e.value.message and "labkit down" in e.value.hint


def test_attach_without_a_lab_says_how_to_start_one(settings: Settings) -> None:
    with pytest.raises(LabStateError) as e:
        Lab.attach(settings)
    assert "no lab is running" in e.value.message and e.value.hint == "labkit up"


def test_attach_to_a_stale_lab_says_up_recreates_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(settings)
    use(monkeypatch, FakeBackend(settings, alive=False))
    with pytest.raises(LabStateError) as e:
        Lab.attach(settings)
    assert "not running any more" in e.value.message


def test_the_lab_environment_points_kubectl_and_labkit_at_the_lab(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(settings)
    use(monkeypatch, FakeBackend(settings))
    env = Lab.attach(settings).env()
    assert env["KUBECONFIG"] == str(settings.state_dir / "kubeconfig")
    assert env["PATH"].split(os.pathsep)[0] == str(venv_bin())
    assert (env["LABKIT_HOME"], env["LABKIT_LAB"]) == (str(settings.home), "default")


def test_teardown_with_nothing_up_says_so(settings: Settings) -> None:
    messages: list[str] = []
    assert Lab.teardown(settings, progress=messages.append) is False
    assert messages == [f"nothing to do: no lab in {settings.state_dir}"]


def test_teardown_removes_the_lab_directory_and_the_cluster(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(settings)
    backend = FakeBackend(settings)
    use(monkeypatch, backend)
    assert Lab.teardown(settings, progress=lambda m: None) is True
    assert backend.calls == ["delete"] and not settings.state_dir.exists()


NAMESPACES = {
    "items": [
        {"metadata": {"name": "default"}},
        {"metadata": {"name": "labkit", "labels": cleanup.MANAGED_BY}},
        {"metadata": {"name": "learner"}},
        {
            "metadata": {
                "name": "synced",
                "annotations": {"labkit.dev/tracking-id": "demo:/Namespace:/synced"},
            }
        },
    ]
}


def test_on_its_own_cluster_the_lab_deletes_every_namespace_it_did_not_start_with(
    fake_runner: FakeRunner, tmp_path: Path
) -> None:
    fake_runner.on("kubectl", "get", "namespaces", stdout=json.dumps(NAMESPACES))
    names = cleanup.lab_namespaces(fake_runner, tmp_path, "c", keep={"default", "labkit"}, owned_cluster=True)
    assert names == ["learner", "synced"]


def test_on_a_borrowed_cluster_only_namespaces_labkit_marked_are_deleted(
    fake_runner: FakeRunner, tmp_path: Path
) -> None:
    fake_runner.on("kubectl", "get", "namespaces", stdout=json.dumps(NAMESPACES))
    names = cleanup.lab_namespaces(fake_runner, tmp_path, "c", keep={"default"}, owned_cluster=False)
    assert names == ["labkit", "synced"]


def test_deleting_namespaces_force_deletes_their_pods_and_waits(
    fake_runner: FakeRunner, tmp_path: Path
) -> None:
    fake_runner.on(
        "kubectl", "get", "namespaces", stdout=json.dumps({"items": [{"metadata": {"name": "default"}}]})
    )
    cleanup.delete_namespaces(fake_runner, tmp_path, "c", ["a", "b"], sleep=lambda s: None)
    delete = fake_runner.commands("delete", "namespaces")[0]
    assert delete[-3:] == ["a", "b", "--wait=false"]
    forced = fake_runner.commands("delete", "pods")
    assert [argv[argv.index("-n") + 1] for argv in forced] == ["a", "b"]
    assert all("--grace-period=0" in argv and "--force" in argv for argv in forced)
