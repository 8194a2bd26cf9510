"""Self-heal: undoing drift — a change made in the cluster, not in Git — with a backoff.

Drift is an OutOfSync app on the revision it last synced successfully
(:func:`observe_drift`; a new commit is auto-sync's business, see
``labkit.gitops.autosync``). With ``syncPolicy.automated.selfHeal`` on, only
the drifted resources are synced again, with a growing pause between
attempts: 0 s, then 2, 6, 18, 54, 162 s, capped at 300 s
(``ControllerSettings.self_heal_*``). The attempt count is kept while the
same revision keeps drifting (a person or an HPA re-drifting right after each
heal meets growing pauses); it starts again from 0 for a new revision, or
once no attempt was needed for ``ControllerSettings.self_heal_cooldown_s``
(Argo CD's ``--self-heal-backoff-cooldown-seconds``).

``labkit.gitops.autosync.decide`` asks :func:`next_heal`; the controller
calls :func:`observe_drift` after every comparison and writes the events it
returns to the timeline. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.gitops.compare import Comparison
from labkit.gitops.types import ResourceKey, SyncStatus
from labkit.settings import ControllerSettings


def heal_delay(attempt: int, s: ControllerSettings) -> float:
    """Seconds to wait before self-heal attempt ``attempt`` (0-based): 0, 2, 6, 18, ..."""
    if attempt <= 0:
        return 0.0
    return float(min(s.self_heal_base_s * s.self_heal_factor ** (attempt - 1), s.self_heal_cap_s))


def heal_attempts_made(attempts: int, last_heal_at: float, now: float, s: ControllerSettings) -> int:
    """Attempts that count for the backoff now: none once the cooldown has passed since the last one."""
    if attempts and now - last_heal_at < s.self_heal_cooldown_s:
        return attempts
    return 0


@dataclass(frozen=True)
class NextHeal:
    attempt: int
    """The number of the next attempt (1 = the first since the backoff started again)."""
    delay_s: float
    """The backoff before that attempt."""
    wait_s: float
    """Seconds still to wait; 0 = heal now."""


def next_heal(attempts: int, last_heal_at: float, now: float, s: ControllerSettings) -> NextHeal:
    made = heal_attempts_made(attempts, last_heal_at, now, s)
    delay = heal_delay(made, s)
    wait = max(last_heal_at + delay - now, 0.0) if made else 0.0
    return NextHeal(made + 1, delay, wait)


@dataclass(frozen=True)
class DriftReport:
    """What one comparison says about drift: the resources drifting now and the timeline events."""

    drifting: frozenset[ResourceKey]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(kind, data) pairs for the timeline: ``drift_detected`` and ``healed``."""


def observe_drift(
    comparison: Comparison,
    *,
    deployed_revision: str | None,
    sync_running: bool,
    drifting_before: frozenset[ResourceKey],
    heal_attempts: int,
    self_heal: bool,
) -> DriftReport:
    """Drift = OutOfSync on the revision that was last synced successfully, while no sync runs."""
    drifting = (
        comparison.sync_status is SyncStatus.OutOfSync
        and comparison.revision == deployed_revision
        and not sync_running
    )
    keys = frozenset(comparison.out_of_sync()) if drifting else frozenset()
    events: list[tuple[str, dict[str, Any]]] = []
    if new := keys - drifting_before:
        paths = {str(k): list(s.diff.changed_paths) for k in new if (s := comparison.get(k))}
        events.append(
            (
                "drift_detected",
                {
                    "revision": comparison.revision,
                    "resources": sorted(paths),
                    "paths": paths,
                    "self_heal": self_heal,
                },
            )
        )
    if comparison.sync_status is SyncStatus.Synced and drifting_before:
        resources = sorted(str(k) for k in drifting_before)
        events.append(
            ("healed", {"revision": comparison.revision, "resources": resources, "attempts": heal_attempts})
        )
    return DriftReport(keys, events)
