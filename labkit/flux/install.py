"""Flux's side of the cluster: namespace ``flux-system`` and the controllers' CRDs.

What ``flux install`` would create in a real cluster, minus the Deployments
(the controllers run out of cluster, :mod:`labkit.flux.processes`) and minus
RBAC (they use the lab's own kubeconfig): the namespace and the CRDs of both
Go modules, applied server-side. ``flux-system`` belongs to the lab's baseline
(:data:`labkit.lab.ENGINE_NAMESPACES`): a reset keeps it. Called by
:class:`labkit.flux.engine.Flux`.
"""

from __future__ import annotations

from collections.abc import Callable

from labkit.flux import module
from labkit.kube import Kube
from labkit.settings import Settings

NAMESPACE = "flux-system"
"""Where Flux runs (RUNTIME_NAMESPACE) and where a learner usually puts its objects, as in a real install."""

Progress = Callable[[str], None]


def install(kube: Kube, settings: Settings, progress: Progress) -> None:
    """Namespace and CRDs; safe to run again."""
    kube.ensure_namespace(NAMESPACE, labels={"app.kubernetes.io/part-of": "flux"})
    names = []
    for crd in module.crds(settings):
        kube.ensure_crd(crd, timeout_s=60)
        names.append(crd["spec"]["names"]["plural"])
    progress(f"installed Flux's CRDs ({', '.join(names)})")
