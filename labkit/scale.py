"""The scale experiment: N Applications x 5 resources, one commit touching all, measured on the lab.

:func:`run` writes N app folders (``scale/<app>/app.yaml``: a Deployment and
four ConfigMaps) to the lab's repository in one commit, creates one
auto-synced Application per folder and waits until all are Synced and
Healthy; then it pushes one commit that changes every folder and measures,
from the timeline, how long each app took from the push to its
``sync_finished``. Last, one commit that changes none of the folders, which
every app still refreshes and compares (the what-if model's
``compare_unchanged``: apps on one repository see each other's commits).
Meanwhile it samples ``/proc`` of labkit's agent (CPU,
RSS) and, on a kwok lab, of the API server (CPU, RSS) and etcd (RSS). The
result, a :class:`ScaleRun`, is data: :meth:`ScaleRun.row` is one line of
the scale table, ``synced_s`` the latencies, ``since_ns``/``until_ns`` the
stretch of the timeline it covers.

:func:`validate` checks the what-if model (:mod:`labkit.sim`) against the
lab: it fits the model from a small run, predicts a larger one, and measures
it. Called by ``benchmarks/bench_scale.py`` (``python -m benchmarks.run
scale`` and ``scale-model``), ``tests/integration/test_scale.py`` and
notebooks; ``Lab.reset`` removes the apps again.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labkit.errors import LabkitError
from labkit.events import Event

if TYPE_CHECKING:
    from labkit.lab import Lab
    from labkit.sim import PipelineFit, Prediction

RESOURCES = 5
"""Objects per app: one Deployment and four ConfigMaps."""
FOLDER = "scale"
"""Where the generated app folders live in the lab's repository."""


@dataclass(frozen=True)
class ScaleRun:
    """One measured run: N apps, one commit, how long until each was Synced, and what it cost."""

    apps: int
    revision: str
    setup_s: float
    """Create the apps and wait for their first sync, in seconds (not part of the measurement)."""
    synced_s: tuple[float, ...]
    """Per app: seconds from the push to its successful automated sync of ``revision``."""
    agent_cpu_s: float
    """CPU seconds labkit's agent used between the push and the last app Synced."""
    agent_rss_mb: float
    """Peak resident memory of labkit's agent during the run, in MB."""
    apiserver_cpu_s: float
    """CPU seconds kube-apiserver used meanwhile (NaN when the lab is not kwok)."""
    apiserver_rss_mb: float
    """Peak resident memory of kube-apiserver, in MB (NaN when the lab is not kwok)."""
    etcd_rss_mb: float
    """Peak resident memory of etcd, in MB (NaN when the lab is not kwok)."""
    since_ns: int
    """The push, on the timeline's clock."""
    until_ns: int
    """The last app's sync, on the timeline's clock."""

    @property
    def all_synced_s(self) -> float:
        return max(self.synced_s)

    def quantile(self, q: float) -> float:
        from labkit.sim.model import quantile

        return quantile(self.synced_s, q)

    def row(self) -> dict[str, Any]:
        """One line of the scale table."""
        return {
            "apps": self.apps,
            "resources": self.apps * RESOURCES,
            "all_synced_s": round(self.all_synced_s, 1),
            "p50_s": round(self.quantile(0.5), 1),
            "p95_s": round(self.quantile(0.95), 1),
            "agent_cpu_s": round(self.agent_cpu_s, 1),
            "agent_rss_mb": round(self.agent_rss_mb),
            "apiserver_cpu_s": round(self.apiserver_cpu_s, 1),
            "apiserver_rss_mb": round(self.apiserver_rss_mb),
            "etcd_rss_mb": round(self.etcd_rss_mb),
            "setup_s": round(self.setup_s, 1),
        }


def app_names(apps: int, prefix: str = "s") -> list[str]:
    """The Applications of an N-app run: ``s-0000``, ``s-0001``, ..."""
    if apps < 1:
        raise LabkitError(f"a scale run needs at least 1 app, got {apps}", hint="try apps=100")
    return [f"{prefix}-{i:04d}" for i in range(apps)]


