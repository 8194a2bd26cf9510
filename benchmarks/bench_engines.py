"""labkit's agent, the real Argo CD and the real Flux side by side: same lab, same repository, same commits.

Every engine is observed from outside in the same way: a poll every 50 ms of
its objects' status (an Application's ``status.sync`` revision and status; a
Kustomization's ``status.lastAppliedRevision`` with Ready=True) and of the
Deployment's ``spec.replicas`` for drift. Each engine hears a push its own
way, all from the same post-receive hook: labkit's signed webhook, Argo CD's
GitHub-format push event, and for Flux a ``reconcile.fluxcd.io/requestedAt``
annotation on the GitRepository (what ``flux reconcile`` does). Flux reverts
drift only on its Kustomization interval (30 s here).

Rows: commit -> Synced/applied p50/p95; drift (``kubectl scale``) -> healed
p50/p95; N apps x 5 resources, one commit touching all -> all synced; idle CPU
and RSS of each engine's processes with those apps. Run: ``python -m
benchmarks.run engines`` (builds Argo CD and Flux on first use). Prints one
table; the ratio column is the peer's time over labkit's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import yaml

from labkit import githttp, supervisor
from labkit.argocd.processes import NAMES as ARGOCD_PROCESSES
from labkit.flux.processes import NAMES as FLUX_PROCESSES
from labkit.kube import Kube
from labkit.lab import Lab

Row = tuple[str, str, str, str]
ENGINES = ("labkit", "argocd", "flux")
API = {
    "labkit": ("labkit.dev/v1alpha1", "labkit"),
    "argocd": ("argoproj.io/v1alpha1", "argocd"),
    "flux": ("kustomize.toolkit.fluxcd.io/v1", "flux-system"),
}
KIND = {"labkit": "Application", "argocd": "Application", "flux": "Kustomization"}
FLUX_INTERVAL = "30s"
"""The Kustomizations' interval: how often Flux compares and reverts drift (Flux's docs use 1m-10m)."""
SOURCE_INTERVAL = "1m"
"""The GitRepository's interval: what ``flux bootstrap`` and ``flux create source git`` give it. It
bounds a push whose reconcile request got lost to a minute (with 10m a lost request cost up to 10 min)."""
POLL_S = 0.05


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); ``inf`` entries count, as "not yet"."""
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


def application(
    engine: str, name: str, path: str, lab: Lab, flux_interval: str = FLUX_INTERVAL
) -> dict[str, Any]:
    """The object that makes ``path`` of the lab's repository an app of ``engine``, deployed to ``name``.

    An auto-synced Application (labkit's agent, Argo CD) or a Kustomization of
    GitRepository ``bench`` on ``flux_interval`` (Flux). Also used by
    ``bench_engine_scale``.
    """
    api, namespace = API[engine]
    meta = {"name": name, "namespace": namespace}
    if engine == "flux":
        spec = {
            "interval": flux_interval,
            "path": f"./{path}",
            "prune": True,
            "targetNamespace": name,
            "sourceRef": {"kind": "GitRepository", "name": "bench"},
        }
        return {"apiVersion": api, "kind": "Kustomization", "metadata": meta, "spec": spec}
    return {
        "apiVersion": api,
        "kind": "Application",
        "metadata": meta,
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


def git_repository(lab: Lab) -> dict[str, Any]:
    """Flux's GitRepository ``bench``: the lab's repository over HTTP (the post-receive hook pokes it)."""
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "bench", "namespace": "flux-system"},
        "spec": {"interval": SOURCE_INTERVAL, "url": githttp.url(lab.state_dir), "ref": {"branch": "main"}},
    }


def is_synced(engine: str, obj: dict[str, Any], sha: str) -> bool:
    """Has this Application (Synced at ``sha``) or Kustomization (Ready, applied ``sha``) caught up?"""
    status = obj.get("status") or {}
    if engine == "flux":
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        return ready and str(status.get("lastAppliedRevision", "")).endswith(sha)
    sync = status.get("sync") or {}
    return sync.get("status") == "Synced" and sync.get("revision") == sha


