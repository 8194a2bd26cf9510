"""Automated sync policy: when does the agent sync without being asked?

Pure decisions, taken after every comparison, from the Application's spec,
the comparison and a small :class:`Memory` of what the agent did before. The
rules mirror Argo CD's ``autoSync``:

- Auto-sync acts only when the app is OutOfSync, and only **once per
  revision**: a new commit is synced once; if that sync fails, the same
  revision is not tried again unless ``syncPolicy.retry`` allows it (with
  its backoff).
- Drift on a revision that was already synced is self-heal's business
  (``labkit.gitops.selfheal``): with ``selfHeal`` off the drift stays and
  shows as OutOfSync; with it on, only the drifted resources are synced.

``labkit.gitops.operations.Operations.act`` calls :func:`decide` when no
sync is running or requested, and carries the decision out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from labkit.gitops.application import AppSpec
from labkit.gitops.compare import Comparison
from labkit.gitops.selfheal import next_heal
from labkit.gitops.types import ResourceKey, SyncStatus
from labkit.settings import ControllerSettings


class Act(StrEnum):
    Nothing = "Nothing"
    AutoSync = "AutoSync"
    SelfHeal = "SelfHeal"
    Retry = "Retry"
    Wait = "Wait"


@dataclass(frozen=True)
class Memory:
    """What the agent remembers about one app between comparisons (replaced, never changed in place)."""

    synced_revision: str | None = None
    """The revision of the last automated sync attempt (success or not)."""
    last_failed: bool = False
    retries: int = 0
    last_attempt_at: float = 0.0
    heal_attempts: int = 0
    """Self-heal attempts on this revision since the backoff last started again."""
    last_heal_at: float = 0.0
    drifting: frozenset[ResourceKey] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Decision:
    act: Act
    reason: str
    resources: frozenset[ResourceKey] | None = None
    """For a self-heal: only these resources are synced."""
    wait_s: float = 0.0
    attempt: int = 0
    """For a self-heal: its number (1 = the first since the backoff started again)."""


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
    heal = next_heal(memory.heal_attempts, memory.last_heal_at, now, settings)
    if heal.wait_s > 0:
        return Decision(
            Act.Wait, f"self-heal backoff: next attempt in {heal.wait_s:.1f} s", wait_s=heal.wait_s
        )
    return Decision(
        Act.SelfHeal,
        f"self-heal attempt {heal.attempt} (backoff {heal.delay_s:.0f} s)",
        resources=frozenset(comparison.out_of_sync()),
        attempt=heal.attempt,
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
