"""Files Argo CD ships in its Go module: CRDs, base configuration, the git verify wrapper.

Argo CD is built from ``github.com/argoproj/argo-cd/v3`` in the Go module
cache; the same module holds ``manifests/crds`` and ``manifests/base/config``,
which labkit applies as they are (nothing of Argo CD is copied into labkit's
repository). Called by :mod:`labkit.argocd.install` and
:mod:`labkit.argocd.processes`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import ToolchainError
from labkit.proc import run
from labkit.settings import Settings

MODULE = "github.com/argoproj/argo-cd/v3"


def module_dir(settings: Settings) -> Path:
    """Where the Go module cache holds Argo CD's module at the pinned version (downloaded if absent)."""
    go = shutil.which("go")
    cache = os.environ.get("GOMODCACHE") or (
        run([go, "env", "GOMODCACHE"], timeout=60).stdout.strip() if go else str(Path.home() / "go/pkg/mod")
    )
    path = Path(cache) / f"{MODULE}@{settings.versions.argocd}"
    if not path.is_dir() and go:
        run(
            [go, "mod", "download", f"{MODULE}@{settings.versions.argocd}"],
            cwd=settings.toolchain_dir / "argocd",
            env={"GOTOOLCHAIN": "go1.27.3"},
            timeout=600,
        )
    if not path.is_dir():
        raise ToolchainError(
            f"Argo CD's Go module is not in the module cache ({path})",
            hint="run: labkit toolchain ensure --with argocd",
        )
    return path


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def crds(settings: Settings) -> list[dict[str, Any]]:
    """Application, ApplicationSet and AppProject CRDs from ``manifests/crds``."""
    folder = module_dir(settings) / "manifests" / "crds"
    return [d for p in sorted(folder.glob("*-crd.yaml")) for d in _documents(p)]


def base_config(settings: Settings) -> list[dict[str, Any]]:
    """The ConfigMaps and the Secret of ``manifests/base/config`` (argocd-cm, argocd-secret, …)."""
    folder = module_dir(settings) / "manifests" / "base" / "config"
    return [d for p in sorted(folder.glob("argocd-*.yaml")) for d in _documents(p)]


def git_verify_wrapper(settings: Settings) -> Path:
    """The module's ``hack/git-verify-wrapper.sh`` (read-only there: run it with ``sh``)."""
    return module_dir(settings) / "hack" / "git-verify-wrapper.sh"
