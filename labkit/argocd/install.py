"""Argo CD's side of the cluster: namespace ``argocd``, its CRDs, its configuration and secrets.

What Argo CD's install manifests would create in a real cluster, minus the
Deployments (the processes run out of cluster, :mod:`labkit.argocd.processes`):
the CRDs of ``manifests/crds`` and the ConfigMaps/Secret of
``manifests/base/config``, straight from Argo CD's Go module, applied
server-side. labkit then sets two keys in ``argocd-secret``: the admin
password (generated, bcrypt-hashed by ``argocd account bcrypt``, the plain
text kept 0600 in the lab's state directory) and ``webhook.github.secret``
(shared with the lab's post-receive hook). Called by
:class:`labkit.argocd.engine.ArgoCD`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labkit.argocd import module
from labkit.cluster.base import write_private
from labkit.errors import KubeError
from labkit.kube import Kube
from labkit.proc import run
from labkit.settings import Settings

NAMESPACE = "argocd"
"""Where Argo CD keeps its Applications, AppProjects, ConfigMaps and Secrets, as in a real install."""
FIELD_MANAGER = "labkit-argocd-install"

Progress = Callable[[str], None]


def admin_password(state_dir: Path) -> str:
    """The generated admin password (created on first use, 0600)."""
    path = state_dir / "argocd" / "admin.password"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(18) + "\n")
    return path.read_text().strip()


def webhook_secret(state_dir: Path) -> str:
    """The GitHub-webhook secret shared by argocd-secret and the post-receive hook (0600)."""
    path = state_dir / "argocd-webhook.secret"
    if not path.exists():
        write_private(path, secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def install(kube: Kube, settings: Settings, argocd: Path, state_dir: Path, progress: Progress) -> None:
    """Namespace, CRDs, base config, admin password and webhook secret; safe to run again."""
    kube.ensure_namespace(NAMESPACE, labels={"app.kubernetes.io/part-of": "argocd"})
    for crd in module.crds(settings):
        kube.ensure_crd(crd, timeout_s=60)
    progress("installed Argo CD's CRDs (applications.argoproj.io, appprojects, applicationsets)")
    for obj in module.base_config(settings):
        obj["metadata"]["namespace"] = NAMESPACE
        if kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], NAMESPACE) is None:
            _apply(kube, obj)
    password = admin_password(state_dir)
    hashed = run([str(argocd), "account", "bcrypt", "--password", password], timeout=60).stdout.strip()
    mtime = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    secret = kube.get("v1", "Secret", "argocd-secret", NAMESPACE) or {}
    data = secret.get("data") or {}
    if "admin.password" not in data or "webhook.github.secret" not in data:
        patch = {
            "stringData": {
                "admin.password": hashed,
                "admin.passwordMtime": mtime,
                "webhook.github.secret": webhook_secret(state_dir),
            }
        }
        kube.patch("v1", "Secret", "argocd-secret", NAMESPACE, patch)
    progress(f"configured namespace {NAMESPACE} (argocd-cm, argocd-secret with a generated admin password)")


def _apply(kube: Kube, obj: dict[str, Any]) -> None:
    result = kube.apply(obj, field_manager=FIELD_MANAGER)
    if not result.ok:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        raise KubeError(f"cannot install Argo CD's {name}: {result.message}", hint="labkit argocd up again")
