"""Argo CD helpers for integration tests: an Application for the lab's repository, applied
with kubectl, and waits on its status.

The ``argocd`` (Argo CD up for a test module) and ``argo_app`` (a name and
namespace for one Argo CD app, deleted afterwards) fixtures that go with
them are in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labkit import githttp
from labkit.kube import Kube
from tests.integration.apphelpers import eventually

if TYPE_CHECKING:
    from labkit.lab import Lab

API = "argoproj.io/v1alpha1"
NS = "argocd"


def application(name: str, path: str, lab: Lab, *, automated: bool = True, **source: Any) -> dict[str, Any]:
    """An argoproj.io Application for ``path`` of the lab's repository, deploying into namespace ``name``."""
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": githttp.url(lab.state_dir), "path": path, "targetRevision": "HEAD", **source},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
    }
    if automated:
        spec["syncPolicy"]["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": API,
        "kind": "Application",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def kubectl_apply(lab: Lab, manifest: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / f"{manifest['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    lab.kubectl("apply", "-f", str(path))


def app_status(kube: Kube, name: str) -> dict[str, Any]:
    app = kube.get(API, "Application", name, NS) or {}
    return app.get("status") or {}


def wait_app(
    kube: Kube, name: str, sync: str = "Synced", health: str = "Healthy", timeout_s: float = 90
) -> None:
    def ok() -> bool:
        status = app_status(kube, name)
        return (status.get("sync") or {}).get("status") == sync and (status.get("health") or {}).get(
            "status"
        ) == health

    eventually(
        ok, timeout_s, f"Argo CD app {name} {sync}/{health}: {json.dumps(app_status(kube, name))[:600]}"
    )


def replicas(kube: Kube, name: str, namespace: str) -> int | None:
    live = kube.get("apps/v1", "Deployment", name, namespace)
    return None if live is None else int(live["spec"]["replicas"])


def commit(lab: Lab, message: str, files: dict[str, str | None]) -> str:
    return lab.repo.commit_and_push(message, files)
