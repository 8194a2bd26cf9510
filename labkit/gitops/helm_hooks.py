"""Helm hooks as Argo CD hooks: ``helm.sh/hook*`` annotations written as ``argocd.argoproj.io/*``.

``labkit.gitops.render`` calls :func:`map_hooks` on every object it renders,
chart or not: gitops-engine reads Helm's hook annotations on any object
(``pkg/sync/hook/helm``). The agent's hooks and waves
(``labkit.gitops.hooks``, ``labkit.gitops.waves``) then read only Argo CD's
annotations (``labkit.gitops.annotations``), which is where a learner sees
the mapping too (``kubectl get job -o yaml``). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from labkit.gitops import annotations as ann
from labkit.gitops.annotations import HOOK, HOOK_DELETE_POLICY, SYNC_WAVE
from labkit.gitops.types import Manifest

# Helm's annotations; they map onto Argo CD's (HOOK, HOOK_DELETE_POLICY, SYNC_WAVE), which the
# agent's hooks and waves read.
HELM_HOOK = "helm.sh/hook"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"

#: Helm hook -> Argo CD sync phase; other Helm hooks (test, pre-/post-delete, rollback) never run on a sync.
HOOK_PHASES = {
    "pre-install": "PreSync",
    "pre-upgrade": "PreSync",
    "post-install": "PostSync",
    "post-upgrade": "PostSync",
}
DELETE_POLICIES = {
    "before-hook-creation": "BeforeHookCreation",
    "hook-succeeded": "HookSucceeded",
    "hook-failed": "HookFailed",
}


def map_hooks(obj: Manifest) -> Manifest | None:
    """``obj`` with Helm's hook annotations written as Argo CD's; None if Argo CD never applies it on sync.

    gitops-engine reads ``helm.sh/hook*`` on any object, whatever rendered it:
    pre-install/pre-upgrade run as PreSync, post-install/post-upgrade as
    PostSync (both at once: every sync is an install and an upgrade);
    ``crd-install`` is an ordinary object; any other Helm hook is a hook
    with no sync phase, so a sync never applies it: tests, rollbacks, and
    pre-/post-delete, which Argo CD runs when the Application is deleted and
    labkit's agent does not run at all. An Argo CD hook annotation on the
    object (or labkit's older alias) wins over Helm's. Helm's delete policies
    join Argo CD's, and ``helm.sh/hook-weight`` is the sync wave unless the
    object has one.
    """
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or not any(k.startswith("helm.sh/hook") for k in annotations):
        return obj
    mapped = dict(annotations)
    helm_hooks = _csv(annotations.get(HELM_HOOK))
    if helm_hooks and helm_hooks != ["crd-install"] and ann.lookup(obj, HOOK) is None:
        phases = _unique(HOOK_PHASES[h] for h in helm_hooks if h in HOOK_PHASES)
        if not phases:
            return None
        mapped[HOOK] = ",".join(phases)
    policies = _csv(annotations.get(HELM_HOOK_DELETE_POLICY))
    if policies:
        ours = _csv(ann.value(obj, HOOK_DELETE_POLICY))
        mapped[HOOK_DELETE_POLICY] = ",".join(
            _unique(ours + [DELETE_POLICIES[p] for p in policies if p in DELETE_POLICIES])
        )
    weight = str(annotations.get(HELM_HOOK_WEIGHT, "")).strip()
    if ann.lookup(obj, SYNC_WAVE) is None and re.fullmatch(r"[+-]?\d+", weight):
        mapped[SYNC_WAVE] = str(int(weight))
    return {**obj, "metadata": {**meta, "annotations": mapped}}


def _csv(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
