"""Benchmarks of drift and rollback, measured from the timeline (issue 4's speed targets).

- drift -> detected and drift -> healed (first self-heal attempt), over N drifts made with the
  real kubectl (:class:`labkit.drift.DriftInjector`: scale, set image, edit, delete in turn).
  Each drift hits its own Application: the self-heal backoff (0, 2, 6, ... s) counts attempts
  per app, so only a fresh app shows the first attempt every time.
- rollback to a history entry: request -> sync finished; ``git revert``: push -> sync finished.

Times run from ``drift_injected`` (written when kubectl returned) to the controller's
``drift_detected`` / ``healed``; the notes give the same from the moment kubectl started.
Run: ``make bench`` (the lead's runner calls :func:`run`). Prints nothing itself; returns rows.
"""

from __future__ import annotations

import time
from typing import Any

import yaml

from labkit.apps import AppClient
from labkit.drift import DriftInjector
from labkit.events import Event
from labkit.kube import Kube
from labkit.lab import Lab

Row = tuple[str, str, str, str]
KINDS = ("scale", "set_image", "edit", "delete")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stats(values: list[float]) -> str:
    if not values:
        return "no data"
    return f"p50 {_pct(values, 0.5):.2f} s, p95 {_pct(values, 0.95):.2f} s, max {max(values):.2f} s"


def _app_yaml(greeting: str = "hello", run: str = "") -> str:
    """A Deployment and a ConfigMap; ``run`` marks this benchmark run, so every run commits."""
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
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config", "annotations": {"labkit.dev/bench-run": run}},
        "data": {"GREETING": greeting},
    }
    return yaml.safe_dump_all([deploy, config])


def _wait_event(lab: Lab, app: str, kind: str, since_ns: int, timeout_s: float = 30.0, **match: Any) -> Event:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for e in lab.timeline.read(app=app, kind=kind, since_ns=since_ns):
            if all((e.revision if k == "revision" else e.data.get(k)) == v for k, v in match.items()):
                return e
        time.sleep(0.05)
    raise TimeoutError(f"no {kind} event of {app} {match} within {timeout_s} s")


def _create(apps: AppClient, lab: Lab, name: str, path: str, *, self_heal: bool) -> None:
    apps.create(
        name,
        lab.repo.url,
        path,
        name,
        auto_sync=True,
        self_heal=self_heal,
        sync_options=("CreateNamespace=true",),
    )


def _cleanup(apps: AppClient, kube: Kube, names: list[str]) -> None:
    for name in names:
        apps.delete(name, cascade=True)
    kube.wait_for(lambda: not {a.name for a in apps.list()} & set(names), 120, "benchmark apps deleted")
    for name in names:
        kube.delete("v1", "Namespace", name, propagation="Background")


def drift_latency(lab: Lab, injections: int = 24) -> list[Row]:
    """drift -> detected and drift -> healed over ``injections`` drifts, one fresh app each."""
    with Kube(lab.kubeconfig, lab.context) as kube:
        apps = AppClient(kube)
        names = [f"bench-drift-{i:02d}" for i in range(injections)]
        run = str(time.time_ns())
        files = {f"bench/{n}/app.yaml": _app_yaml(run=run) for n in names}
        lab.repo.commit_and_push("drift benchmark apps", files)
        for name in names:
            _create(apps, lab, name, f"bench/{name}", self_heal=True)
        for name in names:
            apps.wait(name, sync="Synced", health="Healthy", timeout_s=180)
        injector = DriftInjector(lab.kubeconfig, lab.timeline, echo=lambda _: None, context=lab.context)
        detected, healed, from_start, attempts = [], [], [], []
        try:
            for i, name in enumerate(names):
                kind = KINDS[i % len(KINDS)]
                started = time.time_ns()
                injector.inject(kind, app=name, namespace=name)
                injected = _wait_event(lab, name, "drift_injected", started)
                seen = _wait_event(lab, name, "drift_detected", started)
                done = _wait_event(lab, name, "healed", started)
                detected.append((seen.ts_ns - injected.ts_ns) / 1e9)
                healed.append((done.ts_ns - injected.ts_ns) / 1e9)
                from_start.append((seen.ts_ns - started) / 1e9)
                attempts.append(int(done.data.get("attempts", 0)))
                time.sleep(0.2)  # let the heal's own watch events settle before the next drift
        finally:
            _cleanup(apps, kube, names)
    first = sum(1 for a in attempts if a == 1)
    return [
        (
            "drift -> detected (watch)",
            _stats(detected),
            "p50 <= 0.5 s",
            f"n={len(detected)} ({', '.join(KINDS)}); from kubectl start p50 {_pct(from_start, 0.5):.2f} s",
        ),
        (
            "drift -> healed (first self-heal attempt)",
            _stats(healed),
            "p50 <= 1 s",
            f"n={len(healed)}, {first} healed by attempt 1",
        ),
    ]


def rollback_latency(lab: Lab, rounds: int = 5) -> list[Row]:
    """Rollback to a history entry (request -> synced) and git revert (push -> synced)."""
    name = "bench-rollback"
    path = f"bench/{name}"
    with Kube(lab.kubeconfig, lab.context) as kube:
        apps = AppClient(kube)
        run = str(time.time_ns())
        v1 = lab.repo.commit_and_push("rollback benchmark v1", {f"{path}/app.yaml": _app_yaml("v1", run)})
        _create(apps, lab, name, path, self_heal=False)
        apps.wait(name, sync="Synced", health="Healthy", revision=v1, timeout_s=120)
        v2 = lab.repo.commit_and_push("rollback benchmark v2", {f"{path}/app.yaml": _app_yaml("v2", run)})
        apps.wait(name, sync="Synced", revision=v2, timeout_s=60)
        rollback, revert = [], []
        try:
            for _ in range(rounds):
                history = apps.get(name)["status"]["history"]
                entry = max((h for h in history if h["revision"] == v1), key=lambda h: int(h["id"]))
                requested = time.time_ns()
                apps.rollback(name, int(entry["id"]), disable_auto_sync=True)
                done = _wait_event(lab, name, "sync_finished", requested, revision=v1, phase="Succeeded")
                rollback.append((done.ts_ns - requested) / 1e9)
                apps.set_policy(name, auto_sync=True)  # auto-sync takes the app back to HEAD (v2)
                apps.wait(name, sync="Synced", revision=v2, timeout_s=60)
            head = v2
            for _ in range(rounds):
                since = time.time_ns()
                head = lab.repo.revert(head)
                pushed = next(
                    e for e in lab.timeline.read(kind="pushed", since_ns=since) if e.revision == head
                )
                done = _wait_event(lab, name, "sync_finished", since, revision=head, phase="Succeeded")
                revert.append((done.ts_ns - pushed.ts_ns) / 1e9)
        finally:
            _cleanup(apps, kube, [name])
    return [
        ("rollback (history entry): request -> synced", _stats(rollback), "", f"n={len(rollback)}"),
        ("git revert: push -> synced (webhook, auto-sync)", _stats(revert), "", f"n={len(revert)}"),
    ]


def run(lab: Lab) -> list[Row]:
    """All rows: (metric, measured, target, note)."""
    return drift_latency(lab) + rollback_latency(lab)


__all__ = ["drift_latency", "rollback_latency", "run"]
