"""The kubeconfig backend: run the lab on a cluster someone else made.

``labkit up --backend kubeconfig --context X`` borrows context X from the
user's kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``). The lab gets a
flattened single-context copy in ``<state_dir>/kubeconfig`` (0600), so
learners' commands never touch the user's other clusters. The cluster is not
ours: ``delete`` removes only that copy (the lab's namespaces are cleaned up
by :class:`labkit.Lab`). Used through :func:`labkit.cluster.detect.detect_backend`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from labkit.cluster import kubectl
from labkit.cluster.base import Check, Progress, kubectl_binary, lab_kubeconfig, write_private
from labkit.errors import BackendError, CommandError
from labkit.proc import Runner, run
from labkit.settings import Settings


def source_kubeconfig(env: Mapping[str, str]) -> str:
    """Where the user's kubeconfig is: $KUBECONFIG (maybe a list) or ~/.kube/config."""
    return env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


class KubeconfigBackend:
    """An existing context of the user's kubeconfig."""

    name = "kubeconfig"
    owns_cluster = False

    def __init__(
        self,
        settings: Settings,
        runner: Runner = run,
        *,
        context: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.env = os.environ if env is None else env
        self._context = context or ""

    @property
    def kubeconfig(self) -> Path:
        return lab_kubeconfig(self.settings)

    @property
    def context(self) -> str:
        return self._context

    def _kubectl(self, *args: str) -> list[str]:
        return [str(kubectl_binary()), *args]

    def _env(self) -> dict[str, str]:
        return {"KUBECONFIG": source_kubeconfig(self.env)}

    def contexts(self) -> list[str]:
        """Every context name in the user's kubeconfig ([] when there is none)."""
        result = self.runner(
            self._kubectl("config", "get-contexts", "-o", "name"), env=self._env(), check=False
        )
        return result.stdout.split() if result.ok else []

    def available(self) -> Check:
        source = source_kubeconfig(self.env)
        what = f"context {self._context!r} exists in {source}" if self._context else "a --context was given"
        known = self.contexts()
        listing = ", ".join(known) if known else "none"
        if self._context and self._context in known:
            return Check(self.name, True, what)
        if not self._context:
            detail = f"no --context given; contexts in {source}: {listing}"
            return Check(self.name, False, what, detail, "pass --context NAME")
        return Check(
            self.name,
            False,
            what,
            f"context {self._context!r} does not exist in {source}; contexts there: {listing}",
            "pick one of those with --context (see `kubectl config get-contexts`), or set KUBECONFIG",
        )

    def create(self, progress: Progress) -> None:
        check = self.available()
        if not check.ok:
            raise BackendError(f"kubeconfig backend: {check.what} — {check.detail}", hint=check.fix)
        progress(f"using context {self._context!r} from {source_kubeconfig(self.env)}")
        view = self._kubectl("config", "view", "--minify", "--flatten", "--raw", "--context", self._context)
        try:
            text = self.runner(view, env=self._env()).stdout
        except CommandError as e:
            raise BackendError(
                f"could not read context {self._context!r}", hint="check your kubeconfig"
            ) from e
        write_private(self.kubeconfig, text)
        if not kubectl.api_ready(self.runner, self.kubeconfig, self._context):
            self.kubeconfig.unlink(missing_ok=True)
            raise BackendError(
                f"context {self._context!r} points at a cluster whose API server does not answer /readyz",
                hint="start that cluster, or pick another context with --context",
            )

    def delete(self) -> None:
        # Not our cluster: forget the copy of its credentials, touch nothing else.
        self.kubeconfig.unlink(missing_ok=True)

    def running(self) -> bool:
        return self.kubeconfig.is_file() and kubectl.api_ready(self.runner, self.kubeconfig, self._context, 3)