def manifests(stamp: str) -> str:
    """One app's folder content: a Deployment and four ConfigMaps carrying ``stamp``."""
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
    maps = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{j}"}, "data": {"stamp": stamp}}
        for j in range(RESOURCES - 1)
    ]
    return yaml.safe_dump_all([deploy, *maps])


def run(lab: Lab, apps: int, *, prefix: str = "s", timeout_s: float | None = None) -> ScaleRun:
    """Create ``apps`` apps, push one commit touching all, and measure until every one is Synced."""
    names = app_names(apps, prefix)
    timeout_s = timeout_s or max(300.0, 2.0 * apps)
    start = time.monotonic()
    first = lab.repo.commit_and_push(f"scale: {apps} apps", _folders(names, "v1"))
    follow = TimelineFollower(lab.timeline.path)
    for name in names:
        lab.apps.create(
            name,
            lab.repo.url,
            f"{FOLDER}/{name}",
            name,
            auto_sync=True,
            sync_options=("CreateNamespace=true",),
        )
    _wait_for(follow, names, first, timeout_s, _synced, "Synced")
    # Let the first sync's pods come up before measuring: the commit alone is measured.
    _wait_for(follow, names, first, timeout_s, lambda e: e.kind == "healthy", "Healthy")
    setup_s = time.monotonic() - start
    with ProcessSampler(_pids(lab)) as sampler:
        sha = lab.repo.commit_and_push(f"scale: touch {apps} apps", _folders(names, "v2"))
        done = _wait_for(follow, names, sha, timeout_s, _synced, "Synced")
    pushed = next(e.ts_ns for e in follow.seen if e.kind == "pushed" and e.revision == sha)
    nothing = {f"{FOLDER}/README.md": f"A commit that changes none of the {apps} apps ({sha[:7]}).\n"}
    same = lab.repo.commit_and_push(f"scale: change none of {apps} apps", nothing)
    _wait_for(follow, names, same, timeout_s, lambda e: e.kind == "diff_computed", "compared")
    return ScaleRun(
        apps=apps,
        revision=sha,
        setup_s=setup_s,
        synced_s=tuple(sorted((ts - pushed) / 1e9 for ts in done.values())),
        agent_cpu_s=sampler.cpu_s.get("agent", math.nan),
        agent_rss_mb=sampler.peak_mb.get("agent", math.nan),
        apiserver_cpu_s=sampler.cpu_s.get("kube-apiserver", math.nan),
        apiserver_rss_mb=sampler.peak_mb.get("kube-apiserver", math.nan),
        etcd_rss_mb=sampler.peak_mb.get("etcd", math.nan),
        since_ns=pushed,
        until_ns=max(done.values()) + 1,
    )


def _folders(names: Iterable[str], stamp: str) -> dict[str, str | None]:
    return {f"{FOLDER}/{name}/app.yaml": manifests(f"{stamp}-{name}") for name in names}


def _wait_for(
    follow: TimelineFollower,
    names: list[str],
    sha: str,
    timeout_s: float,
    what: Callable[[Event], bool],
    state: str,
) -> dict[str, int]:
    """App -> the time of its first event of ``sha`` that ``what`` accepts, once every app has one.

    ``state`` names what ``what`` waits for, in the message when the apps do not get there in time.
    """
    wanted, done = set(names), dict[str, int]()

    def take(events: list[Event]) -> None:
        for e in events:
            if e.app in wanted and e.app not in done and e.revision == sha and what(e):
                done[e.app] = e.ts_ns

    take(follow.seen)  # events read while waiting for something else
    deadline = time.monotonic() + timeout_s
    while len(done) < len(wanted):
        take(follow.new())
        if time.monotonic() > deadline:
            raise LabkitError(
                f"{len(done)} of {len(wanted)} apps {state} at {sha[:7]} after {timeout_s:.0f} s",
                hint="read the controller log (`labkit status` names it) and `labkit app list`",
            )
        time.sleep(0.5)
    return done


