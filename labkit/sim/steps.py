"""Step durations of the pull agent, measured on the learner's own timeline.

:func:`step_durations` joins the events the controller (actor ``controller``)
and the git hook (actor ``git``) write into the seconds each step of the
pipeline took. Each step is the time between two events, joined on the app
and the revision (:data:`STEPS`), or a duration the controller writes on one
event (:data:`DURATIONS`). :func:`labkit.sim.fit.fit_timeline` fits a
distribution to each; :func:`measured_by` says in words what measures a step
(for :class:`labkit.sim.fit.NotEnoughEvents`).

=================  ================================  ==============================================
step               from                              to
=================  ================================  ==============================================
webhook            ``pushed`` (git)                  ``webhook_received`` of that revision
refresh            ``refresh_started`` of the app    its ``revision_detected`` (a new commit; not
                                                     an app's first revision)
compare            ``revision_detected``             ``diff_computed`` of that app and revision
                                                     (render the path, diff against the cluster)
compare_unchanged  ``revision_detected``             a ``diff_computed`` that says Synced: a commit
                                                     that did not change the app (no server-side
                                                     dry run: the cached answer still holds)
apply              that ``diff_computed``            ``sync_finished``: automated, not a dry run,
                                                     Succeeded (write the operation, run the sync)
health             ``sync_finished``                 ``healthy`` of that app and revision
detect             ``drift_injected`` (any actor)    the app's next ``drift_detected``
heal               ``drift_detected``, selfHeal on   ``healed`` after at most one attempt
export             ``checkout_exported``: its        once per commit: the export of the new commit
                   ``duration_s``                    that every app's first render waits for
overhead           ``reconciled``: its               the worker's time on a reconcile that found a
                   ``duration_s`` minus refresh,     new commit outside those steps (reading the
                   compare and apply                 Application, writing its status)
=================  ================================  ==============================================

A compare that waited for the export of its commit is measured without that
wait (the model waits for the export itself). Time spent waiting in the work
queue is not part of any step: the model simulates the queue itself.
"""

from __future__ import annotations

import math

from labkit.events import Event

STEPS: dict[str, tuple[str, str]] = {
    "webhook": ("pushed", "webhook_received"),
    "refresh": ("refresh_started", "revision_detected"),
    "compare": ("revision_detected", "diff_computed"),
    "compare_unchanged": ("revision_detected", "diff_computed"),
    "apply": ("diff_computed", "sync_finished"),
    "health": ("sync_finished", "healthy"),
    "detect": ("drift_injected", "drift_detected"),
    "heal": ("drift_detected", "healed"),
    "export": ("checkout_exported", "checkout_exported"),
    "overhead": ("reconciled", "reconciled"),
}
"""Each step's (start event kind, end event kind) on the timeline; the same kind twice for the
:data:`DURATIONS`, which one event measures."""

DURATIONS = {
    "export": "`checkout_exported` events (one per commit the agent renders)",
    "overhead": "`reconciled` events of reconciles that found a new commit",
}
"""Steps measured by the ``duration_s`` of one event, and what to say when they are short."""
UNCHANGED = "`revision_detected` -> `diff_computed` (Synced) pairs of apps a commit did not change"


def measured_by(step: str) -> str:
    """What measures ``step`` on the timeline, in words: "`a` -> `b` pairs" or an event's duration."""
    start, end = STEPS[step]
    if step == "compare_unchanged":
        return UNCHANGED
    return DURATIONS.get(step, f"`{start}` -> `{end}` pairs")


def step_durations(events: list[Event]) -> dict[str, list[float]]:
    """Seconds each step took, per step, from time-ordered events (see the module docstring)."""
    out: dict[str, list[float]] = {step: [] for step in STEPS}
    _webhook(events, out["webhook"])
    exports = _exports(events)
    out["export"] = [seconds for windows in exports.values() for _, _, seconds in windows]
    by_app: dict[str, list[Event]] = {}
    for e in events:
        if e.app is not None:
            by_app.setdefault(e.app, []).append(e)
    for own in by_app.values():
        _commit_steps(own, out, exports)
        _drift_steps(own, out)
    return out


def _s(start: Event, end: Event) -> float:
    return (end.ts_ns - start.ts_ns) / 1e9


def _duration_ns(e: Event) -> int:
    return int(float(e.data.get("duration_s") or 0.0) * 1e9)


Windows = dict[str, list[tuple[int, int, float]]]
"""revision -> (start_ns, end_ns, seconds) of each export of it."""


def _exports(events: list[Event]) -> Windows:
    """Each ``checkout_exported``, by revision: when it ran and how long it took."""
    out: Windows = {}
    for e in events:
        if e.kind == "checkout_exported" and e.actor == "controller" and e.revision:
            out.setdefault(e.revision, []).append((e.ts_ns - _duration_ns(e), e.ts_ns, _duration_ns(e) / 1e9))
    return out


