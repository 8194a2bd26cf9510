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
            ("etcd of the cluster", "the Git repository's main branch", "the controller's memory", "kubectl"),
            1,
            "The cluster stores what runs now; Git stores what was decided, and the agent makes the two "
            "agree.",
        ),
        C(
            "What does the pull agent need to do its job?",
            (
                "SSH access to every node",
                "read access to Git and a credential for the API server",
                "write access to Git",
                "the learner's laptop to stay on",
            ),
            1,
            "It reads the repository and talks only to the API server; it never pushes to Git.",
        ),
    ),
    "02": (
        C(
            "After several `kubectl` changes, what can the cluster tell you about them?",
            (
                "who made each change and why",
                "the current values and which program (field manager) last wrote each field, with a time",
                "the full list of earlier values",
                "nothing at all",
            ),
            1,
            "managedFields name a program such as `kubectl`, not a person, and carry no reason; "
            "older values are gone.",
        ),
        C(
            "What does Git add that `kubectl apply` from a laptop does not?",
            (
                "faster deployments",
                "an author, a time, a message and a diff for every change, and a way back",
                "automatic load balancing",
                "encryption of manifests",
            ),
            1,
            "Each commit is an audit record; `git log` and `git revert` answer who/when/why and undo it.",
        ),
    ),
    "03": (
        C(
            "Which three things does an Application tie together?",
            (
                "a Docker image, a node and a port",
                "a repository + path (+ revision), a destination cluster + namespace, and a sync policy",
                "a Helm chart, a values file and a secret",
                "a user, a role and a namespace",
            ),
            1,
            "Source, destination and how to sync: the same three blocks as Argo CD's Application spec.",
        ),
        C(
            "An Application points at a path that does not exist. What happens?",
            (
                "the controller crashes",
                "everything in the namespace is deleted",
                "the Application shows a ComparisonError condition and nothing is applied",
                "the path is created automatically",
            ),
            2,
            "Bad input becomes a condition on the Application; the agent keeps running and tries again on "
            "the next refresh.",
        ),
        C(
            "In which order does one commit travel?",
            (
                "sync, push, webhook, healthy",
                "push, webhook, revision detected, sync started, resources applied, sync finished, healthy",
                "webhook, push, healthy, sync",
                "push, healthy, sync",
            ),
            1,
            "The timeline of the notebook showed exactly this chain, each step with a timestamp.",
        ),
    ),
    "04": (
        C(
            "In the push model, where do the cluster credentials live?",
            (
                "only inside the cluster",
                "in the CI system that runs the pipeline",
                "in the Git repository",
                "nowhere, push needs none",
            ),
            1,
            "CI must reach the API server, so it holds a powerful kubeconfig; in the pull model the agent "
            "inside (or beside) the cluster holds it and CI needs none.",
        ),
        C(
            "Someone runs `kubectl scale` after the pipeline deployed. What does the push pipeline do?",
            (
                "reverts it at once",
                "nothing: it only acts when a commit arrives",
                "alerts the author",
                "fails",
            ),
            1,
            "Push is fire-and-forget. Only a pull agent keeps comparing the cluster with Git.",
        ),
        C(
            "The API server is down while a commit is pushed. What happens next?",
            (
                "both models apply the commit when the cluster is back",
                "the push run fails and stays failed; the pull agent catches up once the cluster is back",
                "the pull agent loses the commit",
                "Git rejects the push",
            ),
            1,
            "The pull agent compares again and again; a failed CI job stays failed until someone reruns it.",
        ),
    ),
    "05": (
        C(
            "Auto-sync is on and the sync of commit X failed. Will the agent try X again by itself?",
            (
                "yes, every 5 seconds forever",
                "no, not unless a retry policy is set; a new commit or a manual sync is needed",
                "yes, once per poll",
                "only if self-heal is on",
            ),
            1,
            "Auto-sync acts once per revision, as in Argo CD; `syncPolicy.retry` adds backoff retries.",
        ),
        C(
            "Why can it take about three minutes for Argo CD to notice a commit?",
            (
                "Git is slow",
                "without a webhook it polls every 120 s plus up to 60 s of jitter",
                "the scheduler waits for nodes",
                "kubectl caches the manifests",
            ),
            1,
            "A webhook turns the wait into about a second, as the two distributions in this notebook showed.",
        ),
        C(
            "Auto-sync is off and you push a commit. What does the Application show?",
            ("Synced", "OutOfSync until someone syncs", "Degraded", "nothing changes at all"),
            1,
            "The agent still notices and compares; it only waits for a person to press sync.",
        ),
    ),
}
"""The interview checkpoint at the end of notebooks 01-05."""

del C
