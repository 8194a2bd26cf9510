"""What the lab's binaries are made of: components, their binaries and cache entries.

A *component* is one pinned Go module that yields one or more binaries
(Kubernetes -> kube-apiserver, kube-controller-manager, kube-scheduler; etcd;
kwok -> kwok, kwokctl; helm; kustomize; Argo CD's one multi-call ``argocd``;
Flux -> source-controller, kustomize-controller).
Components come in *groups*: ``control-plane`` and ``tools`` are built for
every lab; ``argocd`` and ``flux`` only on first use (``labkit up --with argocd``, ``--with flux``).
Each component has one cache directory,
``<cache>/bin/<component>-<version>/``, that holds its binaries and, written
last, a manifest ``labkit-toolchain.json`` with the sha256 of every file.
An entry without a manifest, or whose files do not match it, is not complete.

Used by :mod:`labkit.cluster.toolchain`, :mod:`labkit.cluster.gobuild` and
:mod:`labkit.cluster.download`; nothing here runs a command.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.settings import Settings, Versions

MANIFEST = "labkit-toolchain.json"
"""Name of the manifest file inside a cache entry; its presence marks the entry complete."""


@dataclass(frozen=True)
class Component:
    """One pinned Go module and the binaries built from it."""

    name: str
    """Cache and module directory name ("kubernetes", "etcd", "kwok")."""
    version: str
    """Module tag, e.g. "v1.36.3"."""
    module: str
    """Go module path whose version go.mod must pin, e.g. "k8s.io/kubernetes"."""
    binaries: tuple[str, ...]
    """Binary file names, in the order of ``packages``."""
    packages: tuple[str, ...]
    """Go packages to build, one per binary."""
    tags: str = ""
    """Go build tags (comma separated), as upstream builds them."""
    ldflags: tuple[str, ...] = ()
    """Extra -ldflags -X stamps (without the build date)."""
    group: str = "control-plane"
    """Which set it belongs to: "control-plane", "tools", "argocd" or "flux" (see GROUPS)."""
    go_env: tuple[tuple[str, str], ...] = ()
    """Extra environment for `go build` alone, e.g. GOTOOLCHAIN for a module that needs a newer Go."""
    date_stamps: tuple[str, ...] = ()
    """Go variables (pkg.var) that get the tag's commit time as the build date."""

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def _kube_stamps(version: str) -> tuple[str, ...]:
    # Unstamped binaries report v0.0.0-master; kwokctl parses --version to pick flags,
    # so the stamp must tell the truth (same keys as upstream's hack/lib/version.sh).
    major, minor = version.lstrip("v").split(".")[:2]
    stamps: list[str] = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return tuple(stamps)


GROUPS = ("control-plane", "tools", "argocd", "flux")
"""Every group, in build order."""
DEFAULT_GROUPS = ("control-plane", "tools")
"""What `labkit toolchain ensure` and `labkit up` build; the others are built on first use."""

ARGOCD_COMMON = "github.com/argoproj/argo-cd/v3/common"
ARGOCD_TOOLCHAIN = "go1.27.3"
"""Argo CD v3.6 declares `go 1.27.0`; the go command fetches this toolchain from the module proxy once."""


def _argocd_stamps(version: str) -> tuple[str, ...]:
    # Upstream's Makefile stamps these; without them `argocd version` says "+unknown".
    return (
        f"-X {ARGOCD_COMMON}.version={version.lstrip('v')}",
        f"-X {ARGOCD_COMMON}.gitTag={version}",
        # A module zip carries no commit hash; this tells where the build came from instead
        # (and, with gitTag and a clean tree, makes `argocd version` print the release, v3.6.1).
        f"-X {ARGOCD_COMMON}.gitCommit=gomod-{version}",
        f"-X {ARGOCD_COMMON}.gitTreeState=clean",
        f"-X {ARGOCD_COMMON}.kubectlVersion=v0.37.0",
    )


def tool_components(versions: Versions) -> tuple[Component, ...]:
    """helm and kustomize (used by labkit's agent and by Argo CD's repo-server), Argo CD and Flux."""
    return (
        Component(
            "helm",
            versions.helm,
            "helm.sh/helm/v4",
            ("helm",),
            ("helm.sh/helm/v4/cmd/helm",),
            ldflags=(
                f"-X helm.sh/helm/v4/internal/version.version={versions.helm}",
                "-X helm.sh/helm/v4/internal/version.gitTreeState=clean",
            ),
            group="tools",
        ),
        Component(
            "kustomize",
            versions.kustomize,
            "sigs.k8s.io/kustomize/kustomize/v5",
            ("kustomize",),
            ("sigs.k8s.io/kustomize/kustomize/v5",),
            ldflags=(f"-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/{versions.kustomize}",),
            group="tools",
            date_stamps=("sigs.k8s.io/kustomize/api/provenance.buildDate",),
        ),
        Component(
            "argocd",
            versions.argocd,
            "github.com/argoproj/argo-cd/v3",
            ("argocd",),
            ("github.com/argoproj/argo-cd/v3/cmd",),
            ldflags=_argocd_stamps(versions.argocd),
            group="argocd",
            go_env=(("GOTOOLCHAIN", ARGOCD_TOOLCHAIN),),
            date_stamps=(f"{ARGOCD_COMMON}.buildDate",),
        ),
        flux_component(versions),
    )