def _overlap_s(start: Event, end: Event, windows: list[tuple[int, int, float]]) -> float:
    """Seconds of [start, end] during which an export of the revision ran."""
    return sum(max(0, min(end.ts_ns, hi) - max(start.ts_ns, lo)) for lo, hi, _ in windows) / 1e9


def _first(events: list[Event], after: Event, kind: str, **match: object) -> Event | None:
    i = events.index(after)
    for e in events[i + 1 :]:
        if e.kind == kind and all(e.data.get(k) == v for k, v in match.items()):
            return e
    return None


def _webhook(events: list[Event], out: list[float]) -> None:
    received = [e for e in events if e.kind == "webhook_received" and e.actor == "controller"]
    for push in (e for e in events if e.kind == "pushed" and not e.data.get("deleted")):
        got = next((r for r in received if r.revision == push.revision and r.ts_ns >= push.ts_ns), None)
        if got is not None:
            out.append(_s(push, got))


def _commit_steps(own: list[Event], out: dict[str, list[float]], exports: Windows) -> None:
    """refresh, compare (or compare_unchanged), apply, health and overhead of each new revision one app's
    controller saw."""
    mine = [e for e in own if e.actor == "controller"]
    reconciles = [e for e in mine if e.kind == "reconciled"]
    for detected in (e for e in mine if e.kind == "revision_detected" and e.data.get("previous")):
        started = [e for e in mine if e.kind == "refresh_started" and e.ts_ns <= detected.ts_ns]
        if not started:
            continue
        out["refresh"].append(_s(started[-1], detected))
        rev = detected.revision
        diffed = next(
            (
                e
                for e in mine
                if e.kind == "diff_computed" and e.revision == rev and e.ts_ns >= detected.ts_ns
            ),
            None,
        )
        if diffed is None:
            continue
        unchanged = diffed.data.get("sync") == "Synced"  # the commit left this app as it was
        seconds = _s(detected, diffed) - _overlap_s(detected, diffed, exports.get(rev or "", []))
        out["compare_unchanged" if unchanged else "compare"].append(seconds)
        synced = _first(mine, diffed, "sync_finished", automated=True, phase="Succeeded")
        _overhead(mine, reconciles, started[-1], diffed, synced, out["overhead"])
        if synced is None or synced.revision != rev or synced.data.get("dry_run"):
            continue
        out["apply"].append(_s(diffed, synced))
        healthy = next((e for e in mine if e.kind == "healthy" and e.revision == rev), None)
        if healthy is not None and healthy.ts_ns >= synced.ts_ns:
            out["health"].append(_s(synced, healthy))


_SLACK_NS = 2_000_000  # a reconcile's start is its end minus a duration timed on another clock


def _overhead(
    mine: list[Event],
    reconciles: list[Event],
    started: Event,
    diffed: Event,
    synced: Event | None,
    out: list[float],
) -> None:
    """The reconcile's time outside refresh, compare and apply (and the export inside compare).

    Only a reconcile that holds the whole refresh and compare counts; one whose
    sync started but did not finish in it (waves, a sync waiting for health) does not.
    """
    done = next((r for r in reconciles if r.ts_ns >= diffed.ts_ns), None)
    if done is None or done.ts_ns - _duration_ns(done) > started.ts_ns + _SLACK_NS:
        return
    last = synced if synced is not None and synced.ts_ns <= done.ts_ns else diffed
    if last is diffed and any(
        e.kind == "sync_started" and diffed.ts_ns <= e.ts_ns <= done.ts_ns for e in mine
    ):
        return
    out.append(float(done.data.get("duration_s") or 0.0) - _s(started, last))


def _drift_steps(own: list[Event], out: dict[str, list[float]]) -> None:
    """detect and heal of each drift injected into one app, until the next injection."""
    injected = [e for e in own if e.kind == "drift_injected"]
    for i, inj in enumerate(injected):
        end = injected[i + 1].ts_ns if i + 1 < len(injected) else math.inf
        window = [e for e in own if inj.ts_ns <= e.ts_ns < end and e.actor == "controller"]
        detected = next((e for e in window if e.kind == "drift_detected"), None)
        if detected is None:
            continue
        out["detect"].append(_s(inj, detected))
        if not detected.data.get("self_heal"):
            continue
        healed = next((e for e in window if e.kind == "healed" and e.ts_ns >= detected.ts_ns), None)
        if healed is not None and int(healed.data.get("attempts") or 0) <= 1:
            out["heal"].append(_s(detected, healed))
