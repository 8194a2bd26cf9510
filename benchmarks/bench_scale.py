"""Scale on the real lab: N Applications x 5 resources, one commit touching all -> all Synced (issue 13).

Run: ``python -m benchmarks.run scale --apps 100,500,1000``. Each size gets a
fresh lab of its own (:func:`nodes_for` kwok nodes, so every pod has a place),
runs :func:`labkit.scale.run` and is taken down again. The table shows the
time until the last app is Synced against Flux's published 16-core figures,
p50/p95 per app, the agent's CPU seconds and peak RSS, and the API server's
and etcd's peak RSS.

``python -m benchmarks.run scale-model --apps 50,100,500`` checks the what-if
model instead (:func:`labkit.scale.validate` on a fresh lab per size): fitted
from a 50-app run, its p50/p95 against the measured run, and the predicted and
measured ECDFs saved to ``test-output/scale-model-<N>.png``, the lab's timeline
beside them (``scale-model-<N>.jsonl``: ``sim.fit_timeline`` and
``metrics.commit_latencies`` read it after the lab is gone).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from labkit import scale
from labkit.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from labkit.lab import Lab

Row = tuple[str, str, str, str]
APPS = (100, 500, 1000)
FLUX_16_CORES = {100: "28 s", 500: "2 min 2 s", 1000: "4 min 16 s"}
"""Flux's published times to all Ready on 16 cores (issue 13), set against labkit's agent on 2 cores."""
PODS_PER_NODE = 100
MODEL_APPS = (50, 100, 500)
OUTPUT = PROJECT_ROOT / "test-output"
T = TypeVar("T")


def nodes_for(apps: int) -> int:
    """kwok nodes for one pod per app, at most :data:`PODS_PER_NODE` a node; at least the lab's 3."""
    return max(3, math.ceil(apps / PODS_PER_NODE))


def measure(tmp: Path, apps: int, what: Callable[[Lab, int], T]) -> T:
    """``what(lab, apps)`` on a fresh lab of its own, taken down afterwards."""
    from labkit.lab import Lab
    from labkit.settings import Settings

    settings = Settings(home=tmp / f"scale-{apps}", lab=f"scale{apps}")
    settings = replace(settings, cluster=replace(settings.cluster, nodes=nodes_for(apps)))
    lab = Lab.up(settings, progress=lambda m: None)
    try:
        return what(lab, apps)
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
        measured = measure(tmp, n, scale.run)
        print(scale.table([measured]), flush=True)
        out += rows(measured)
    return out


def _validate_keeping_timeline(lab: Lab, apps: int) -> scale.Validation:
    try:
        return scale.validate(lab, apps)
    finally:
        OUTPUT.mkdir(exist_ok=True)
        shutil.copyfile(lab.timeline.path, OUTPUT / f"scale-model-{apps}.jsonl")


def model(tmp: Path, apps: tuple[int, ...] = MODEL_APPS) -> list[Row]:
    """The model fitted from a 50-app run against runs of ``apps`` apps (plots in test-output/)."""
    from labkit.ui.simplots import predicted_vs_measured

    out: list[Row] = []
    for n in apps:
        found = measure(tmp, n, _validate_keeping_timeline)
        fig = predicted_vs_measured(found.prediction, found.measured.synced_s)
        OUTPUT.mkdir(exist_ok=True)
        fig.savefig(OUTPUT / f"scale-model-{n}.png", dpi=100)
        for r in found.rows():
            out.append(
                (
                    f"{n} apps: commit -> Synced {r['quantile']}, model vs lab",
                    f"{r['predicted_s']:.1f} s vs {r['measured_s']:.1f} s ({r['error']:+.0%})",
                    "within 20 %",
                    f"fitted from {found.calibration.apps} apps; {'ok' if r['within'] else 'off'}",
                )
            )
    return out
