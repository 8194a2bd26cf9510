"""Benchmarks of the pull agent, measured from the timeline (issue 3's speed targets).

- commit -> Synced and commit -> Healthy with the webhook, over N commits
- commit -> detected with polling only (a second Git server without a hook)
- 50 Applications of 5 resources each, one commit touching all: time to all Synced
- the controller's idle CPU with those 50 Applications

Run: ``make bench`` (or ``python -m benchmarks.run controller``). Prints a table.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from labkit.git import LabRepo
from labkit.lab import Lab

Row = tuple[str, str, str, str]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _events(lab: Lab, app: str, since_ns: int) -> list[Any]:
    return [e for e in lab.timeline.read(since_ns=since_ns) if e.app in (app, None)]


def _latency(lab: Lab, app: str, sha: str, kind: str, since_ns: int, **match: Any) -> float | None:
    events = _events(lab, app, since_ns)
    pushed = next((e.ts_ns for e in events if e.kind == "pushed" and e.revision == sha), None)
    done = next(
        (
            e.ts_ns
            for e in events
            if e.kind == kind and e.revision == sha and all(e.data.get(k) == v for k, v in match.items())
        ),
        None,
    )
    return None if pushed is None or done is None else (done - pushed) / 1e9


def webhook_latency(lab: Lab, commits: int = 20) -> list[Row]:
    apps = lab.apps
    apps.create(
        "bench-web",
        lab.repo.url,
        "apps/demo",
        "bench-web",
        auto_sync=True,
        sync_options=("CreateNamespace=true",),
    )
    apps.wait("bench-web", sync="Synced", health="Healthy", timeout_s=120)
    synced, healthy = [], []
    for i in range(commits):
        since = time.time_ns()
        sha = lab.repo.set_replicas("apps/demo", "web", 3 + i % 2)
        apps.wait("bench-web", sync="Synced", health="Healthy", revision=sha, timeout_s=60)
        s = _latency(lab, "bench-web", sha, "sync_finished", since, phase="Succeeded")
        h = _latency(lab, "bench-web", sha, "healthy", since)
        synced += [s] if s is not None else []
        healthy += [h] if h is not None else []
    apps.delete("bench-web", cascade=True)
    delay = lab.settings.cluster.pod_ready_delay_ms / 1000, lab.settings.cluster.pod_ready_jitter_ms / 1000
    return [
        (
            "commit -> Synced (webhook)",
            f"p50 {_pct(synced, 0.5):.2f} s, p95 {_pct(synced, 0.95):.2f} s",
            "p50 <= 1 s, p95 <= 2 s",
            f"n={len(synced)}",
        ),
        (
            "commit -> Healthy (webhook)",
            f"p50 {_pct(healthy, 0.5):.2f} s, p95 {_pct(healthy, 0.95):.2f} s",
            f"p50 <= pod delay + 1.5 s (delay {delay[0]:.0f}-{delay[1]:.0f} s)",
            f"n={len(healthy)}",
        ),
    ]


def polling_latency(lab: Lab, tmp: Path, commits: int = 6, interval_s: int = 5) -> list[Row]:
    repo = LabRepo.create(tmp / "poll.git", tmp / "poll-work", lab.settings.starter_repo)  # no hook
    apps = lab.apps
    apps.create(
        "bench-poll",
        repo.url,
        "apps/demo",
        "bench-poll",
        auto_sync=True,
        sync_options=("CreateNamespace=true",),
        refresh_interval=f"{interval_s}s",
    )
    apps.wait("bench-poll", sync="Synced", timeout_s=120)
    detected = []
    for i in range(commits):
        sha = repo.set_replicas("apps/demo", "web", 3 + i % 2)
        pushed = time.time_ns()
        apps.wait("bench-poll", sync="Synced", revision=sha, timeout_s=interval_s * 4)
        found = next(
            e.ts_ns
            for e in lab.timeline.read(app="bench-poll", kind="revision_detected", since_ns=pushed)
            if e.revision == sha
        )
        detected.append((found - pushed) / 1e9)
        time.sleep(i % 3)  # push at different points of the poll cycle
    apps.delete("bench-poll", cascade=True)
    return [
        (
            f"commit -> detected (poll {interval_s} s + jitter, no webhook)",
            f"p50 {_pct(detected, 0.5):.2f} s, max {max(detected):.2f} s",
            f"spread over 0..{interval_s + lab.settings.controller.poll_jitter_s:.0f} s",
            f"n={len(detected)}",
        )
    ]


def _five_resources(i: int, stamp: str) -> str:
    cms = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{j}"}, "data": {"stamp": stamp}}
        for j in range(4)
    ]
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    return yaml.safe_dump_all([deploy, *cms])


def fifty_apps(lab: Lab, n: int = 50) -> list[Row]:
    apps = lab.apps
    names = [f"fleet-{i:02d}" for i in range(n)]
    lab.repo.commit_and_push(
        "fleet", {f"fleet/{name}/app.yaml": _five_resources(i, "v1") for i, name in enumerate(names)}
    )
    for name in names:
        apps.create(
            name, lab.repo.url, f"fleet/{name}", name, auto_sync=True, sync_options=("CreateNamespace=true",)
        )
    for name in names:
        apps.wait(name, sync="Synced", timeout_s=300)
    start = time.monotonic()
    sha = lab.repo.commit_and_push(
        "touch all", {f"fleet/{name}/app.yaml": _five_resources(i, "v2") for i, name in enumerate(names)}
    )
    for name in names:
        apps.wait(name, sync="Synced", revision=sha, timeout_s=300)
    all_synced = time.monotonic() - start
    cpu = idle_cpu(lab, seconds=30)
    for name in names:
        apps.delete(name, cascade=True)
    return [
        (f"{n} apps x 5 resources, one commit -> all Synced", f"{all_synced:.1f} s", "<= 30 s", ""),
        (f"controller idle CPU with {n} apps (30 s)", f"{cpu:.1f} % of one core", "<= 5 %", ""),
    ]


def idle_cpu(lab: Lab, seconds: float) -> float:
    pid = int(lab.status()["controller"]["pid"])

    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    import os

    hz = os.sysconf("SC_CLK_TCK")
    before, t0 = ticks(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (ticks() - before) / hz / (time.monotonic() - t0)


def push_vs_pull(lab: Lab, commits: int = 20) -> list[Row]:
    """The same commits through the push pipeline and the pull agent, side by side."""
    from labkit import metrics
    from labkit.push import Target

    apps = lab.apps
    lab.pipeline.enable([Target("apps/demo", "bench-push")], lab.kubeconfig, lab.context or None)
    apps.create(
        "bench-pull",
        lab.repo.url,
        "apps/demo",
        "bench-pull",
        auto_sync=True,
        sync_options=("CreateNamespace=true",),
    )
    apps.wait("bench-pull", sync="Synced", timeout_s=120)
    since = time.time_ns()
    shas = []
    for i in range(commits):
        sha = lab.repo.set_replicas("apps/demo", "web", 3 + i % 2)
        apps.wait("bench-pull", sync="Synced", revision=sha, timeout_s=60)
        shas.append(sha)
        time.sleep(1.0)  # let the pipeline run of this commit finish too
    lab.pipeline.disable()
    apps.delete("bench-pull", cascade=True)
    events = lab.timeline.read(since_ns=since)
    pull = metrics.commit_latencies(events, app="bench-pull")
    push = metrics.pipeline_latencies(events)
    pull_s = [float(v) for v in pull[pull["revision"].isin(shas)]["synced_s"].dropna()]
    push_s = [float(v) for v in push[push["revision"].isin(shas)]["applied_s"].dropna()]
    return [
        (
            "push: commit -> applied (CI job, kubectl apply)",
            f"p50 {_pct(push_s, 0.5):.2f} s, p95 {_pct(push_s, 0.95):.2f} s",
            "(contrast)",
            f"n={len(push_s)}",
        ),
        (
            "pull: commit -> Synced (agent, webhook), same commits",
            f"p50 {_pct(pull_s, 0.5):.2f} s, p95 {_pct(pull_s, 0.95):.2f} s",
            "(contrast)",
            f"n={len(pull_s)}",
        ),
    ]


def run(lab: Lab, tmp: Path) -> list[Row]:
    rows = webhook_latency(lab)
    rows += push_vs_pull(lab)
    rows += polling_latency(lab, tmp)
    rows += fifty_apps(lab)
    return rows


__all__ = [
    "fifty_apps",
    "idle_cpu",
    "polling_latency",
    "push_vs_pull",
    "run",
    "webhook_latency",
    "statistics",
]