def _synced(e: Event) -> bool:
    return (
        e.kind == "sync_finished"
        and e.data.get("phase") == "Succeeded"
        and not e.data.get("dry_run")
        and bool(e.data.get("automated", True))
    )


class TimelineFollower:
    """Reads a timeline as it grows, like ``tail -f``: each call returns only the new events."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.seen: list[Event] = []

    def new(self) -> list[Event]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next call
        self.offset += len(complete)
        events = [Event.from_json(line) for line in complete.decode().splitlines() if line.strip()]
        self.seen += events
        return events


def _pids(lab: Lab) -> dict[str, int]:
    """The processes to watch: the agent, and kube-apiserver and etcd on a kwok lab."""
    from labkit.cluster import procs

    found = {"agent": int(lab.status()["controller"]["pid"])}
    cluster_dir = getattr(lab.backend, "cluster_dir", None)
    if isinstance(cluster_dir, Path):
        alive = procs.alive(cluster_dir)
        found |= {name: alive[name] for name in ("kube-apiserver", "etcd") if name in alive}
    return found


class ProcessSampler:
    """Peak RSS and CPU seconds of some processes, sampled from ``/proc`` while the block runs."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.5, read: Callable[[int], str] | None = None):
        self.pids = pids
        self.every_s = every_s
        self.read = read or (lambda pid: Path(f"/proc/{pid}/stat").read_text())
        self.peak_mb: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self._start: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scale-sampler", daemon=True)

    def __enter__(self) -> ProcessSampler:
        self._start = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        end = self._sample()
        self.cpu_s = {name: end[name] - self._start[name] for name in end if name in self._start}

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def _sample(self) -> dict[str, float]:
        """CPU seconds of each process now; peak RSS updated on the way."""
        cpu = {}
        for name, pid in self.pids.items():
            try:
                fields = self.read(pid).rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            cpu[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
            rss_mb = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), rss_mb)
        return cpu


def table(runs: Iterable[ScaleRun]) -> list[dict[str, Any]]:
    """The scale table: one row per run."""
    return [r.row() for r in runs]


@dataclass(frozen=True)
class Validation:
    """A small run to fit the model from, its prediction of a larger run, and that run measured."""

    calibration: ScaleRun
    fit: PipelineFit
    prediction: Prediction
    measured: ScaleRun

    def rows(self) -> list[dict[str, Any]]:
        """p50 and p95 of commit -> Synced, predicted and measured (:func:`labkit.sim.validation_rows`)."""
        from labkit.sim import validation_rows

        return validation_rows(self.prediction, self.measured.synced_s)


def validate(lab: Lab, apps: int, *, calibrate_apps: int = 50, seed: int = 0) -> Validation:
    """Fit the model from a ``calibrate_apps`` run, predict an ``apps`` run, then measure it on the lab.

    The calibration apps stay: they see the second run's commit too and compare
    without syncing, which the prediction counts (``touched``).
    """
    from labkit.settings import ControllerSettings
    from labkit.sim import fit_timeline, labkit_preset, predict_commit

    since = time.time_ns()
    calibration = run(lab, calibrate_apps, prefix="c")
    time.sleep(5.0)  # the calibration apps' pods turn Ready: their health step is measured too
    fit = fit_timeline(lab.timeline, since_ns=since, until_ns=time.time_ns())
    # The run adds one file per app (its app.yaml) to the repository every commit exports.
    config = labkit_preset(calibrate_apps + apps, ControllerSettings(), repo_files=fit.export_files + apps)
    # The calibration apps came first: the webhook queues them before the new ones.
    prediction = predict_commit(config, fit, touched=apps, touched_last=True, seed=seed)
    return Validation(calibration, fit, prediction, run(lab, apps, prefix="s"))
