"""The real Argo CD on the lab, out of cluster: built from Go modules, supervised like labkit's agent.

``labkit up --with argocd`` (or ``labkit argocd up``) builds Argo CD's one
multi-call binary on first use (:mod:`labkit.cluster.toolchain`), installs
its CRDs and base configuration from the Go module itself
(:mod:`labkit.argocd.module`, :mod:`labkit.argocd.install`), and asks the
lab's supervisor to run Redis, the repo-server, the application-controller
and the API server as local processes on 127.0.0.1
(:mod:`labkit.argocd.processes`). :class:`labkit.argocd.engine.ArgoCD` is the
facade (``lab.argocd``): up, down, status, and a runner for ``argocd``
commands that echoes each one as the learner would type it.
"""

from labkit.argocd.engine import ArgoCD

__all__ = ["ArgoCD"]
