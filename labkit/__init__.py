"""labkit: learn GitOps by running it for real.

``labkit.Lab.up()`` brings up a real Kubernetes control plane (kind with
Docker, kwok's binary runtime without), a local bare Git repository seeded
with a demo app, and an Argo CD-shaped pull agent that keeps the cluster
equal to Git. Importing this package stays light: matplotlib, ipywidgets and
pandas load only when a plot, a widget or a latency table is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError
from labkit.settings import Settings

if TYPE_CHECKING:
    from labkit.lab import Lab

__all__ = ["Lab", "LabkitError", "Settings", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lab pulls in the kubernetes client; load it only when it is used.
    if name == "Lab":
        from labkit.lab import Lab

        return Lab
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
