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
                "no: neither diff mode compares fields Git leaves out",
                "yes: both diff modes compare the whole live object",
                "only with self-heal on, which watches every field",
                "only in three-way mode, which reads the last-applied annotation",
            ),
            0,
            "Both modes compare what Git declares; the hand-made label survives until Git says "
            "something about that field.",
        ),
        C(
            "Self-heal is off and someone scales a Deployment by hand. What happens?",
            (
                "auto-sync reverts it at once, since Git says 2",
                "the agent commits the new count to Git so a reviewer can approve it",
                "nothing is seen until the next commit to the repo",
                "the app turns OutOfSync and stays so until a sync",
            ),
            3,
            "Drift is detected (watch event) and shown, but only self-heal acts on it.",
        ),
        C(
            "How does drift detection differ between Argo CD and Flux?",
            (
                "Flux watches objects; Argo CD notices drift only when it polls Git",
                "they behave the same: both compare on each Git poll and at no other moment",
                "Argo CD watches objects and sees drift at once; Flux waits its interval",
                "neither sees drift: both compare only when a new commit arrives",
            ),
            2,
            "The interval-mode app in this notebook waited for its refreshInterval before healing.",
        ),
    ),
    "07": (
        C(
            "The sync of `replicas: 5` finished. Is the app Healthy at that moment?",
            (
                "yes: a finished sync means every object is healthy",
                "not yet: it is Progressing until the new pods are ready",
                "no: it is Degraded for as long as fewer pods run than desired",
                "health is only computed on the next refresh from Git",
            ),
            1,
            "Sync means the API server accepted the objects; health follows the Deployment's ready replicas.",
        ),
        C(
            "Who creates the three extra pods?",
            (
                "Kubernetes' Deployment and ReplicaSet controllers, then the scheduler",
                "the GitOps agent, which applies one Pod manifest per replica",
                "kubectl, which the agent runs as `kubectl scale` on your behalf",
                "the kubelet, after it reads the new count from the Git server",
            ),
            0,
            "The agent only changes `spec.replicas`; Kubernetes' own controllers do the rest.",
        ),
    ),
    "08": (
        C(
            "Why is a history rollback refused while auto-sync is on?",
            (
                "a rollback needs admin rights that auto-sync apps lack",
                "auto-sync keeps no history, so there is nothing to go back to",
                "auto-sync would put Git's HEAD straight back, undoing it",
                "it is only refused when self-heal is also switched on",
            ),
            2,
            "Two sources of truth cannot win at once; labkit and Argo CD refuse instead of fighting.",
        ),
        C(
            "After a history rollback with auto-sync switched off, what does the app show?",
            (
                "Synced: the cluster equals the revision it just deployed",
                "Unknown: the agent stops comparing until auto-sync is back",
                "Missing: the objects of the newer revisions were deleted",
                "OutOfSync: the cluster runs an older revision than HEAD",
            ),
            3,
            "The cluster now differs from Git on purpose; fix Git (revert) and turn auto-sync back on.",
        ),
        C(
            "Which way back keeps Git the single source of truth?",
            (
                "a history rollback to the last good revision",
                "`git revert` of the bad commit, then push",
                "`kubectl rollout undo` on the Deployment",
                "deleting the Application and creating it again",
            ),
            1,
            "A revert is a new commit: audited, reviewed and picked up by auto-sync like any other change.",
        ),
    ),
    "09": (
        C(
            "A teammate hot-fixes an image with kubectl; auto-sync is on, self-heal off. What "
            "happens at the next unrelated commit?",
            (
                "the sync re-applies Git's image; the hotfix silently disappears",
                "the hotfix stays: the commit did not touch the image line",
                "the sync fails, because the live image differs from Git's",
                "the agent commits the hotfix to Git before it syncs the rest",
            ),
            0,
            "Whatever is not in Git is temporary; put the fix in Git.",
        ),
        C(
            "Two Applications deploy the same objects into the same namespace. What do you see?",
            (
                "they share the objects peacefully, since the YAML is identical",
                "the API server rejects the second app's objects as duplicates",
                "Kubernetes keeps a separate copy of each object for each app",
                "they take the objects from each other; status stops making sense",
            ),
            3,
            "Each object should belong to exactly one Application; give each app its own path and namespace.",
        ),
        C(
            "A database migration Job must finish before the new Deployment starts. What do you use?",
            (
                "a higher sync wave on the Job than on the Deployment",
                "a PreSync hook on the Job",
                "two commits, and wait for the first one to finish",
                "a PostSync hook on the Job",
            ),
            1,
            "PreSync hooks run, and must succeed, before anything else of the sync is applied.",
        ),
    ),
}
"""The interview checkpoint at the end of notebooks 06-09."""

del C
