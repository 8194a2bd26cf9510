"""Settings: where the lab lives, which versions it pins, how fast things happen.

Nested frozen dataclasses, one docstring per field with its unit. Values come
from defaults, then environment variables (``LABKIT_*``), then explicit
arguments. Nothing here touches the disk or the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

#: The directory this package was loaded from; ``repos/starter`` sits beside it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Versions:
    """Pinned versions of the control plane that are known to work together."""

    kubernetes: str = "v1.36.3"
    """kube-apiserver, kube-controller-manager, kube-scheduler (Go module tag)."""
    etcd: str = "v3.6.16"
    """etcd server (Go module tag of go.etcd.io/etcd/server/v3)."""
    kwok: str = "v0.8.0"
    """kwok and kwokctl (Go module tag of sigs.k8s.io/kwok)."""
    helm: str = "v4.3.1"
    """helm (Go module tag of helm.sh/helm/v4): the Helm that Argo CD v3.6.1 is tested with."""
    kustomize: str = "v5.8.2"
    """kustomize (Go module tag of sigs.k8s.io/kustomize/kustomize/v5), newest served for Go 1.26."""
    argocd: str = "v3.6.1"
    """Argo CD's multi-call binary (Go module tag of github.com/argoproj/argo-cd/v3)."""
    flux: str = "v1.9.6"
    """Flux's source-controller and kustomize-controller (both Go modules are tagged alike), Go 1.26."""


@dataclass(frozen=True)
class ClusterSettings:
    """How the lab cluster is shaped."""

    name: str = "labkit"
    """Cluster name (kwok cluster name, kind cluster name)."""
    nodes: int = 3
    """Number of fake (kwok) or real (kind) worker nodes."""
    pod_ready_delay_ms: int = field(default_factory=lambda: _env_int("LABKIT_POD_READY_DELAY_MS", 1000))
    """Lower bound of the delay before a pod on a kwok node turns Running, in ms."""
    pod_ready_jitter_ms: int = field(default_factory=lambda: _env_int("LABKIT_POD_READY_JITTER_MS", 2000))
    """Upper bound of that delay, in ms (kwok draws uniformly from [delay, jitter])."""
    start_timeout_s: float = 180.0
    """How long `labkit up` waits for the API server and nodes, in seconds."""
    apiserver_port: int = field(default_factory=lambda: _env_int("LABKIT_APISERVER_PORT", 0))
    """TCP port of the kwok lab's API server on 127.0.0.1; 0 lets kwokctl pick a free one."""
    lock_timeout_s: float = 900.0
    """How long `labkit up`/`down` wait for another labkit process holding the lab's lock, in seconds."""
    extra_images: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            i.strip() for i in os.environ.get("LABKIT_EXTRA_IMAGES", "").split(",") if i.strip()
        )
    )
    """Images (``name:tag``) kwok nodes pull besides ``cluster.images.CATALOGUE``; LABKIT_EXTRA_IMAGES."""


@dataclass(frozen=True)
class ControllerSettings:
    """How the pull agent behaves (lab defaults; Applications may override)."""

    poll_interval_s: float = 30.0
    """Git poll interval, in seconds (Argo CD: 120)."""
    poll_jitter_s: float = 5.0
    """Upper bound of random jitter added to each poll, in seconds (Argo CD: 60)."""
    self_heal_base_s: float = 2.0
    """Self-heal backoff base, in seconds (Argo CD: 2)."""
    self_heal_factor: float = 3.0
    """Self-heal backoff factor (Argo CD: 3)."""
    self_heal_cap_s: float = 300.0
    """Self-heal backoff cap, in seconds (Argo CD: 300)."""
    self_heal_cooldown_s: float = 330.0
    """Seconds without a self-heal attempt after which the backoff starts again at 0 (Argo CD: 330)."""
    wave_pause_s: float = 0.0
    """Pause between sync waves, in seconds (Argo CD: 2; 0 keeps the lab fast)."""
    workers: int = 4
    """Reconcile workers: apps processed in parallel (one app never by two at once)."""
    health_timeout_s: float = 120.0
    """How long a wave may take to become healthy before the sync fails, in seconds."""


@dataclass(frozen=True)
class Settings:
    """Everything labkit needs to know, with paths resolved."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("LABKIT_HOME", Path.home() / ".labkit")))
    """Where labs keep their state (one directory per lab)."""
    cache: Path = field(
        default_factory=lambda: Path(os.environ.get("LABKIT_CACHE", Path.home() / ".cache" / "labkit"))
    )
    """Where built or downloaded binaries are cached, outside the repo."""
    allow_download: bool = field(
        default_factory=lambda: _env_flag("LABKIT_ALLOW_DOWNLOAD", not _env_flag("CI"))
    )
    """Whether the toolchain may download official release binaries when no Go toolchain is
    present (yes/no; default yes, except where CI=true: tests and CI never download)."""
    lab: str = field(default_factory=lambda: os.environ.get("LABKIT_LAB", "default"))
    """Name of the lab; several labs can live side by side."""
    versions: Versions = field(default_factory=Versions)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    controller: ControllerSettings = field(default_factory=ControllerSettings)

    @property
    def state_dir(self) -> Path:
        """The lab's own directory: kubeconfig, repos, timeline, pids."""
        return self.home / "labs" / self.lab

    @property
    def starter_repo(self) -> Path:
        """The starter GitOps repository content shipped with the project."""
        return PROJECT_ROOT / "repos" / "starter"

    @property
    def toolchain_dir(self) -> Path:
        """The wrapper Go modules used to build the control plane."""
        return PROJECT_ROOT / "toolchain"

    def with_lab(self, lab: str) -> Settings:
        return replace(self, lab=lab)