def _all_synced(kube: Kube, engine: str, names: set[str], sha: str) -> bool:
    """One list call per engine: are all ``names`` synced at ``sha``?"""
    api, namespace = API[engine]
    done = {
        o["metadata"]["name"] for o in kube.list(api, KIND[engine], namespace) if is_synced(engine, o, sha)
    }
    return names <= done


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``check`` every POLL_S; the monotonic time at which it first held."""
    return _wait_each({what: check}, timeout_s)[what]


def _wait_each(checks: dict[str, Callable[[], bool]], timeout_s: float) -> dict[str, float]:
    """Poll every check in the same loop (no engine waits for the other); when each first held."""
    deadline, seen = time.monotonic() + timeout_s, dict[str, float]()
    while len(seen) < len(checks):
        for key, check in checks.items():
            if key not in seen and check():
                seen[key] = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {sorted(set(checks) - set(seen))}")
        time.sleep(POLL_S)
    return seen


class Bench:
    """One benchmark run: every engine, one lab."""

    def __init__(self, lab: Lab, kube: Kube) -> None:
        self.lab, self.kube = lab, kube
        kube.apply(git_repository(lab), field_manager="bench")

    def create(self, names: dict[str, list[str]], replicas: int = 1, tag: str = "v0") -> str:
        files = {f"bench/{n}/app.yaml": _manifests(n, replicas, tag) for ns in names.values() for n in ns}
        sha = self.lab.repo.commit_and_push("bench: apps", files)
        for engine, apps in names.items():
            for name in apps:
                if engine == "flux":  # a Kustomization does not create its target namespace
                    self.kube.ensure_namespace(name)
                self.kube.apply(application(engine, name, f"bench/{name}", self.lab), field_manager="bench")
        return sha

    def commit_all(self, names: dict[str, list[str]], replicas: int, tag: str) -> tuple[str, float]:
        files = {f"bench/{n}/app.yaml": _manifests(n, replicas, tag) for ns in names.values() for n in ns}
        pushed = time.monotonic()
        return self.lab.repo.commit_and_push(f"bench: {tag}", files), pushed

    def delete(self, names: dict[str, list[str]]) -> None:
        for engine, apps in names.items():
            api, namespace = API[engine]
            for name in apps:
                self.kube.delete(api, KIND[engine], name, namespace)
                self.kube.delete("v1", "Namespace", name, None)


def commit_to_synced(bench: Bench, commits: int) -> dict[str, list[float]]:
    names = {e: [f"bench-{e}-one"] for e in ENGINES}

    def synced(sha: str) -> dict[str, Callable[[], bool]]:
        return {e: (lambda e=e: _all_synced(bench.kube, e, {names[e][0]}, sha)) for e in ENGINES}

    _wait_each(synced(bench.create(names)), 180)
    result: dict[str, list[float]] = {e: [] for e in ENGINES}
    for i in range(commits):
        sha, pushed = bench.commit_all(names, 1 + i % 2, f"c{i}")
        for engine, done in _wait_each(synced(sha), 120).items():
            result[engine].append(done - pushed)
    return result


def drift_to_healed(bench: Bench, rounds: int) -> dict[str, list[float]]:
    """One ``kubectl scale`` per app, on ``rounds`` fresh apps per engine: every heal is a first attempt.

    Drifting one app again and again would measure the self-heal backoff instead
    (labkit's agent and Argo CD wait 0, 2, 6, 18 … s between attempts on one app).
    """
    names = {
        e: [f"bench-{e}-d{i}" for i in range(rounds if e != "flux" else max(2, rounds // 2))] for e in ENGINES
    }

    def synced(sha: str) -> dict[str, Callable[[], bool]]:
        return {e: (lambda e=e: _all_synced(bench.kube, e, set(names[e]), sha)) for e in ENGINES}

    _wait_each(synced(bench.create(names)), 300)
    result: dict[str, list[float]] = {e: [] for e in ENGINES}
    for engine in ENGINES:
        for namespace in names[engine]:  # Flux: up to its 30 s interval each
            want = int((bench.kube.get("apps/v1", "Deployment", "web", namespace) or {})["spec"]["replicas"])
            start = time.monotonic()
            bench.lab.kubectl(
                "scale", "deployment/web", "-n", namespace, f"--replicas={want + 3}", echo=False
            )

            def healed(ns: str = namespace, want: int = want) -> bool:
                live = bench.kube.get("apps/v1", "Deployment", "web", ns) or {}
                return int((live.get("spec") or {}).get("replicas", -1)) == want

            result[engine].append(_wait(healed, 120, f"{engine} heal") - start)
    bench.delete(names)
    return result


def many_apps(bench: Bench, n: int) -> tuple[dict[str, list[str]], dict[str, float]]:
    names = {e: [f"bench-{e}-{i:03d}" for i in range(n)] for e in ENGINES}

    def all_synced(sha: str) -> dict[str, Callable[[], bool]]:
        return {e: (lambda e=e: _all_synced(bench.kube, e, set(names[e]), sha)) for e in ENGINES}

    _wait_each(all_synced(bench.create(names)), 900)
    sha, pushed = bench.commit_all(names, 2, "many")
    return names, {e: t - pushed for e, t in _wait_each(all_synced(sha), 900).items()}


def cpu_seconds(pid: int) -> float:
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
        "flux": [programs[n]["pid"] for n in FLUX_PROCESSES],
    }
    before = {e: sum(cpu_seconds(p) for p in ps) for e, ps in pids.items()}
    time.sleep(seconds)
    return {
        e: (100 * (sum(cpu_seconds(p) for p in ps) - before[e]) / seconds, sum(_rss_mb(p) for p in ps))
        for e, ps in pids.items()
    }


def run(lab: Lab, commits: int = 20, drifts: int = 10, apps: int = 50) -> list[Row]:
    lab.argocd.up(progress=print)
    lab.flux.up(progress=print)
    with lab.kube() as kube:
        bench = Bench(lab, kube)
        synced = commit_to_synced(bench, commits)
        healed = drift_to_healed(bench, drifts)
        names, many = many_apps(bench, apps)
        cost = idle_cost(lab)
        bench.delete(names)
    rows: list[Row] = []

    def triple(what: str, fmt: Callable[[str], str], ratio: Callable[[str], float], note: str) -> None:
        measured = " | ".join(f"{e} {fmt(e)}" for e in ENGINES)
        rows.append((what, measured, f"Argo CD x{ratio('argocd'):.1f}, Flux x{ratio('flux'):.1f}", note))

    for what, values, n in (
        ("commit -> synced (webhook / reconcile request)", synced, commits),
        ("drift -> healed (Flux: at its 30 s interval)", healed, drifts),
    ):
        for q in (0.5, 0.95):

            def fmt(e: str, v: dict[str, list[float]] = values, q: float = q) -> str:
                return f"{pct(v[e], q):.2f} s"

            def ratio(e: str, v: dict[str, list[float]] = values, q: float = q) -> float:
                return pct(v[e], q) / pct(v["labkit"], q)

            triple(f"{what} p{int(q * 100)}", fmt, ratio, f"n={n} (Flux drift n={len(healed['flux'])})")
    triple(
        f"{apps} apps x 5 resources, one commit -> all synced",
        lambda e: f"{many[e]:.1f} s",
        lambda e: many[e] / many["labkit"],
        "the same commit for every engine",
    )
    triple(
        f"idle CPU with {apps} apps (% of a core, 30 s)",
        lambda e: f"{cost[e][0]:.1f} %",
        lambda e: cost[e][0] / max(cost["labkit"][0], 0.01),
        "Argo CD: 3 processes + Redis; Flux: 2",
    )
    triple(
        f"RSS with {apps} apps",
        lambda e: f"{cost[e][1]:.0f} MB",
        lambda e: cost[e][1] / cost["labkit"][1],
        "sum over the engine's processes",
    )
    return rows
