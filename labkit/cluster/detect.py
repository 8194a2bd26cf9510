"""Pick the cluster backend, explicitly, and say what was checked.

Called by :meth:`labkit.Lab.up`. An explicit choice (``--backend``, else
``LABKIT_BACKEND``, else ``--context`` which means "kubeconfig") is used or
refused with the reason; it never falls back to another backend. Without
one: kind when a Docker daemon answers, else kwok when its binaries resolve
(cached, buildable with Go, or downloadable). When nothing fits, one error
lists every check and how to fix it. The checks are returned as data so
``labkit up`` can show why it chose what it chose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from labkit.cluster.base import Backend, Check
from labkit.errors import BackendError
from labkit.proc import Runner, run
from labkit.settings import Settings

BACKENDS = ("kwok", "kind", "kubeconfig")
"""Every backend name ``--backend`` and ``LABKIT_BACKEND`` accept."""

AUTO_ORDER = ("kind", "kwok")
"""The order automatic detection tries (kubeconfig needs a --context, so it is never guessed)."""


def make_backend(
    name: str,
    settings: Settings,
    runner: Runner = run,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Backend:
    """The backend called ``name``; BackendError listing the valid names for anything else."""
    if name == "kwok":
        from labkit.cluster.kwok import KwokBackend

        return KwokBackend(settings, runner, env=env)
    if name == "kind":
        from labkit.cluster.kind import KindBackend

        return KindBackend(settings, runner, env=env)
    if name == "kubeconfig":
        from labkit.cluster.kubeconfig import KubeconfigBackend

        return KubeconfigBackend(settings, runner, context=context, env=env)
    raise BackendError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")


def requested_backend(
    requested: str | None, context: str | None, env: Mapping[str, str]
) -> tuple[str, str] | None:
    """(name, where the request came from), or None when detection should choose."""
    if requested:
        return requested.strip().lower(), "--backend"
    if env.get("LABKIT_BACKEND", "").strip():
        return env["LABKIT_BACKEND"].strip().lower(), "LABKIT_BACKEND"
    if context:
        return "kubeconfig", "--context"
    return None


def detect_backend(
    requested: str | None,
    runner: Runner = run,
    *,
    settings: Settings | None = None,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Backend, list[Check]]:
    """The backend to use and the checks that chose it; BackendError when none can run."""
    settings = settings or Settings()
    env = os.environ if env is None else env
    explicit = requested_backend(requested, context, env)
    if explicit is not None:
        name, origin = explicit
        if name not in BACKENDS:
            raise BackendError(
                f"unknown backend {name!r} (from {origin})", hint=f"choose one of: {', '.join(BACKENDS)}"
            )
        if context and name != "kubeconfig":
            raise BackendError(
                f"--context belongs to the kubeconfig backend, but {name!r} was asked for (from {origin})",
                hint="drop --context, or use --backend kubeconfig --context NAME",
            )
        backend = make_backend(name, settings, runner, context=context, env=env)
        check = backend.available()
        if not check.ok:
            raise BackendError(
                f"backend {name!r} was asked for (from {origin}) but cannot run here:\n  {check.line()}",
                hint=check.fix or f"fix the above, or choose another backend ({', '.join(BACKENDS)})",
            )
        return backend, [check]
    checks: list[Check] = []
    for name in AUTO_ORDER:
        backend = make_backend(name, settings, runner, env=env)
        check = backend.available()
        checks.append(check)
        if check.ok:
            return backend, checks
    listing = "\n  ".join(c.line() for c in checks)
    raise BackendError(
        f"no cluster backend can run here; labkit checked:\n  {listing}",
        hint="fix one of the above, or use a cluster you already have: "
        "labkit up --backend kubeconfig --context NAME",
    )
