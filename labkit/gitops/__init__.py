"""The pull agent: Application model, render, diff, health, sync planning, sync and the controller.

``application``, ``render``, ``diff``, ``health`` and ``plan`` are pure logic
(no API server, no git) tested on YAML fixtures; ``sync`` and ``controller``
put them to work against the cluster through ``labkit.kube`` and ``labkit.git``.
Nothing is imported eagerly here, so ``import labkit.gitops`` stays cheap.
"""
