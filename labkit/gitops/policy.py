"""Auto-sync, self-heal and retry: when does the agent act without being asked?

Pure decisions, taken after every comparison, from the Application's spec,
the comparison and a small memory of what the agent did before. The rules
mirror Argo CD:

- Auto-sync acts only when the app is OutOfSync, and only **once per
  revision**: a new commit is synced once; if that sync fails, the same
  revision is not tried again unless ``retry`` allows it (with backoff).
- Drift on a revision that was already synced is *self-heal*'s business. With
  ``selfHeal`` off the drift stays (and shows as OutOfSync). With it on, only
  the out-of-sync resources are re-synced, with a backoff between attempts:
  0 s, then 2, 6, 18, 54, 162 s, capped at 300 s. The attempt count is kept
  while the same revision keeps drifting (a person or an HPA re-drifting right
  after each heal meets growing pauses); it starts again from 0 for a new
  revision, or once no attempt was needed for
  ``ControllerSettings.self_heal_cooldown_s`` (Argo CD's
  ``--self-heal-backoff-cooldown-seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from labkit.gitops.application import AppSpec, ResourceKey, SyncStatus
from labkit.gitops.reconcile import Comparison
from labkit.settings import ControllerSettings


class Act(StrEnum):
    Nothing = "Nothing"
    AutoSync = "AutoSync"
    SelfHeal = "SelfHeal"
    Retry = "Retry"
    Wait = "Wait"


@dataclass
class Memory:
    """What the agent remembers about one app between comparisons."""

    synced_revision: str | None = None
    """The revision of the last automated sync attempt (success or not)."""
    last_failed: bool = False
    retries: int = 0
    last_attempt_at: float = 0.0
    heal_attempts: int = 0
    """Self-heal attempts on this revision since the backoff last started again."""
    last_heal_at: float = 0.0
    drifting: set[ResourceKey] = field(default_factory=set)


@dataclass(frozen=True)
class Decision:
    act: Act
    reason: str
    resources: frozenset[ResourceKey] | None = None
    """For a self-heal: only these resources are synced."""
    wait_s: float = 0.0
    attempt: int = 0
    """For a self-heal: its number (1 = the first since the backoff started again)."""


def heal_delay(attempt: int, s: ControllerSettings) -> float:
    """Seconds to wait before self-heal attempt ``attempt`` (0-based): 0, 2, 6, 18, ..."""
    if attempt <= 0:
        return 0.0
    return float(min(s.self_heal_base_s * s.self_heal_factor ** (attempt - 1), s.self_heal_cap_s))


def heal_attempts_made(memory: Memory, now: float, s: ControllerSettings) -> int:
    """Attempts that count for the backoff now: none once the cooldown has passed since the last one."""
    if memory.heal_attempts and now - memory.last_heal_at < s.self_heal_cooldown_s:
        return memory.heal_attempts
    return 0


def decide(
    spec: AppSpec, comparison: Comparison | None, memory: Memory, now: float, settings: ControllerSettings
) -> Decision:
    """What the agent should do now, and why (the reason is shown to learners)."""
    if comparison is None or comparison.sync_status is not SyncStatus.OutOfSync:
        return Decision(Act.Nothing, "in sync" if comparison else "not compared yet")
    if not spec.automated:
        return Decision(Act.Nothing, "OutOfSync, and auto-sync is off: waiting for a manual sync")
    if comparison.revision != memory.synced_revision:
        return Decision(Act.AutoSync, f"new revision {comparison.revision[:7]}: auto-sync")
    if memory.last_failed:
        return _retry(spec, memory, now)
    if not spec.self_heal:
        return Decision(Act.Nothing, "drift on an already synced revision, and selfHeal is off")
    made = heal_attempts_made(memory, now, settings)
    delay = heal_delay(made, settings)
    remaining = memory.last_heal_at + delay - now
    if made and remaining > 0:
        return Decision(Act.Wait, f"self-heal backoff: next attempt in {remaining:.1f} s", wait_s=remaining)
    return Decision(
        Act.SelfHeal,
        f"self-heal attempt {made + 1} (backoff {delay:.0f} s)",
        resources=frozenset(comparison.out_of_sync()),
        attempt=made + 1,
    )


def _retry(spec: AppSpec, memory: Memory, now: float) -> Decision:
    if not spec.retry.allows(memory.retries):
        return Decision(
            Act.Nothing,
            "the last automated sync of this revision failed; it is not retried "
            "(set syncPolicy.retry, push a fix, or sync by hand)",
        )
    delay = spec.retry.backoff.delay(memory.retries)
    remaining = memory.last_attempt_at + delay - now
    if remaining > 0:
        return Decision(Act.Wait, f"retry backoff: next attempt in {remaining:.1f} s", wait_s=remaining)
    return Decision(Act.Retry, f"retry {memory.retries + 1} of the failed sync")
