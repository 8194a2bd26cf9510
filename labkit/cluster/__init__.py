"""Cluster backends (kwok, kind, kubeconfig) and the control-plane toolchain.

The only package that runs kwokctl, kind and ``go build``. :class:`labkit.Lab`
calls :func:`detect_backend` and drives the :class:`Backend` it returns;
``labkit toolchain`` and the kwok backend use :mod:`labkit.cluster.toolchain`.
Backend modules load lazily (kind pulls in pytest-kind), so importing this
package stays cheap.
"""

from __future__ import annotations

from labkit.cluster.base import Backend, Check
from labkit.cluster.detect import BACKENDS, detect_backend, make_backend

__all__ = ["BACKENDS", "Backend", "Check", "detect_backend", "make_backend"]
