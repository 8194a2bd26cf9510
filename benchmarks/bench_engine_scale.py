"""Scale for each engine: N apps x 5 resources, one commit touching all -> all synced, one engine at a time.

Run: ``python -m benchmarks.run engine-scale --apps 100,500,1000`` (``make
bench`` runs it at those sizes). Each size gets a fresh lab of its own
(:func:`benchmarks.bench_scale.measure`: :func:`~benchmarks.bench_scale.nodes_for`
kwok nodes, one for every 100 pods). On it the engines run ONE AT A TIME, so
that the measured engine has the machine's 2 cores to itself instead of a
third of them (``bench_engines`` runs all three together): labkit's agent
(always there), then the real Argo CD (``lab.argocd.up``, its default
processors), then the real Flux (``lab.flux.up``, kustomize-controller's
default ``--concurrent=4``; the GitRepository on a 1m and the Kustomizations on
a 10m interval, as ``flux bootstrap`` makes them). Each engine, in turn:

1. gets N apps from the same folders of the lab's repository over HTTP
   (``scale/s-0000`` …, :func:`labkit.scale.manifests`: a Deployment and four
   ConfigMaps each) as auto-synced Applications or Kustomizations
   (:func:`benchmarks.bench_engines.application`), and is waited for until
   all are synced and their pods ready (setup, not measured);
2. is pushed one commit that changes every folder (the same change for every
   engine, heard the way ``bench_engines`` describes); each app's push ->
   synced is observed from outside as ``bench_engines`` does (the engine's
   objects' status, one list call per poll, a poll every :func:`poll_s`, which
   grows with N so that the observer does not eat the engine's CPU), while
   :class:`labkit.scale.ProcessSampler` samples the CPU seconds and peak RSS
   of the engine's processes;
3. loses its apps and their namespaces again (Flux's objects before its
   controllers stop), and the engine stops.

The measured commit and the cleanup are bounded by :func:`limit_s`, the setup
(not measured, but needed before the commit can be) by :func:`setup_limit_s`,
which is longer: Argo CD took 466 s to set up 500 apps. A phase that runs out
does not end the run: the row says what was measured, e.g. "> 900 s (612 of 1000 synced)".
The table sets the times against Flux's published 16-core figures; the note
column gives each peer's time over labkit's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import bench_engines, bench_scale
from labkit import scale, supervisor
from labkit.argocd.processes import NAMES as ARGOCD_PROCESSES
from labkit.errors import KubeError
from labkit.flux.processes import NAMES as FLUX_PROCESSES
from labkit.kube import Kube

if TYPE_CHECKING:
    from labkit.lab import Lab

Row = tuple[str, str, str, str]
ENGINES = bench_engines.ENGINES
NAMES = {"labkit": "labkit's agent", "argocd": "Argo CD", "flux": "Flux"}
PROCESSES = {"labkit": ("controller",), "argocd": ARGOCD_PROCESSES, "flux": FLUX_PROCESSES}
"""The supervisor's names for each engine's processes (Argo CD's include its Redis)."""
FLUX_INTERVAL = "10m"
"""The Kustomizations' interval here: what ``flux bootstrap`` gives its Kustomization (the GitRepository
gets 1m, :data:`benchmarks.bench_engines.SOURCE_INTERVAL`). With ``bench_engines``' 30 s, 1000
Kustomizations would keep Flux re-applying ~33 a second whether or not anything changed."""


def limit_s(apps: int) -> float:
    """Seconds the measured commit and the cleanup may each take with ``apps`` apps."""
    return 300.0 + 0.6 * apps


def setup_limit_s(apps: int) -> float:
    """Seconds the setup (all apps synced, their pods ready) may take: 450 s at 100, 1800 s at 1000."""
    return 300.0 + 1.5 * apps


def poll_s(apps: int) -> float:
    """Seconds between the observer's list calls: 1 ms an app (0.1 s at 100, 1 s at 1000), at least 50 ms.

    A list's cost grows with N (an Argo CD Application with its status is a few kB): polling
    1000 apps every 50 ms would take a core from the engine being measured.
    """
    return max(bench_engines.POLL_S, apps / 1000)


@dataclass(frozen=True)
class EngineRun:
    """One engine with N apps: setup, each app's push -> synced of the measured commit, and its cost."""

    engine: str
    apps: int
    limit_s: float
    """How long each phase was allowed to take, in seconds."""
    setup_synced: int
    """Apps synced at the end of setup; fewer than ``apps`` means the commit was not measured."""
    setup_s: float
    """Seconds from creating the apps until all were synced and their pods ready (not measured)."""
    synced_s: tuple[float, ...]
    """Seconds from the push to each app seen synced, sorted; only the apps synced within the limit."""
    cpu_s: float
    """CPU seconds of the engine's processes from the push until the last app synced (or the limit)."""
    rss_mb: float
    """Peak resident memory meanwhile, summed over the engine's processes, in MB."""

    @property
    def measured(self) -> bool:
        return self.setup_synced == self.apps

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of push -> synced over all apps; ``inf`` when it lies beyond the limit."""
        if not self.measured:
            return math.inf
        missing = [math.inf] * (self.apps - len(self.synced_s))
        return bench_engines.pct([*self.synced_s, *missing], q)


def all_synced_text(run: EngineRun) -> str:
    """The time until the last app was synced, or how far it got: "> 900 s (612 of 1000 synced)"."""
    if not run.measured:
        return (
            f"setup > {setup_limit_s(run.apps):.0f} s ({run.setup_synced} of {run.apps} synced), not measured"
        )
    if len(run.synced_s) < run.apps:
        return f"> {run.limit_s:.0f} s ({len(run.synced_s)} of {run.apps} synced)"
    return f"{run.quantile(1.0):.1f} s"


def quantile_text(run: EngineRun, q: float) -> str:
    if not run.measured:
        return "not measured"
    value = run.quantile(q)
    return f"{value:.1f} s" if math.isfinite(value) else f"> {run.limit_s:.0f} s"


def ratio_text(peer: EngineRun, labkit: EngineRun, q: float) -> str:
    """The peer's time over labkit's at quantile ``q``: "x2.0", "> x8.1" past the peer's limit, "?"."""
    mine, theirs = labkit.quantile(q), peer.quantile(q)
    if not math.isfinite(mine) or mine <= 0 or not peer.measured:
        return "?"
    if not math.isfinite(theirs):
        return f"> x{peer.limit_s / mine:.1f}"
    return f"x{theirs / mine:.1f}"


def rows(runs: dict[str, EngineRun]) -> list[Row]:
    """The table's rows for one size: all synced, p50, p95 (peers' ratios in the note), then the cost."""
    n = runs["labkit"].apps
    flux_16 = bench_scale.FLUX_16_CORES.get(n)
    out: list[Row] = []
    for what, q, text in (
        (f"{n} apps x {scale.RESOURCES} resources, one commit -> all synced", 1.0, all_synced_text),
        (f"{n} apps: commit -> synced p50", 0.5, lambda r: quantile_text(r, 0.5)),
        (f"{n} apps: commit -> synced p95", 0.95, lambda r: quantile_text(r, 0.95)),
    ):
        measured = " | ".join(f"{e} {text(runs[e])}" for e in ENGINES)
        ratios = ", ".join(f"{NAMES[e]} {ratio_text(runs[e], runs['labkit'], q)}" for e in ENGINES[1:])
        target = f"Flux 16 cores: {flux_16}" if flux_16 and q == 1.0 else ""
        out.append((what, measured, target, ratios))
    cost = " | ".join(f"{e} {runs[e].cpu_s:.0f} CPU s, {runs[e].rss_mb:.0f} MB" for e in ENGINES)
    out.append((f"{n} apps: CPU, peak RSS during the commit", cost, "", "sum over each engine's processes"))
    return out


# -- on the lab ---------------------------------------------------------------------------------------


def folders(names: list[str], stamp: str) -> dict[str, str | None]:
    """The commit content: every app folder ``scale/<name>/app.yaml`` carrying ``stamp``."""
    return {f"{scale.FOLDER}/{name}/app.yaml": scale.manifests(f"{stamp}-{name}") for name in names}


def wait_synced(
    kube: Kube, engine: str, sha: str, since: float, limit: float, poll: float, apps: set[str]
) -> dict[str, float]:
    """App -> seconds from ``since`` until it was first seen synced at ``sha``; gives up after ``limit``."""
    api, namespace = bench_engines.API[engine]
    kind = bench_engines.KIND[engine]
    seen: dict[str, float] = {}
    deadline = time.monotonic() + limit
    while len(seen) < len(apps) and time.monotonic() < deadline:
        try:
            found = kube.list(api, kind, namespace)
        except KubeError:  # a busy API server: try again at the next poll
            found = []
        now = time.monotonic()
        for obj in found:
            name = obj["metadata"]["name"]
            if name in apps and name not in seen and bench_engines.is_synced(engine, obj, sha):
                seen[name] = now - since
        time.sleep(poll)
    return seen


def wait_pods_ready(kube: Kube, namespaces: set[str], limit: float, poll: float) -> int:
    """Wait until each namespace's Deployment ``web`` has a ready pod; how many have, at the end."""
    deadline, ready = time.monotonic() + limit, 0
    while time.monotonic() < deadline:
        deployments = kube.list("apps/v1", "Deployment")
        ready = sum(
            1
            for d in deployments
            if d["metadata"]["namespace"] in namespaces and (d.get("status") or {}).get("readyReplicas")
        )
        if ready == len(namespaces):
            break
        time.sleep(poll)
    return ready


def engine_pids(lab: Lab, engine: str) -> dict[str, int]:
    programs = supervisor.read_status(lab.state_dir)["programs"]
    return {name: int(programs[name]["pid"]) for name in PROCESSES[engine]}


def create(lab: Lab, kube: Kube, engine: str, apps: list[str], folder_of: dict[str, str]) -> None:
    """One auto-synced Application or Kustomization per app: its folder into a namespace of its name."""
    if engine == "flux":
        kube.apply(bench_engines.git_repository(lab), field_manager="bench")
    for name in apps:
        if engine == "flux":  # a Kustomization does not create its target namespace
            kube.ensure_namespace(name)
        app = bench_engines.application(engine, name, folder_of[name], lab, flux_interval=FLUX_INTERVAL)
        kube.apply(app, field_manager="bench")


def measure_engine(lab: Lab, kube: Kube, engine: str, n: int, head: str, stamp: str) -> tuple[EngineRun, str]:
    """Set up ``n`` apps of ``engine`` at ``head``, push ``stamp`` to every folder, measure; (run, head)."""
    folder_names = scale.app_names(n)
    apps = scale.app_names(n, prefix=engine)
    limit, poll = limit_s(n), poll_s(n)
    start = time.monotonic()
    create(
        lab, kube, engine, apps, {a: f"{scale.FOLDER}/{f}" for a, f in zip(apps, folder_names, strict=True)}
    )
    setup_limit = setup_limit_s(n)
    setup = wait_synced(kube, engine, head, start, setup_limit, poll, set(apps))
    if len(setup) < n:
        return EngineRun(engine, n, limit, len(setup), math.inf, (), math.nan, math.nan), head
    ready = wait_pods_ready(kube, set(apps), max(60.0, setup_limit - (time.monotonic() - start)), poll)
    if ready < n:
        print(
            f"  {engine}: {ready} of {n} pods ready after {setup_limit:.0f} s; measuring anyway", flush=True
        )
    setup_s = time.monotonic() - start
    with scale.ProcessSampler(engine_pids(lab, engine)) as sampler:
        pushed = time.monotonic()
        sha = lab.repo.commit_and_push(f"engine-scale: {stamp} in {n} apps", folders(folder_names, stamp))
        done = wait_synced(kube, engine, sha, pushed, limit, poll, set(apps))
    run = EngineRun(
        engine=engine,
        apps=n,
        limit_s=limit,
        setup_synced=n,
        setup_s=setup_s,
        synced_s=tuple(sorted(done.values())),
        cpu_s=sum(sampler.cpu_s.values()),
        rss_mb=sum(sampler.peak_mb.values()),
    )
    return run, sha


def remove(kube: Kube, engine: str, apps: list[str], limit: float) -> None:
    """Delete the engine's apps and their namespaces; wait until gone (finalizers dropped after 60 s)."""
    api, namespace = bench_engines.API[engine]
    kind, wanted = bench_engines.KIND[engine], set(apps)
    for name in apps:  # a Kustomization's finalizer prunes what it applied: its controller must still run
        kube.delete(api, kind, name, namespace, propagation="Background")
        kube.delete("v1", "Namespace", name, None, propagation="Background")
    start = time.monotonic()
    while time.monotonic() - start < limit:
        left = [o for o in kube.list(api, kind, namespace) if o["metadata"]["name"] in wanted]
        namespaces = [o for o in kube.list("v1", "Namespace") if o["metadata"]["name"] in wanted]
        if not left and not namespaces:
            return
        if time.monotonic() - start > 60:
            for obj in left:
                kube.patch(api, kind, obj["metadata"]["name"], namespace, {"metadata": {"finalizers": None}})
        time.sleep(1.0)
    print(
        f"  {engine}: {len(left)} apps, {len(namespaces)} namespaces still there after {limit:.0f} s",
        flush=True,
    )


def start_engine(lab: Lab, engine: str) -> None:
    if engine == "argocd":
        lab.argocd.up(progress=print)
    elif engine == "flux":
        lab.flux.up(progress=print)


def stop_engine(lab: Lab, engine: str) -> None:
    if engine == "argocd":
        lab.argocd.down(progress=print)
    elif engine == "flux":
        lab.flux.down(progress=print)


def progress_line(run: EngineRun) -> str:
    return (
        f"engine-scale {run.apps} apps, {run.engine}: setup {run.setup_s:.1f} s; "
        f"commit -> all synced {all_synced_text(run)}, p50 {quantile_text(run, 0.5)}, "
        f"p95 {quantile_text(run, 0.95)}; {run.cpu_s:.0f} CPU s, {run.rss_mb:.0f} MB"
    )


def measure_engines(lab: Lab, n: int) -> dict[str, EngineRun]:
    """Every engine in turn on this lab, with ``n`` apps from the same folders; one run each."""
    head = lab.repo.commit_and_push(f"engine-scale: {n} app folders", folders(scale.app_names(n), "c0"))
    runs: dict[str, EngineRun] = {}
    with lab.kube() as kube:
        for k, engine in enumerate(ENGINES, start=1):
            start_engine(lab, engine)
            try:
                runs[engine], head = measure_engine(lab, kube, engine, n, head, f"c{k}")
                print(progress_line(runs[engine]), flush=True)
            finally:
                remove(kube, engine, scale.app_names(n, prefix=engine), limit_s(n))
                stop_engine(lab, engine)
    return runs


def run(tmp: Path, apps: tuple[int, ...] = bench_scale.APPS) -> list[Row]:
    """The engine-scale table: for each size a fresh lab, every engine measured on it in turn."""
    from benchmarks.run import table

    out: list[Row] = []
    for n in apps:
        runs: dict[str, EngineRun] = bench_scale.measure(tmp, n, measure_engines)
        print(table(f"engine-scale, {n} apps", rows(runs)), flush=True)  # each size as soon as it is done
        out += rows(runs)
    return out
