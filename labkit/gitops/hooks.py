"""Hooks: objects (usually Jobs) a sync runs in a phase, and deletes again by policy.

An object annotated ``argocd.argoproj.io/hook: PreSync`` (or ``Sync``,
``PostSync``, ``SyncFail``; several may be listed) is a hook
(``labkit.gitops.reconcile.is_hook``). It is not compared with the cluster
and never pruned; each sync creates it afresh in its phase, and the phase's
next wave starts only once the hook has finished:

- **PreSync** hooks run before anything is applied (a database migration),
  **Sync** hooks with the resources, **PostSync** hooks after every resource
  is Healthy (a smoke test).
- **SyncFail** hooks run only when the sync has failed (a notification);
  the operation stays Running until they finish, then it is Failed.
- ``Skip`` is not a phase: the object is never applied (``reconcile.is_skipped``).

``argocd.argoproj.io/hook-delete-policy`` says when the hook object goes
(default ``BeforeHookCreation``): **BeforeHookCreation** deletes the previous
run's object just before creating the new one; **HookSucceeded** deletes it
once it has succeeded; **HookFailed** once it has failed. Without
BeforeHookCreation an earlier run's object stays and is applied over, as in
Argo CD.

``labkit.gitops.plan`` reads phases and policies with :func:`hook_phases` and
:func:`delete_policies`; ``labkit.gitops.sync`` judges a running hook with
:func:`outcome` and asks :func:`deleted_after` whether it goes. Pure
functions, no I/O.
"""

from __future__ import annotations

from enum import StrEnum

from labkit.gitops import annotations as ann
from labkit.gitops.annotations import AnnotationError
from labkit.gitops.health import health_of
from labkit.gitops.reconcile import SKIP, hook_values
from labkit.gitops.types import HealthStatus, Manifest, ResourceKey, SyncPhase


class DeletePolicy(StrEnum):
    BeforeHookCreation = "BeforeHookCreation"
    HookSucceeded = "HookSucceeded"
    HookFailed = "HookFailed"


DEFAULT_DELETE_POLICIES = frozenset({DeletePolicy.BeforeHookCreation})


class Outcome(StrEnum):
    """Where a created hook is: still running, or finished one way or the other."""

    Running = "Running"
    Succeeded = "Succeeded"
    Failed = "Failed"


def hook_phases(key: ResourceKey, obj: Manifest | None) -> list[SyncPhase]:
    """The phases a hook runs in ([] for an ordinary resource or a Skip); unknown names refuse the sync."""
    found = ann.lookup(obj, ann.HOOK)
    values = hook_values(obj)
    if found is None or SKIP in values:
        return []
    allowed = [p.value for p in SyncPhase] + [SKIP]
    for value in values:
        if value not in allowed:
            raise AnnotationError(
                f"{key}: unknown hook {value!r} in {found[0]}; use one of {', '.join(allowed)}"
            )
    return [SyncPhase(v) for v in values]


def delete_policies(key: ResourceKey, obj: Manifest | None) -> frozenset[DeletePolicy]:
    """The hook's delete policies (default BeforeHookCreation); unknown names refuse the sync."""
    found = ann.lookup(obj, ann.HOOK_DELETE_POLICY)
    if found is None:
        return DEFAULT_DELETE_POLICIES
    name, raw = found
    policies = set()
    for value in (v.strip() for v in raw.split(",") if v.strip()):
        try:
            policies.add(DeletePolicy(value))
        except ValueError:
            known = ", ".join(p.value for p in DeletePolicy)
            raise AnnotationError(f"{key}: unknown {name} {value!r}; use {known}") from None
    return frozenset(policies) or DEFAULT_DELETE_POLICIES


def outcome(live: Manifest | None) -> tuple[Outcome, str]:
    """A created hook's outcome from its health: Healthy = succeeded, Degraded = failed.

    Kinds without a health check (a ConfigMap hook) succeed once they exist.
    """
    if live is None:
        return Outcome.Running, "not created yet"
    health = health_of(live)
    if health is None or health.status is HealthStatus.Healthy:
        return Outcome.Succeeded, health.message if health else ""
    if health.status is HealthStatus.Degraded:
        return Outcome.Failed, health.message
    return Outcome.Running, health.message


def deleted_after(policies: frozenset[DeletePolicy], result: Outcome) -> bool:
    """Whether a finished hook goes now: HookSucceeded after success, HookFailed after failure."""
    if result is Outcome.Succeeded:
        return DeletePolicy.HookSucceeded in policies
    return result is Outcome.Failed and DeletePolicy.HookFailed in policies
