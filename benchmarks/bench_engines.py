"""labkit's agent and the real Argo CD side by side: same lab, same repository, same commits.

Both engines are observed from outside in the same way: a poll of each
Application's status every 50 ms (``status.sync.revision`` and
``status.sync.status``) and of the Deployment's ``spec.replicas`` for drift.
Each engine gets its own webhook (labkit's signed one, Argo CD's GitHub-format
push event), both sent by the same post-receive hook on every push.

Rows: commit -> Synced p50/p95; drift (``kubectl scale``) -> healed p50/p95;
N apps x 5 resources, one commit touching all -> all Synced; idle CPU and RSS
of each engine's processes with those apps. Run: ``python -m benchmarks.run
engines`` (builds Argo CD on first use). Prints a table with the ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml

from labkit import githttp, supervisor
from labkit.argocd.processes import NAMES as ARGOCD_PROCESSES
from labkit.kube import Kube
from labkit.lab import Lab

Row = tuple[str, str, str, str]
ENGINES = ("labkit", "argocd")
API = {"labkit": ("labkit.dev/v1alpha1", "labkit"), "argocd": ("argoproj.io/v1alpha1", "argocd")}
POLL_S = 0.05


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _manifests(app: str, replicas: int, tag: str) -> str:
    """Five resources: Deployment, Service, ConfigMap, ServiceAccount, Secret-free Role-less set."""
    labels = {"app": app}
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": labels, "ports": [{"port": 80}]},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config"}, "data": {"tag": tag}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-extra"}, "data": {"tag": tag}},
    ]
    return yaml.safe_dump_all(objs, sort_keys=False)


def _application(engine: str, name: str, path: str, lab: Lab) -> dict[str, Any]:
    api, namespace = API[engine]
    return {
        "apiVersion": api,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": githttp.url(lab.state_dir), "path": path, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }


def _synced_at(kube: Kube, engine: str, name: str, sha: str) -> bool:
    api, namespace = API[engine]
    app = kube.get(api, "Application", name, namespace) or {}
    sync = (app.get("status") or {}).get("sync") or {}
    return sync.get("status") == "Synced" and sync.get("revision") == sha


def _all_synced(kube: Kube, engine: str, names: set[str], sha: str) -> bool:
    """One list call per engine: are all ``names`` Synced at ``sha``?"""
    api, namespace = API[engine]
    done = {
        a["metadata"]["name"]
        for a in kube.list(api, "Application", namespace)
        if ((a.get("status") or {}).get("sync") or {}).get("status") == "Synced"
        and a["status"]["sync"].get("revision") == sha
    }
    return names <= done


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``check`` every POLL_S; the monotonic time at which it first held."""
    return _wait_each({what: check}, timeout_s)[what]


def _wait_each(checks: dict[str, Callable[[], bool]], timeout_s: float) -> dict[str, float]:
    """Poll every check in the same loop (no engine waits for the other); when each first held."""
    deadline, seen = time.monotonic() + timeout_s, {}
    while len(seen) < len(checks):
        for key, check in checks.items():
            if key not in seen and check():
                seen[key] = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {sorted(set(checks) - set(seen))}")
        time.sleep(POLL_S)
    return seen


class Bench:
    """One benchmark run: both engines, one lab."""

    def __init__(self, lab: Lab, kube: Kube) -> None:
        self.lab, self.kube = lab, kube

    def create(self, names: dict[str, list[str]], replicas: int = 1, tag: str = "v0") -> str:
        files = {f"bench/{n}/app.yaml": _manifests(n, replicas, tag) for ns in names.values() for n in ns}
        sha = self.lab.repo.commit_and_push("bench: apps", files)
        for engine, apps in names.items():
            for name in apps:
                self.kube.apply(_application(engine, name, f"bench/{name}", self.lab), field_manager="bench")
        return sha

    def commit_all(self, names: dict[str, list[str]], replicas: int, tag: str) -> tuple[str, float]:
        files = {f"bench/{n}/app.yaml": _manifests(n, replicas, tag) for ns in names.values() for n in ns}
        pushed = time.monotonic()
        return self.lab.repo.commit_and_push(f"bench: {tag}", files), pushed

    def delete(self, names: dict[str, list[str]]) -> None:
        for engine, apps in names.items():
            api, namespace = API[engine]
            for name in apps:
                self.kube.delete(api, "Application", name, namespace)
                self.kube.delete("v1", "Namespace", name, None)


def commit_to_synced(bench: Bench, commits: int) -> dict[str, list[float]]:
    names = {e: [f"bench-{e}-one"] for e in ENGINES}

    def synced(sha: str) -> dict[str, Callable[[], bool]]:
        return {e: (lambda e=e: _synced_at(bench.kube, e, names[e][0], sha)) for e in ENGINES}

    _wait_each(synced(bench.create(names)), 180)
    result: dict[str, list[float]] = {e: [] for e in ENGINES}
    for i in range(commits):
        sha, pushed = bench.commit_all(names, 1 + i % 2, f"c{i}")
        for engine, done in _wait_each(synced(sha), 120).items():
            result[engine].append(done - pushed)
    return result


