"""The real Flux on the lab, out of cluster: built from Go modules, supervised like labkit's agent.

``labkit up --with flux`` (or ``labkit flux up``) builds source-controller and
kustomize-controller on first use (:mod:`labkit.cluster.toolchain`, group
``flux``), installs their CRDs from the Go modules themselves
(:mod:`labkit.flux.module`, :mod:`labkit.flux.install`) and asks the lab's
supervisor to run both controllers as local processes on 127.0.0.1
(:mod:`labkit.flux.processes`). :class:`labkit.flux.engine.Flux` is the facade
(``lab.flux``): up, down, status, and ``get``/``reconcile``, what the ``flux``
CLI would do (that CLI cannot be built from its Go module), read and written
with the Kubernetes API as :mod:`labkit.flux.objects` describes.
"""

from labkit.flux.engine import Flux

__all__ = ["Flux"]
