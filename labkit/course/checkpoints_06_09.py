"""The interview checkpoint questions of notebooks 06-09 (data only).

Merged into :data:`labkit.course.checkpoints.CHECKPOINTS`; nothing else imports it.
Written for this lab; each explanation says why, in terms of what the notebook showed.
"""

from __future__ import annotations

from labkit.course.check import Check

C = Check

CHECKPOINTS_06_09: dict[str, tuple[Check, ...]] = {
    "06": (
        C(
            "Someone adds a label by hand that Git does not declare. Does the agent notice?",
            (
                "yes, in both diff modes",
                "no: neither diff mode compares fields Git leaves out",
                "only with self-heal on",
                "only in three-way mode",
            ),
            1,
            "Both modes compare what Git declares; the hand-made label survives until Git says something "
            "about that field.",
        ),
        C(
            "Self-heal is off and someone scales a Deployment by hand. What happens?",
            (
                "it is reverted at once",
                "the app turns OutOfSync and stays so until a sync",
                "the Deployment is deleted",
                "the agent pushes the change to Git",
            ),
            1,
            "Drift is detected (watch event) and shown, but only self-heal acts on it.",
        ),
        C(
            "How does drift detection differ between Argo CD and Flux?",
            (
                "they are the same",
                "Argo CD watches managed objects and sees drift in about a second; Flux corrects only on its "
                "interval",
                "Flux watches; Argo CD polls",
                "neither detects drift",
            ),
            1,
            "The interval-mode app in this notebook waited for its refreshInterval before healing.",
        ),
    ),
    "07": (
        C(
            "The sync of `replicas: 5` finished. Is the app Healthy at that moment?",
            (
                "yes, a finished sync means healthy",
                "not yet: it is Progressing until the new pods are ready",
                "no, it is Degraded",
                "health is not tracked",
            ),
            1,
            "Sync means the API server accepted the objects; health follows the Deployment's ready replicas.",
        ),
        C(
            "Who creates the three extra pods?",
            (
                "the GitOps agent",
                "the Deployment and ReplicaSet controllers in kube-controller-manager, then the scheduler",
                "the Git server",
                "kubectl",
            ),
            1,
            "The agent only changes `spec.replicas`; Kubernetes' own controllers do the rest.",
        ),
    ),
    "08": (
        C(
            "Why is a history rollback refused while auto-sync is on?",
            (
                "it needs admin rights",
                "auto-sync would put Git's HEAD straight back, undoing the rollback",
                "history is deleted by auto-sync",
                "it is never refused",
            ),
            1,
            "Two sources of truth cannot win at once; labkit and Argo CD refuse instead of fighting.",
        ),
        C(
            "After a history rollback with auto-sync switched off, what does the app show?",
            ("Synced", "OutOfSync: the cluster runs an older revision than Git's HEAD", "Missing", "Unknown"),
            1,
            "The cluster now differs from Git on purpose; fix Git (revert) and turn auto-sync back on.",
        ),
        C(
            "Which way back keeps Git the single source of truth?",
            ("history rollback", "`git revert` and push", "`kubectl rollout undo`", "deleting the app"),
            1,
            "A revert is a new commit: audited, reviewed and picked up by auto-sync like any other change.",
        ),
    ),
    "09": (
        C(
            "A teammate hot-fixes an image with kubectl; auto-sync is on, self-heal off. What happens at "
            "the next unrelated commit?",
            (
                "the hotfix stays forever",
                "the sync re-applies Git's image and the hotfix silently disappears",
                "the sync fails",
                "Git is updated with the hotfix",
            ),
            1,
            "Whatever is not in Git is temporary; put the fix in Git.",
        ),
        C(
            "Two Applications deploy the same objects into the same namespace. What do you see?",
            (
                "they share them peacefully",
                "they take the objects from each other, and status and history stop making sense",
                "the second one is rejected by Kubernetes",
                "the objects are duplicated",
            ),
            1,
            "Each object should belong to exactly one Application; give each app its own path and namespace.",
        ),
        C(
            "A database migration Job must finish before the new Deployment starts. What do you use?",
            (
                "a bigger sync wave number on the Job",
                "a PreSync hook on the Job",
                "two commits, five minutes apart",
                "a PostSync hook",
            ),
            1,
            "PreSync hooks run, and must succeed, before anything else of the sync is applied.",
        ),
    ),
}
"""The interview checkpoint at the end of notebooks 06-09."""

del C
