"""The pull agent, one Argo CD concept per module; ``controller`` is the map.

Pure logic, tested on YAML fixtures and a fake API server: ``types`` (the
small shared words), ``application`` (the spec), ``annotations`` (Argo CD's
``argocd.argoproj.io/*``), ``reconcile`` (pairing, ``is_hook``), ``diff``,
``health``, ``compare``, ``hooks``, ``waves``, ``prune``, ``plan``,
``autosync``, ``selfheal``, ``status``, ``render`` (with ``helm``). Put to work
against the cluster through ``labkit.kube`` and ``labkit.git``: ``source``,
``livecache``, ``refresh``, ``comparer``, ``sync``, ``operations``, the
``controller`` and ``heartbeat`` (its Lease, and who reads it). Nothing is
imported eagerly here, so ``import labkit.gitops`` stays cheap.
"""
