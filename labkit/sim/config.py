"""What-if settings for the model, and presets for labkit's agent, Argo CD and Flux.

A :class:`SimConfig` says how many apps there are, what makes the agent look
at Git (a poll per app with jitter, one shared source poll, a webhook), and
how many hands it has (workers per controller shard, operation workers, a
render limit). :func:`labkit.sim.model.predict_commit` and
:func:`labkit.sim.model.predict_drift` take one; ``benchmarks/bench_sim.py``
builds them with :func:`labkit`, :func:`argocd` and :func:`flux` (through
:data:`PRESETS`). A preset changes the *shape* of the pipeline and its knobs;
every step still takes as long as the learner's own lab measured (see
:mod:`labkit.sim.fit`), so "Argo CD" reads "Argo CD's defaults on my lab's
step times".

Impossible settings (0 workers, a negative interval, more shards than apps,
no trigger at all) raise ``ValueError`` saying which field and why.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from labkit.settings import ControllerSettings


@dataclass(frozen=True)
class SimConfig:
    """One what-if: the apps, the triggers, the workers."""

    apps: int
    """Applications, each one commit's worth of work (render, compare, apply)."""
    poll_interval_s: float
    """Each app's own Git poll, in seconds; 0 = no per-app poll."""
    poll_jitter_s: float = 0.0
    """Uniform random extra on every poll, from 0 to this, in seconds."""
    poll_compares: bool = False
    """A poll also renders and compares when Git did not change (Argo CD's periodic full
    reconcile, Flux's interval re-apply); labkit's agent only asks Git then."""
    source_interval_s: float = 0.0
    """One shared Git poll for all apps, in seconds (Flux's GitRepository); 0 = none."""
    source_jitter_s: float = 0.0
    """Uniform random extra on every shared poll, in seconds."""
    webhook: bool = True
    """The Git server notifies the agent of each push, after the measured delivery delay."""
    workers: int = 4
    """Reconcile workers per controller shard (one app never handled by two at once)."""
    operation_workers: int = 0
    """Separate sync workers per shard (Argo CD's operation processors); 0 = the reconcile
    worker that found the new commit also syncs it (labkit, Flux)."""
    shards: int = 1
    """Controller shards; apps are dealt to them round-robin, each has its own workers."""
    watch_drift: bool = True
    """Drift is seen from watch events within the measured ``detect`` time (labkit, Argo CD);
    False = only when the app's next poll compares (Flux)."""
    render_parallelism: int = 0
    """At most this many refresh/render+compare steps at once, across shards (Argo CD's
    repo-server ``--parallelismlimit``); 0 = unlimited."""
    cpu_slots: int = 0
    """At most this many refresh, compare, apply, heal or overhead steps at once, across shards: 1
    for an agent that is one Python process (its worker threads share one GIL); 0 = unlimited."""
    heal_base_s: float = 2.0
    """Self-heal backoff base, in seconds: attempts wait 0, base, base*factor, ..."""
    heal_factor: float = 3.0
    """Self-heal backoff factor."""
    heal_cap_s: float = 300.0
    """Self-heal backoff cap, in seconds."""
    heal_cooldown_s: float = 330.0
    """Seconds without an attempt after which the backoff starts again at 0."""
    repo_files: int = 0
    """Files in the repository, which the export of each new commit copies (its time grows with
    them); 0 = as many as in the export the fit measured (``PipelineFit.export_files``)."""
    name: str = "custom"
    """What the table calls this configuration."""

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"SimConfig {self.name!r}: " + "; ".join(problems))

    def with_(self, **changes: Any) -> SimConfig:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    @property
    def poll_cycle_s(self) -> float:
        """The longest time between two looks at Git (0 with no poll at all)."""
        per_app = self.poll_interval_s + self.poll_jitter_s if self.poll_interval_s else 0.0
        shared = self.source_interval_s + self.source_jitter_s if self.source_interval_s else 0.0
        return max(per_app, shared)


def _problems(c: SimConfig) -> list[str]:
    problems = []
    if c.apps < 1:
        problems.append(f"apps must be at least 1, got {c.apps}")
    for name in ("workers", "shards"):
        if getattr(c, name) < 1:
            problems.append(f"{name} must be at least 1, got {getattr(c, name)} (nothing would ever sync)")
    for name in ("operation_workers", "render_parallelism", "cpu_slots", "repo_files"):
        if getattr(c, name) < 0:
            problems.append(f"{name} must be 0 (off) or more, got {getattr(c, name)}")
    floats = [f.name for f in fields(c) if f.name.endswith("_s")]
    problems += [f"{n} must not be negative, got {getattr(c, n)}" for n in floats if getattr(c, n) < 0]
    if c.heal_factor < 1:
        problems.append(f"heal_factor must be 1 or more (a backoff grows), got {c.heal_factor}")
    if c.shards > c.apps >= 1:
        problems.append(
            f"{c.shards} shards for {c.apps} apps: some shards would have no app; use at most {c.apps}"
        )
    if not c.watch_drift and not (c.poll_interval_s and c.poll_compares):
        problems.append("watch_drift off needs poll_interval_s and poll_compares: nothing would see drift")
    if not (c.webhook or c.poll_interval_s or c.source_interval_s):
        problems.append("no trigger: turn the webhook on or set poll_interval_s or source_interval_s")
    return problems


