"""Files Flux's controllers ship in their Go modules: the CRDs of ``config/crd/bases``.

source-controller and kustomize-controller are built from
``github.com/fluxcd/source-controller`` and ``github.com/fluxcd/kustomize-controller``
in the Go module cache (wrapper module ``toolchain/flux``); the same modules
hold the CustomResourceDefinitions, which labkit applies as they are (nothing
of Flux is copied into labkit's repository). Called by :mod:`labkit.flux.install`.
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

MODULES = ("github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller")
"""The controllers' Go modules, both at ``Versions.flux``."""


def module_dir(settings: Settings, module: str) -> Path:
    """Where the Go module cache holds ``module`` at the pinned version (downloaded if absent)."""
    go = shutil.which("go")
    cache = os.environ.get("GOMODCACHE") or (
        run([go, "env", "GOMODCACHE"], timeout=60).stdout.strip() if go else str(Path.home() / "go/pkg/mod")
    )
    version = settings.versions.flux
    path = Path(cache) / f"{module}@{version}"
    if not path.is_dir() and go:
        run([go, "mod", "download", f"{module}@{version}"], cwd=settings.toolchain_dir / "flux", timeout=600)
    if not path.is_dir():
        raise ToolchainError(
            f"Flux's Go module {module} is not in the module cache ({path})",
            hint="run: labkit toolchain ensure --with flux",
        )
    return path


def crds(settings: Settings) -> list[dict[str, Any]]:
    """The seven CRDs: GitRepository, OCIRepository, Bucket, HelmRepository, HelmChart,
    ExternalArtifact (source-controller) and Kustomization (kustomize-controller)."""
    found: list[dict[str, Any]] = []
    for module in MODULES:
        folder = module_dir(settings, module) / "config" / "crd" / "bases"
        for path in sorted(folder.glob("*.yaml")):
            found += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return found
