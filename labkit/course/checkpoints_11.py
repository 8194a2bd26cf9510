"""The interview checkpoint questions of notebook 11, the real Argo CD beside labkit's agent (data only).

Merged into :data:`labkit.course.checkpoints.CHECKPOINTS`; nothing else imports it.
Written for this lab; each explanation says why, in terms of what the notebook showed.
"""

from __future__ import annotations

from labkit.course.check import Check

C = Check

CHECKPOINTS_11: dict[str, tuple[Check, ...]] = {
    "11": (
        C(
            "A cluster runs both Argo CD and labkit. What does a bare `kubectl get applications` list?",
            (
                "the Applications of both engines, merged into one list",
                "labkit's Applications, because its CRD was installed first",
                "one group's Applications only: kubectl picks one of the two",
                "an error, because two CRDs cannot share a resource name",
            ),
            2,
            "Both CRDs have the plural `applications`; kubectl resolves the name to one group. "
            "`applications.argoproj.io` and `applications.labkit.dev` are never ambiguous.",
        ),
        C(
            "Argo CD's app has auto-sync on and you run `argocd app rollback`. What happens?",
            (
                "it rolls back, and auto-sync returns to HEAD a moment later",
                "it is refused: switch auto-sync off first, then roll back",
                "it rolls back and switches auto-sync off all by itself",
                "it reverts the commit in Git, so auto-sync keeps the rollback",
            ),
            1,
            "The same rule and message in both engines; `labkit app rollback --disable-auto-sync` and "
            "Argo CD's UI do the two steps for you.",
        ),
        C(
            "Which is true of a PreSync hook Job in an Argo CD sync?",
            (
                "it is tracked like any other resource and pruned when removed from Git",
                "it runs after the sync, once all the resources are healthy",
                "it runs only when the app is created, never on later syncs",
                "it runs before each sync's apply and is not a tracked resource",
            ),
            3,
            "Hooks run at their phase of every sync and show up under the operation, not among the app's "
            "resources; their delete policy decides when the Job goes.",
        ),
    ),
}
"""The interview checkpoint at the end of notebook 11."""

del C
