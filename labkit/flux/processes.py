"""How Flux's two controllers run out of cluster, as their own main.go lets them.

controller-runtime reads ``KUBECONFIG`` (a copy of the lab's, current context
set); ``RUNTIME_NAMESPACE=flux-system`` stands in for the Pod's namespace;
``--watch-all-namespaces`` and no leader election are Flux's defaults, passed
explicitly so the command line says so. Every listener gets 127.0.0.1 and a
port from :mod:`labkit.ports` (Flux's defaults, ``:8080``, ``:9440`` and
``:9090``, would bind all interfaces and collide). source-controller keeps its
artifacts (tarballs of each fetched revision) in ``<state_dir>/flux/storage``
and serves them on ``--storage-addr``; ``--storage-adv-addr`` is the address it
writes into each artifact URL, which kustomize-controller then downloads
(``SOURCE_CONTROLLER_LOCALHOST`` says the same from kustomize-controller's
side). Each gets a private ``TMPDIR`` and a ``PATH`` of the system's
directories only: they run no lab tool. Called by
:class:`labkit.flux.engine.Flux`, which hands these
:class:`~labkit.supervisor.Program` objects to the lab's supervisor.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from labkit import ports
from labkit.cluster.base import write_private
from labkit.flux.install import NAMESPACE
from labkit.supervisor import Program

NAMES = ("source-controller", "kustomize-controller")
"""The supervisor's names for Flux's processes (their Deployment names in a real install), in start order."""
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
LOOPBACK = "127.0.0.1"


def home(state_dir: Path) -> Path:
    """Flux's private files in the lab: kubeconfig, artifact storage, TMPDIR, logs."""
    return state_dir / "flux"


def write_kubeconfig(state_dir: Path, kubeconfig: Path, context: str) -> Path:
    """A copy of the lab's kubeconfig whose current context is the lab's (0600)."""
    config = yaml.safe_load(kubeconfig.read_text())
    config["current-context"] = context
    path = home(state_dir) / "kubeconfig"
    write_private(path, yaml.safe_dump(config))
    return path


def address(state_dir: Path, name: str) -> str:
    """``127.0.0.1:PORT`` of one of Flux's listeners, e.g. "source-controller-health"."""
    return f"{LOOPBACK}:{ports.port(state_dir, f'flux-{name}')}"


def storage_address(state_dir: Path) -> str:
    """Where source-controller serves artifacts (and what it writes into their URLs)."""
    return address(state_dir, "source-controller-storage")


def health_addresses(state_dir: Path) -> dict[str, str]:
    """Each controller's health listener (``/readyz``, ``/healthz``)."""
    return {name: address(state_dir, f"{name}-health") for name in NAMES}


def programs(state_dir: Path, binaries: Mapping[str, Path]) -> list[Program]:
    """source-controller, then kustomize-controller, wired to each other on loopback."""
    h = home(state_dir)
    for sub in ("storage", "tmp", "logs"):
        (h / sub).mkdir(parents=True, exist_ok=True)
    storage = storage_address(state_dir)
    env = {
        "KUBECONFIG": str(h / "kubeconfig"),
        "RUNTIME_NAMESPACE": NAMESPACE,
        "TMPDIR": str(h / "tmp"),
        "PATH": SYSTEM_PATH,
    }

    def controller(name: str, *args: str, extra_env: Mapping[str, str] | None = None) -> Program:
        argv = (
            str(binaries[name]),
            "--watch-all-namespaces=true",
            "--enable-leader-election=false",
            f"--metrics-addr={address(state_dir, f'{name}-metrics')}",
            f"--health-addr={health_addresses(state_dir)[name]}",
            *args,
        )
        return Program(
            name, argv, str(h / "logs" / f"{name}.log"), env={**env, **(extra_env or {})}, cwd=str(h)
        )

    return [
        controller(
            "source-controller",
            f"--storage-path={h / 'storage'}",
            f"--storage-addr={storage}",
            f"--storage-adv-addr={storage}",
        ),
        controller("kustomize-controller", extra_env={"SOURCE_CONTROLLER_LOCALHOST": storage}),
    ]
