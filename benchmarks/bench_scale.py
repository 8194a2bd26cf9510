"""Scale on the real lab: N Applications x 5 resources, one commit touching all -> all Synced (issue 13).

Run: ``python -m benchmarks.run scale --apps 100,500,1000``. Each size gets a
fresh lab of its own (:func:`nodes_for` kwok nodes, so every pod has a place),
runs :func:`labkit.scale.run` and is taken down again. The table shows the
time until the last app is Synced against Flux's published 16-core figures,
p50/p95 per app, the agent's CPU seconds and peak RSS, and the API server's
and etcd's peak RSS.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from labkit import scale

Row = tuple[str, str, str, str]
APPS = (100, 500, 1000)
FLUX_16_CORES = {100: "28 s", 500: "2 min 2 s", 1000: "4 min 16 s"}
"""Flux's published times to all Ready on 16 cores (issue 13), set against labkit's agent on 2 cores."""
PODS_PER_NODE = 100


def nodes_for(apps: int) -> int:
    """kwok nodes for one pod per app, at most :data:`PODS_PER_NODE` a node; at least the lab's 3."""
    return max(3, math.ceil(apps / PODS_PER_NODE))


def measure(tmp: Path, apps: int) -> scale.ScaleRun:
    """One run on a fresh lab of its own, taken down afterwards."""
    from labkit.lab import Lab
    from labkit.settings import Settings

    settings = Settings(home=tmp / f"scale-{apps}", lab=f"scale{apps}")
    settings = replace(settings, cluster=replace(settings.cluster, nodes=nodes_for(apps)))
    lab = Lab.up(settings, progress=lambda m: None)
    try:
        return scale.run(lab, apps)
    finally:
        Lab.teardown(settings, progress=lambda m: None)


def rows(run: scale.ScaleRun) -> list[Row]:
    n = run.apps
    target = f"Flux 16 cores: {FLUX_16_CORES[n]}" if n in FLUX_16_CORES else ""
    return [
        (
            f"{n} apps x {scale.RESOURCES} resources, one commit -> all Synced",
            f"{run.all_synced_s:.1f} s",
            target,
            f"p50 {run.quantile(0.5):.1f} s, p95 {run.quantile(0.95):.1f} s",
        ),
        (
            f"{n} apps: agent CPU, peak RSS",
            f"{run.agent_cpu_s:.0f} CPU s, {run.agent_rss_mb:.0f} MB",
            "RSS <= 500 MB at 1000 apps",
            "",
        ),
        (
            f"{n} apps: kube-apiserver, etcd peak RSS",
            f"{run.apiserver_rss_mb:.0f} MB, {run.etcd_rss_mb:.0f} MB",
            "a laptop's means",
            "",
        ),
    ]


def run(tmp: Path, apps: tuple[int, ...] = APPS) -> list[Row]:
    out: list[Row] = []
    for n in apps:
        measured = measure(tmp, n)
        print(scale.table([measured]), flush=True)
        out += rows(measured)
    return out