def flux_component(versions: Versions) -> Component:
    """Flux's source-controller and kustomize-controller, one wrapper module (``toolchain/flux``).

    Both controllers are tagged ``versions.flux`` and the wrapper's go.mod pins
    both; the version check reads source-controller's pin. They have no
    version variable to stamp (no ``--version`` flag), so no ldflags.
    """
    return Component(
        "flux",
        versions.flux,
        "github.com/fluxcd/source-controller",
        ("source-controller", "kustomize-controller"),
        ("github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"),
        group="flux",
    )


def components(versions: Versions, groups: tuple[str, ...] = ("control-plane",)) -> tuple[Component, ...]:
    """The components of the given ``groups`` at the pinned ``versions`` (default: the control plane)."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown toolchain group(s) {sorted(unknown)}; known: {', '.join(GROUPS)}")
    every = _control_plane(versions) + tool_components(versions)
    return tuple(c for c in every if c.group in groups)


def _control_plane(versions: Versions) -> tuple[Component, ...]:
    """The three components of a kwok lab at the pinned ``versions``."""
    kube = versions.kubernetes
    kwok_stamps = (
        f"-X sigs.k8s.io/kwok/pkg/consts.Version={versions.kwok.lstrip('v')}",
        f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={kube.lstrip('v')}",
    )
    return (
        Component(
            "kubernetes",
            kube,
            "k8s.io/kubernetes",
            ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
            tuple(
                f"k8s.io/kubernetes/cmd/{b}"
                for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
            ),
            tags="selinux,notest",
            ldflags=_kube_stamps(kube),
            date_stamps=tuple(
                f"{pkg}.buildDate"
                for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
            ),
        ),
        Component(
            "etcd", versions.etcd, "go.etcd.io/etcd/server/v3", ("etcd",), ("go.etcd.io/etcd/server/v3",)
        ),
        Component(
            "kwok",
            versions.kwok,
            "sigs.k8s.io/kwok",
            ("kwok", "kwokctl"),
            ("sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok/cmd/kwokctl"),
            ldflags=kwok_stamps,
        ),
    )


def env_var(binary: str) -> str:
    """The environment variable that points at an explicit ``binary``: LABKIT_KUBE_APISERVER_BINARY."""
    return "LABKIT_" + binary.upper().replace("-", "_") + "_BINARY"


def cache_root(settings: Settings) -> Path:
    return settings.cache / "bin"


def entry_dir(settings: Settings, component: Component) -> Path:
    return cache_root(settings) / component.key


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, component: Component, source: str, extra: Mapping[str, Any]) -> None:
    """Write the manifest last, after every binary is in place (fsync'd: it is the completion mark)."""
    files = {
        b: {"sha256": sha256_file(directory / b), "size": (directory / b).stat().st_size}
        for b in component.binaries
    }
    record = {
        "component": component.name,
        "version": component.version,
        "source": source,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": files,
        **extra,
    }
    tmp = directory / (MANIFEST + ".tmp")
    with tmp.open("w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(directory / MANIFEST)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verify_entry(directory: Path, component: Component, *, deep: bool = True) -> str | None:
    """Why the cache entry is not usable, or None when it is complete and intact.

    ``deep`` also compares sha256 sums (about a second for the Kubernetes binaries);
    without it only presence, size and the executable bit are checked.
    """
    if not directory.exists():
        return "not in the cache"
    manifest = read_manifest(directory)
    if manifest is None:
        return f"{directory} has no readable {MANIFEST} (an interrupted build or download?)"
    if manifest.get("version") != component.version:
        recorded = manifest.get("version")
        return f"{directory / MANIFEST} records version {recorded!r}, expected {component.version}"
    files = manifest.get("files", {})
    for binary in component.binaries:
        path = directory / binary
        recorded = files.get(binary, {})
        if not path.is_file():
            return f"{path} is missing"
        if not os.access(path, os.X_OK):
            return f"{path} is not executable"
        if path.stat().st_size != recorded.get("size"):
            return f"{path} has {path.stat().st_size} bytes, the manifest says {recorded.get('size')}"
        if deep and sha256_file(path) != recorded.get("sha256"):
            return f"{path} does not match the sha256 in {MANIFEST}"
    return None
