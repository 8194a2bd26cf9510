"""The chaos soak (issue 12): N minutes of commits, drift and faults on a lab of its own, then invariants.

``python -m benchmarks.run soak --minutes N`` (``make bench`` runs the long one;
``tests/integration/test_soak.py`` a 2-minute one). On a fresh lab with three
Applications (two with auto-sync and self-heal, one with auto-sync only), it
does, at random and for ``minutes`` (at most :data:`OPS_PER_MINUTE` per minute):
commit to Git, scale a self-heal app's Deployment with kubectl, SIGKILL one
supervised process (the controller while a Deployment is scaled, the Git HTTP
server while a commit is pushed), restart kube-apiserver, send a webhook burst
(:mod:`benchmarks.soak_faults`). A process is killed again only once it ran
``supervisor.STABLE_S``, so each kill measures recovery, not backoff.

Then it lets the lab settle and checks: every auto-sync app equals Git (its
diff is empty and it is Synced at HEAD); every self-heal app healed; each
app's history has one entry per successful sync on the timeline (ids 0..n-1)
and every revision synced; the agent's outages (``agent_up`` on the timeline) are no longer than
the worst restart plus one heartbeat; and after ``labkit down`` no process and
no temporary file of the soak's lab is left (the lab runs with a TMPDIR of its
own, so this is seen exactly). :func:`soak` returns a :class:`SoakReport`.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks import soak_checks as checks
from benchmarks.soak_checks import Check
from benchmarks.soak_faults import OPENER, Faults
from benchmarks.soak_report import Row, SoakReport, Tally
from labkit import supervisor
from labkit.apps import AppClient
from labkit.drift import DriftInjector
from labkit.errors import LabkitError
from labkit.gitops.application import application_manifest
from labkit.lab import Lab
from labkit.settings import Settings

HEAL_APPS, AUTO_APPS = ("soak-heal-a", "soak-heal-b"), ("soak-auto",)
OPS_PER_MINUTE = 60
"""The bound on operations: never more than this many per minute of soak."""
WEIGHTS = {"commit": 3, "drift": 3, "kill": 3, "apiserver": 1, "webhooks": 1}
KEEP_DIR = Path("bench-output")
"""Where a soak whose invariants failed leaves its timeline, logs and statuses (git-ignored)."""
APISERVER_EVERY_S = 20.0
"""kube-apiserver is restarted at most this often (its leaders need a lease renewal in between)."""


def _app_yaml(replicas: int, greeting: str) -> str:
    labels = {"app": "web"}
    deploy = {
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
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config"},
        "data": {"GREETING": greeting},
    }
    return yaml.safe_dump_all([deploy, config])


class Soak:
    """One soak on one lab: :meth:`setup`, :meth:`run`, then :meth:`check`."""

    def __init__(self, lab: Lab, rng: random.Random, progress: Callable[[str], None]) -> None:
        self.lab, self.rng, self.progress = lab, rng, progress
        self.kube = lab.kube()
        self.apps = AppClient(self.kube)
        self.drift = DriftInjector(lab.kubeconfig, lab.timeline, echo=lambda line: None, context=lab.context)
        self.faults = Faults(lab)
        self.tally = Tally()
        self.since_ns = time.time_ns()
        self.apiserver_at = 0.0
        self.started = time.monotonic()

    def setup(self) -> None:
        """Three apps in Git, their Applications created (history kept whole), all Synced."""
        names = HEAL_APPS + AUTO_APPS
        self.lab.repo.commit_and_push(
            "soak: three apps", {f"apps/{n}/app.yaml": _app_yaml(1, "start") for n in names}
        )
        for name in names:
            obj = application_manifest(
                name,
                self.lab.repo.url,
                f"apps/{name}",
                name,
                auto_sync=True,
                self_heal=name in HEAL_APPS,
                sync_options=("CreateNamespace=true",),
            )
            obj["metadata"]["namespace"] = self.apps.namespace
            obj["spec"]["revisionHistoryLimit"] = 10_000  # the soak counts every entry
            result = self.kube.apply(obj, field_manager="labkit-soak")
            if not result.ok:
                raise LabkitError(f"cannot create Application {name}: {result.message}")
        for name in names:
            self.apps.wait(name, sync="Synced", health="Healthy", timeout_s=120)

    def run(self, minutes: float) -> None:
        """Random operations and faults until ``minutes`` pass or the operation budget is spent."""
        self.started = time.monotonic()
        deadline, budget = self.started + minutes * 60, max(1, int(minutes * OPS_PER_MINUTE))
        actions: dict[str, Callable[[], object]] = {
            "commit": self._commit,
            "drift": self._drift,
            "kill": self._kill,
            "apiserver": self._apiserver,
            "webhooks": self._webhooks,
        }
        while time.monotonic() < deadline and sum(self.tally.ops.values()) < budget:
            op = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
            try:
                actions[op]()
            except LabkitError as e:
                self.tally.errors.append(f"{op}: {e.message.splitlines()[0]}")
                self.progress(f"{op} failed: {e.message.splitlines()[0]}")
            time.sleep(self.rng.uniform(0.2, 1.0))

    def _say(self, text: str) -> None:
        self.progress(f"{time.monotonic() - self.started:6.0f}s {text}")

    # -- operations ------------------------------------------------------------------------

    def _commit(self, name: str | None = None) -> str:
        name = name or self.rng.choice(HEAL_APPS + AUTO_APPS)
        text = _app_yaml(self.rng.randint(1, 3), f"commit-{self.tally.ops['commit']}")
        self.tally.ops["commit"] += 1
        return self.lab.repo.commit_and_push(f"soak: {name}", {f"apps/{name}/app.yaml": text})

    def _drift(self) -> tuple[str, int]:
        name, mark = self.rng.choice(HEAL_APPS), time.time_ns()
        self.drift.scale(name, "web", self.rng.randint(4, 6), app=name)  # Git asks for 1 to 3
        self.tally.ops["drift"] += 1
        return name, mark

    def _kill(self) -> None:
        status = supervisor.read_status(self.lab.state_dir).get("programs", {})
        stable = [
            n
            for n in ("controller", "git-http")
            if time.time() - float(status.get(n, {}).get("started_at") or 0) >= supervisor.STABLE_S
        ]
        if not stable:
            self._commit()
            return
        name = self.rng.choice(stable)
        self.tally.ops["kill"] += 1
        self.tally.faults[name] += 1
        made: list[tuple[str, int]] = []
        during = (lambda: made.append(self._drift())) if name == "controller" else self._commit
        took = self.faults.kill(name, during)
        self._count(name, took)
        if name == "controller" and made and took is not None:
            self._outage_healed(*made[0])
        if name == "git-http" and took is not None:
            self._http_serves_head()

    def _count(self, name: str, took: float | None) -> None:
        if took is None:
            self._say(f"{name} did NOT come back within 60 s")
            return
        self.tally.survived[name] += 1
        self.tally.recovery.setdefault(name, []).append(took)
        self._say(f"{name}: back in {took:.2f} s")

    def _outage_healed(self, app: str, mark: int) -> None:
        """Drift made while the controller was down: seconds from the new agent's first beat until the
        Deployment is back to what Git asks (1 to 3 replicas), by self-heal or by a sync of a newer commit."""
        deadline, back_ns = time.monotonic() + 30, 0
        while time.monotonic() < deadline:
            live = self.kube.get("apps/v1", "Deployment", "web", app) or {}
            if not back_ns and int((live.get("spec") or {}).get("replicas") or 0) <= 3:
                back_ns = time.time_ns()
            ups = self.lab.timeline.read(kind="agent_up", since_ns=mark)
            if back_ns and ups:
                self.tally.outage_heal.append(max(0.0, (back_ns - ups[0].ts_ns) / 1e9))
                return
            time.sleep(0.1)
        self.tally.errors.append(f"drift on {app} made while the controller was down was not undone in 30 s")

    def _http_serves_head(self) -> None:
        head = self.lab.repo.head()
        with OPENER.open(f"{self.lab.repo.http_url}/info/refs?service=git-upload-pack", timeout=5) as resp:
            if head.encode() not in resp.read():
                self.tally.errors.append(f"git-http does not serve {head[:7]}, pushed while it was down")

    def _apiserver(self) -> None:
        if self.faults.cluster_dir is None or time.monotonic() - self.apiserver_at < APISERVER_EVERY_S:
            self._drift()
            return
        self.tally.ops["apiserver"] += 1
        self.tally.faults["kube-apiserver"] += 1
        took = self.faults.restart_apiserver(self._commit)
        self.apiserver_at = time.monotonic()
        self._count("kube-apiserver", took)

    def _webhooks(self) -> None:
        self.tally.ops["webhooks"] += 1
        self.tally.webhooks_accepted += self.faults.webhook_burst(20)

    # -- invariants --------------------------------------------------------------------------

    def check(self) -> list[Check]:
        """Let the lab settle, then check what must hold after any number of faults."""
        self.faults.revive()
        names, head, timeline = HEAL_APPS + AUTO_APPS, self.lab.repo.head(), self.lab.timeline
        equal = checks.equal_to_git(self.apps, names, head, self._say)
        drifts = len(timeline.read(kind="drift_injected", since_ns=self.since_ns))
        heals = len(timeline.read(kind="healed", since_ns=self.since_ns))
        healed = [n for n in HEAL_APPS if n in equal]
        worst = max(self.tally.recovery.get("controller") or [0.0])
        return [
            Check(
                "auto-sync apps equal Git",
                len(equal) == len(names),
                f"{len(equal)}/{len(names)} at {head[:7]}",
            ),
            Check(
                "self-heal apps healed",
                len(healed) == len(HEAL_APPS),
                f"{len(healed)}/{len(HEAL_APPS)} (drifts {drifts}, heals {heals})",
            ),
            checks.history(self.apps, timeline, names),
            checks.agent_outages(timeline, self.since_ns, worst),
        ]

    def keep(self, dest: Path) -> Path:
        """Copy what explains a failed invariant out of the lab before it is torn down.

        The timeline, every log in the lab's directory and each app's last
        status go to ``dest``; the lab itself is removed as always.
        """
        dest.mkdir(parents=True, exist_ok=True)
        state = self.lab.state_dir
        for path in [state / "timeline.jsonl", *state.glob("*.log"), *state.glob("*/*.log")]:
            if path.is_file():
                shutil.copy2(path, dest / path.name)
        for name in HEAL_APPS + AUTO_APPS:
            (dest / f"{name}.yaml").write_text(yaml.safe_dump(self.apps.get(name)))
        return dest

    def close(self) -> None:
        self.kube.close()


def soak(
    settings: Settings, minutes: float, *, seed: int | None = None, progress: Callable[[str], None] = print
) -> SoakReport:
    """Bring a lab up for ``settings``, soak it for ``minutes``, take it down, check; the report."""
    tmp = settings.home / "soak-tmp"
    runner: Soak | None = None
    try:
        with checks.private_tmp(tmp):
            lab = Lab.up(settings, progress=lambda m: None)
            try:
                runner = Soak(lab, random.Random(seed), progress)
                runner.setup()
                runner.run(minutes)
                found = runner.check()
                if not all(c.ok for c in found):
                    kept = runner.keep(KEEP_DIR / time.strftime("soak-failed-%Y%m%d-%H%M%S"))
                    progress(f"an invariant failed: timeline, logs and statuses kept in {kept}")
            finally:
                if runner is not None:
                    runner.close()
                Lab.teardown(settings, progress=lambda m: None)
        found += checks.leftovers(settings, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert runner is not None
    return SoakReport(minutes, runner.tally, tuple(found))


def run(tmp: Path, minutes: float) -> list[Row]:
    """What ``python -m benchmarks.run soak --minutes N`` calls: a soak on a lab in ``tmp``."""
    return soak(Settings(home=tmp / "soak-home", lab="soak"), minutes).rows()
