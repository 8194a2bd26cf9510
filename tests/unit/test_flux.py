"""The real Flux's pure parts: the controllers' command lines and environment, the ``flux get``
table from YAML fixtures, the reconcile request, the status record and the toolchain component.

Nothing here starts a controller or talks to a cluster; tests/integration/test_flux.py does.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from labkit import ports
from labkit.cluster import components as comp
from labkit.cluster import toolchain
from labkit.errors import ToolchainError
from labkit.flux import Flux, objects, processes
from labkit.settings import PROJECT_ROOT, Settings
from tests.unit.test_toolchain import FakeGoBuild, go_runner, with_go

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flux"
BINARIES = {"source-controller": Path("/c/source-controller"), "kustomize-controller": Path("/c/kc")}


def fixture(name: str) -> dict:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())


def flag(argv: tuple[str, ...], name: str) -> str:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} given {len(values)} times in {argv}"
    return values[0]


# -- processes ------------------------------------------------------------------------------------


def test_every_listener_is_on_loopback_with_its_own_lab_port(tmp_path: Path) -> None:
    source, kustomize = processes.programs(tmp_path, BINARIES)
    addresses = [
        flag(source.argv, "metrics-addr"),
        flag(source.argv, "health-addr"),
        flag(source.argv, "storage-addr"),
        flag(kustomize.argv, "metrics-addr"),
        flag(kustomize.argv, "health-addr"),
    ]
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", a) for a in addresses), addresses
    assert len(set(addresses)) == 5, "no two listeners share a port"
    assert set(addresses) == {f"127.0.0.1:{p}" for p in ports.ports(tmp_path).values()}
    assert processes.programs(tmp_path, BINARIES) == [source, kustomize], "the same ports on every up"


def test_source_controller_advertises_the_storage_address_kustomize_controller_downloads_from(
    tmp_path: Path,
) -> None:
    source, kustomize = processes.programs(tmp_path, BINARIES)
    storage = flag(source.argv, "storage-addr")
    assert flag(source.argv, "storage-adv-addr") == storage
    assert kustomize.env["SOURCE_CONTROLLER_LOCALHOST"] == storage
    assert flag(source.argv, "storage-path") == str(tmp_path / "flux" / "storage")
    assert (tmp_path / "flux" / "storage").is_dir()
    assert not any(a.startswith("--storage") for a in kustomize.argv)


def test_controllers_run_out_of_cluster_in_flux_system_watching_all_namespaces(tmp_path: Path) -> None:
    for program, binary in zip(processes.programs(tmp_path, BINARIES), BINARIES.values(), strict=True):
        assert program.argv[0] == str(binary)
        assert flag(program.argv, "watch-all-namespaces") == "true"
        assert flag(program.argv, "enable-leader-election") == "false"
        assert program.env["KUBECONFIG"] == str(tmp_path / "flux" / "kubeconfig")
        assert program.env["RUNTIME_NAMESPACE"] == "flux-system"
        assert program.env["TMPDIR"] == str(tmp_path / "flux" / "tmp")
        assert program.env["PATH"] == processes.SYSTEM_PATH
        assert program.log == str(tmp_path / "flux" / "logs" / f"{program.name}.log")
    assert [p.name for p in processes.programs(tmp_path, BINARIES)] == list(processes.NAMES)


def test_the_controllers_kubeconfig_is_a_private_copy_on_the_labs_context(tmp_path: Path) -> None:
    lab_config = tmp_path / "kubeconfig"
    lab_config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "current-context": "someone-else",
                "contexts": [{"name": "kwok-lab", "context": {"cluster": "kwok-lab"}}],
            }
        )
    )
    path = processes.write_kubeconfig(tmp_path, lab_config, "kwok-lab")
    assert yaml.safe_load(path.read_text())["current-context"] == "kwok-lab"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- flux get -------------------------------------------------------------------------------------


def test_rows_show_what_flux_get_shows_with_the_ready_reason() -> None:
    found = objects.rows(
        fixture(n)
        for n in (
            "kustomization-ready",
            "gitrepository-failed",
            "kustomization-wrong-path",
            "gitrepository-ready",
        )
    )
    assert [(r.kind, r.namespace, r.name) for r in found] == [
        ("GitRepository", "flux-system", "lab"),
        ("GitRepository", "team-a", "typo"),
        ("Kustomization", "flux-system", "demo"),
        ("Kustomization", "flux-system", "nope"),
    ]
    lab, typo, demo, nope = found
    assert (lab.ready, lab.reason, lab.suspended) == ("True", "Succeeded", False)
    assert lab.revision == "main@sha1:4f1c2e0b9a7d6c5b4a39281706f5e4d3c2b1a098"
    assert (typo.ready, typo.reason, typo.suspended, typo.revision) == (
        "False",
        "GitOperationFailed",
        True,
        "",
    )
    assert demo.revision == lab.revision, "a Kustomization's revision is the last one it applied"
    assert (nope.ready, nope.reason) == ("False", "ArtifactFailed")
    assert nope.message.startswith("kustomization path not found")


def test_an_object_not_yet_reconciled_reads_as_the_flux_cli_says() -> None:
    fresh = objects.row(fixture("kustomization-new"))
    assert (fresh.ready, fresh.reason, fresh.message, fresh.revision) == (
        "False",
        "",
        "waiting to be reconciled",
        "",
    )


def test_the_table_shortens_shas_like_the_flux_cli() -> None:
    header, lab = objects.table([objects.row(fixture("gitrepository-ready"))])
    assert header == ["NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    assert lab == [
        "flux-system",
        "gitrepository/lab",
        "main@sha1:4f1c2e0b",
        "False",
        "True",
        "stored artifact for revision 'main@sha1:4f1c2e0b'",
    ]


def test_kind_names_the_flux_cli_uses_are_accepted_and_others_refused() -> None:
    git = (objects.SOURCE_API, "GitRepository")
    assert (
        objects.kind_of("gitrepository")
        == objects.kind_of("source git")
        == objects.kind_of("GitRepository")
        == git
    )
    assert objects.kind_of("ks") == (objects.KUSTOMIZE_API, "Kustomization")
    with pytest.raises(ValueError, match="known: gitrepository, kustomization"):
        objects.kind_of("helmrelease")


# -- flux reconcile -------------------------------------------------------------------------------


def test_a_reconcile_request_is_the_annotation_the_controller_answers_in_its_status() -> None:
    token = objects.request_token(datetime(2026, 7, 1, 10, 0, 0, 123456, tzinfo=UTC))
    assert token == "2026-07-01T10:00:00.123456Z"
    assert objects.request_patch(token) == {"metadata": {"annotations": {objects.REQUESTED_AT: token}}}
    assert objects.REQUESTED_AT == "reconcile.fluxcd.io/requestedAt"
    ready = fixture("gitrepository-ready")
    assert objects.handled(ready, token)
    assert not objects.handled(ready, "2026-07-01T10:00:01.000000Z"), "an older request's answer is not ours"
    assert not objects.handled(fixture("kustomization-new"), token)
    assert not objects.handled(None, token)


def test_a_request_counts_as_handled_only_after_a_full_reconcile() -> None:
    token = "2026-07-01T10:00:00.123456Z"
    finalizer_pass = fixture("kustomization-new")  # the first pass only adds the finalizer
    finalizer_pass["status"] = {"lastHandledReconcileAt": token}
    assert not objects.handled(finalizer_pass, token)
    reconciling = fixture("gitrepository-ready")
    reconciling["status"]["conditions"][0].update(status="Unknown", reason="Progressing")
    assert not objects.handled(reconciling, token)
    new_spec = fixture("gitrepository-ready")
    new_spec["metadata"]["generation"] = 2
    assert not objects.handled(new_spec, token), "a spec change not yet observed"
    failed = fixture("kustomization-wrong-path")
    failed["status"]["lastHandledReconcileAt"] = token
    assert objects.handled(failed, token), "Ready=False is a finished reconcile too"


def test_success_messages_are_the_flux_clis() -> None:
    assert objects.success_message(objects.row(fixture("gitrepository-ready"))).startswith(
        "fetched revision main@"
    )
    assert objects.success_message(objects.row(fixture("kustomization-ready"))).startswith(
        "applied revision main@"
    )


def test_teardown_deletes_appliers_before_their_sources() -> None:
    kinds = [k for _, k in objects.ALL_KINDS]
    assert kinds[0] == "Kustomization" and "GitRepository" in kinds[1:]


# -- status and the toolchain ------------------------------------------------------------------


def test_status_is_none_until_up_then_version_and_pids(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lab="f")
    flux = Flux(settings, tmp_path / "kubeconfig", "ctx")
    assert flux.status() is None and not flux.enabled
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "flux.json").write_text(
        json.dumps({"version": "v1.9.6", "namespace": "flux-system"})
    )
    supervisor_dir = settings.state_dir / "supervisor"
    supervisor_dir.mkdir()
    programs = {"source-controller": {"pid": 101, "state": "running"}}
    (supervisor_dir / "status.json").write_text(json.dumps({"pid": None, "programs": programs}))
    assert flux.status() == {
        "version": "v1.9.6",
        "namespace": "flux-system",
        "pids": {"source-controller": 101, "kustomize-controller": None},
        "states": {"source-controller": "running", "kustomize-controller": "not registered"},
    }


def test_flux_is_built_only_when_asked_for_both_controllers_from_one_wrapper(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", cache=tmp_path / "cache", allow_download=False)
    build = FakeGoBuild()
    defaults = {
        "progress": lambda m: None,
        "env": {},
        "runner": go_runner,
        "which": with_go,
        "step_runner": build,
    }
    assert "source-controller" not in toolchain.ensure(settings, **defaults).paths
    with pytest.raises(ToolchainError) as e:
        toolchain.tool_path("kustomize-controller", settings)
    assert e.value.hint == "run: labkit toolchain ensure --with flux"
    tools = toolchain.ensure(settings, groups=("flux",), **defaults)
    argv, env = build.calls[-1]
    assert argv[-2:] == ["github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"]
    assert "GOTOOLCHAIN" not in env and env["CGO_ENABLED"] == "0"
    for name in processes.NAMES:
        assert os.access(tools.path(name), os.X_OK)
        assert tools.path(name).parent.name == f"flux-{settings.versions.flux}"
    assert "flux" not in comp.DEFAULT_GROUPS


def test_the_wrapper_module_pins_both_controllers_and_the_served_artifact_module() -> None:
    go_mod = (PROJECT_ROOT / "toolchain" / "flux" / "go.mod").read_text()
    version = Settings().versions.flux
    for module in ("github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"):
        assert re.search(rf"^\s*{re.escape(module)} {re.escape(version)}( // indirect)?$", go_mod, re.M), (
            module
        )
    assert "github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.0" in go_mod
    assert "=> ./api" not in go_mod
