"""The interview checkpoint questions of notebooks 01-05 (data only).

Merged into :data:`labkit.course.checkpoints.CHECKPOINTS`; nothing else imports it.
Written for this lab; each explanation says why, in terms of what the notebook showed.
"""

from __future__ import annotations

from labkit.course.check import Check

C = Check

CHECKPOINTS_01_05: dict[str, tuple[Check, ...]] = {
    "01": (
        C(
            "Which of the lab's parts holds the record of what should be running?",
            (
                "etcd, because the API server stores every object there",
                "the controller, which remembers what it applied last time",
                "the Git repository's main branch",
                "the shell history of whoever deployed last",
            ),
            2,
            "The cluster stores what runs now; Git stores what was decided, and the agent makes "
            "the two agree.",
        ),
        C(
            "What does the pull agent need to do its job?",
            (
                "read access to Git and a credential for the API server",
                "write access to Git, so it can record what it changed",
                "SSH access to each node, so it can start the containers there",
                "an inbound port that CI calls to push new manifests",
            ),
            0,
            "It reads the repository and talks only to the API server; it never pushes to Git.",
        ),
    ),
    "02": (
        C(
            "After several `kubectl` changes, what can the cluster tell you about them?",
            (
                "who made each change and why, read from the audit annotations",
                "every earlier value, since etcd keeps old object versions",
                "nothing: the API server keeps no trace of who wrote a field",
                "current values, and which program last wrote each field, when",
            ),
            3,
            "managedFields name a program such as `kubectl`, not a person, and carry no reason; "
            "older values are gone.",
        ),
        C(
            "What does Git add that `kubectl apply` from a laptop does not?",
            (
                "a faster rollout, because the agent applies in parallel",
                "an author, time, reason and diff per change, and a way back",
                "validation: Git refuses any manifest the cluster would reject",
                "secrecy: manifests in Git are encrypted at rest by default",
            ),
            1,
            "Each commit is an audit record; `git log` and `git revert` answer who/when/why and undo it.",
        ),
    ),
    "03": (
        C(
            "Which three things does an Application tie together?",
            (
                "a container image, the node to run it on, and a port to expose",
                "a Helm chart, a values file and the secret with its passwords",
                "a source (repo, path, revision), a destination, a sync policy",
                "a Git user, the role it may assume and the namespace it owns",
            ),
            2,
            "Source, destination and how to sync: the same three blocks as Argo CD's Application spec.",
        ),
        C(
            "An Application points at a path that does not exist. What happens?",
            (
                "a ComparisonError condition on the app; nothing is applied",
                "the agent reads it as empty and deletes what the app deployed",
                "the agent creates the folder in Git with an empty manifest",
                "the controller exits, and Kubernetes restarts it in a loop",
            ),
            0,
            "Bad input becomes a condition on the Application; the agent keeps running and tries "
            "again on the next refresh.",
        ),
        C(
            "In which order does one commit travel?",
            (
                "webhook, push, revision detected, sync started, applied, healthy",
                "push, sync started, webhook, revision detected, resources applied, healthy",
                "push, webhook, sync started, healthy, applied, revision detected",
                "push, webhook, revision detected, sync started, applied, healthy",
            ),
            3,
            "The timeline of the notebook showed exactly this chain, each step with a timestamp.",
        ),
    ),
    "04": (
        C(
            "In the push model, where do the cluster credentials live?",
            (
                "only inside the cluster, where the agent reads them",
                "in the CI system that runs the pipeline",
                "in the Git repository, next to the manifests",
                "nowhere: CI deploys through the Git server's hook",
            ),
            1,
            "CI must reach the API server, so it holds a powerful kubeconfig; in the pull model "
            "the agent inside (or beside) the cluster holds it and CI needs none.",
        ),
        C(
            "Someone runs `kubectl scale` after the pipeline deployed. What does the push pipeline do?",
            (
                "it reverts the change on its next scheduled run",
                "it fails its next run because the cluster drifted",
                "nothing: it only acts when a commit arrives",
                "it commits the new replica count back to Git",
            ),
            2,
            "Push is fire-and-forget. Only a pull agent keeps comparing the cluster with Git.",
        ),
        C(
            "The API server is down while a commit is pushed. What happens next?",
            (
                "the push run fails and stays failed; the pull agent catches up",
                "both models apply the commit as soon as the cluster is back up again",
                "the pull agent drops the commit: its webhook went unanswered",
                "Git rejects the push until the cluster answers its hook again",
            ),
            0,
            "The pull agent compares again and again; a failed CI job stays failed until someone reruns it.",
        ),
    ),
    "05": (
        C(
            "Auto-sync is on and the sync of commit X failed. Will the agent try X again by itself?",
            (
                "yes: it retries every few seconds until the sync finally succeeds",
                "yes: each poll finds X OutOfSync and syncs it once more",
                "only if self-heal is on, since self-heal retries failures",
                "no, unless a retry policy is set; push a fix or sync by hand",
            ),
            3,
            "Auto-sync acts once per revision, as in Argo CD; `syncPolicy.retry` adds backoff retries.",
        ),
        C(
            "Why can it take about three minutes for Argo CD to notice a commit?",
            (
                "Git servers batch incoming pushes and publish them every few minutes",
                "without a webhook it polls every 120 s plus up to 60 s jitter",
                "the scheduler holds the new pods until a node has free room",
                "the repo server caches rendered manifests for three minutes",
            ),
            1,
            "A webhook turns the wait into about a second, as the two distributions in this notebook showed.",
        ),
        C(
            "Auto-sync is off and you push a commit. What does the Application show?",
            (
                "Synced, because nothing in the cluster has changed",
                "Unknown, because nobody asked the agent to compare",
                "OutOfSync, until someone syncs it",
                "Degraded, because the cluster runs an old version",
            ),
            2,
            "The agent still notices and compares; it only waits for a person to press sync.",
        ),
    ),
}
"""The interview checkpoint at the end of notebooks 01-05."""

del C