def labkit(apps: int, settings: ControllerSettings | None = None, **changes: Any) -> SimConfig:
    """labkit's own agent with its ``ControllerSettings`` (labkit/settings.py) defaults."""
    s = settings or ControllerSettings()
    config = SimConfig(
        apps=apps,
        poll_interval_s=s.poll_interval_s,  # ControllerSettings.poll_interval_s: 30 s
        poll_jitter_s=s.poll_jitter_s,  # ControllerSettings.poll_jitter_s: up to 5 s
        poll_compares=False,  # Controller.process: a poll that finds no new commit returns
        webhook=True,  # the lab's post-receive hook signs and sends one per push
        workers=s.workers,  # ControllerSettings.workers: 4
        # `labkit controller` is one Python process whose workers share one GIL, but they spend
        # most of a step waiting on the API server, and step times fitted from a run with busy
        # workers already hold that sharing: a slot of 1 counted it twice (100 apps, measured
        # p50 2.8 s; predicted 11.1 s with cpu_slots=1, 2.9 s with 0). Fit from a scale run.
        cpu_slots=0,
        heal_base_s=s.self_heal_base_s,
        heal_factor=s.self_heal_factor,
        heal_cap_s=s.self_heal_cap_s,
        heal_cooldown_s=s.self_heal_cooldown_s,
        name="labkit",
    )
    return config.with_(**changes)


def argocd(apps: int, **changes: Any) -> SimConfig:
    """Argo CD's application-controller and repo-server defaults."""
    config = SimConfig(
        apps=apps,
        # argocd-cm `timeout.reconciliation`, default 120s (docs: operator-manual/argocd-cm.yaml).
        poll_interval_s=120.0,
        # `timeout.reconciliation.jitter` (ARGOCD_RECONCILIATION_JITTER): up to 60s more, default since 2.x.
        poll_jitter_s=60.0,
        # The periodic refresh is a full CompareAppState: manifests (cached per revision) against live state.
        poll_compares=True,
        webhook=True,  # the api-server's /api/webhook refreshes every app of the pushed repo
        workers=20,  # argocd-application-controller --status-processors, default 20
        operation_workers=10,  # --operation-processors, default 10
        shards=1,  # one application-controller replica unless ARGOCD_CONTROLLER_REPLICAS is raised
        render_parallelism=0,  # argocd-repo-server --parallelismlimit, default 0 = unlimited
        # Self-heal backoff: --self-heal-backoff-timeout-seconds 2, -factor 3, -cap-seconds 300,
        # --self-heal-backoff-cooldown-seconds 330 (argocd-application-controller flags).
        heal_base_s=2.0,
        heal_factor=3.0,
        heal_cap_s=300.0,
        heal_cooldown_s=330.0,
        name="argocd",
    )
    return config.with_(**changes)


def flux(apps: int, **changes: Any) -> SimConfig:
    """Flux's source-controller and kustomize-controller with the intervals of Flux's docs' examples."""
    interval, kustomization = 60.0, 600.0
    jitter = 0.05  # --interval-jitter-percentage, default 5: each interval is moved by up to +/- 5 %
    config = SimConfig(
        apps=apps,
        # Kustomization `spec.interval: 10m` (flux docs' examples): a full re-apply of each app.
        poll_interval_s=kustomization * (1 - jitter),
        poll_jitter_s=kustomization * 2 * jitter,
        poll_compares=True,
        # GitRepository `spec.interval: 1m` (flux docs' examples): one fetch for every app of the repo;
        # a new artifact wakes each Kustomization that uses it at once.
        source_interval_s=interval * (1 - jitter),
        source_jitter_s=interval * 2 * jitter,
        webhook=False,  # only with a notification-controller Receiver configured
        watch_drift=False,  # kustomize-controller corrects drift on its interval, it watches no workload
        workers=4,  # kustomize-controller --concurrent, default 4
        name="flux",
    )
    return config.with_(**changes)


PRESETS = {"labkit": labkit, "argocd": argocd, "flux": flux}
"""Preset name -> function(apps, **changes) -> SimConfig."""