def drift_to_healed(bench: Bench, rounds: int) -> dict[str, list[float]]:
    names = {e: [f"bench-{e}-one"] for e in ENGINES}
    result: dict[str, list[float]] = {e: [] for e in ENGINES}
    for engine in ENGINES:
        namespace = names[engine][0]
        for _ in range(rounds):
            want = int((bench.kube.get("apps/v1", "Deployment", "web", namespace) or {})["spec"]["replicas"])
            start = time.monotonic()
            bench.lab.kubectl(
                "scale", "deployment/web", "-n", namespace, f"--replicas={want + 3}", echo=False
            )

            def healed(ns: str = namespace, want: int = want) -> bool:
                live = bench.kube.get("apps/v1", "Deployment", "web", ns) or {}
                return int((live.get("spec") or {}).get("replicas", -1)) == want

            result[engine].append(_wait(healed, 120, f"{engine} heal") - start)
            time.sleep(1.0)
    bench.delete(names)
    return result


def many_apps(bench: Bench, n: int) -> tuple[dict[str, list[str]], dict[str, float]]:
    names = {e: [f"bench-{e}-{i:03d}" for i in range(n)] for e in ENGINES}

    def all_synced(sha: str) -> dict[str, Callable[[], bool]]:
        return {e: (lambda e=e: _all_synced(bench.kube, e, set(names[e]), sha)) for e in ENGINES}

    _wait_each(all_synced(bench.create(names)), 900)
    sha, pushed = bench.commit_all(names, 2, "many")
    return names, {e: t - pushed for e, t in _wait_each(all_synced(sha), 900).items()}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime in clock ticks (USER_HZ=100)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def idle_cost(lab: Lab, seconds: float = 30.0) -> dict[str, tuple[float, float]]:
    """(CPU % of one core, RSS MB) of each engine's processes over ``seconds`` of no commits."""
    programs = supervisor.read_status(lab.state_dir)["programs"]
    pids = {
        "labkit": [programs["controller"]["pid"]],
        "argocd": [programs[n]["pid"] for n in ARGOCD_PROCESSES],
    }
    before = {e: sum(_cpu_seconds(p) for p in ps) for e, ps in pids.items()}
    time.sleep(seconds)
    return {
        e: (100 * (sum(_cpu_seconds(p) for p in ps) - before[e]) / seconds, sum(_rss_mb(p) for p in ps))
        for e, ps in pids.items()
    }


def run(lab: Lab, commits: int = 20, drifts: int = 10, apps: int = 50) -> list[Row]:
    lab.argocd.up(progress=print)
    with lab.kube() as kube:
        bench = Bench(lab, kube)
        synced = commit_to_synced(bench, commits)
        healed = drift_to_healed(bench, drifts)
        names, many = many_apps(bench, apps)
        cost = idle_cost(lab)
        bench.delete(names)
    rows: list[Row] = []

    def pair(what: str, values: dict[str, list[float]], n: int) -> None:
        lk, ac = values["labkit"], values["argocd"]
        rows.append(
            (
                f"{what} p50",
                f"labkit {_pct(lk, 0.5):.2f} s | Argo CD {_pct(ac, 0.5):.2f} s",
                f"x{_pct(ac, 0.5) / _pct(lk, 0.5):.1f}",
                f"n={n}",
            )
        )
        rows.append(
            (
                f"{what} p95",
                f"labkit {_pct(lk, 0.95):.2f} s | Argo CD {_pct(ac, 0.95):.2f} s",
                f"x{_pct(ac, 0.95) / _pct(lk, 0.95):.1f}",
                f"mean {statistics.mean(lk):.2f} / {statistics.mean(ac):.2f}",
            )
        )

    pair("commit -> Synced (webhook)", synced, commits)
    pair("drift -> healed", healed, drifts)
    rows.append(
        (
            f"{apps} apps x 5 resources, one commit -> all Synced",
            f"labkit {many['labkit']:.1f} s | Argo CD {many['argocd']:.1f} s",
            f"x{many['argocd'] / many['labkit']:.1f}",
            "same commit for both",
        )
    )
    rows.append(
        (
            f"idle CPU with {apps} apps (% of a core, 30 s)",
            f"labkit {cost['labkit'][0]:.1f} % | Argo CD {cost['argocd'][0]:.1f} %",
            f"x{cost['argocd'][0] / max(cost['labkit'][0], 0.01):.1f}",
            "Argo CD: 3 processes + Redis",
        )
    )
    rows.append(
        (
            f"RSS with {apps} apps",
            f"labkit {cost['labkit'][1]:.0f} MB | Argo CD {cost['argocd'][1]:.0f} MB",
            f"x{cost['argocd'][1] / cost['labkit'][1]:.1f}",
            "sum over the engine's processes",
        )
    )
    return rows
