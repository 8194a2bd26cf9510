"""Notebook 10's interview bank: the follow-up topics (:data:`TOPICS`) and their questions.

Notebook 10 calls :func:`questions_on` for one topic's questions and hands them to
:func:`labkit.course.check.quiz`. Written for this lab; each explanation says why,
in terms of what the earlier notebooks showed.
"""

from __future__ import annotations

from labkit.course.check import Check
from labkit.errors import LabkitError

C = Check

TOPICS: dict[str, str] = {
    "one-breath": "The one-breath answer",
    "polling": "Why is polling slow, and what do webhooks change?",
    "undeclared": "Why does a kubectl edit of a field Git does not declare go unnoticed?",
    "autoscaler": "What do self-heal and an autoscaler do to each other?",
    "rollback": "Why does rollback switch auto-sync off?",
    "waves": "What are sync waves and hooks for?",
    "credentials": "What does the pull model mean for credentials and security?",
}
"""The follow-up questions a good interviewer asks, keyed for :func:`questions_on`."""

QUESTIONS: tuple[Check, ...] = (
    C(
        "Which sentence is the best short definition of GitOps with Argo CD?",
        (
            "CI runs kubectl apply with the manifests from Git after every merge",
            "Argo CD builds images from Git and pushes them onto the cluster's nodes",
            "Git holds the desired state; an in-cluster agent pulls and enforces it",
            "Git hooks call the API server, so every commit becomes a deployment",
        ),
        2,
        "Declarative state in Git, pulled and continuously reconciled by an agent.",
        "one-breath",
    ),
    C(
        "What does 'continuously reconciled' add to 'deployed from Git'?",
        (
            "drift is detected (and, with self-heal, undone): Git stays true",
            "each commit is applied again every few minutes, changed or not",
            "the agent scales the Deployments to match the load it measures",
            "failed syncs are retried forever until the commit finally applies",
        ),
        0,
        "Deploying once is CI; comparing forever is what makes Git the truth.",
        "one-breath",
    ),
    C(
        "Without a webhook, how long can a commit wait before Argo CD sees it?",
        (
            "under a second: the agent watches the Git repository",
            "until the next sync window opens, about once an hour",
            "forever: without a webhook only manual syncs happen",
            "about 3 minutes: 120 s poll plus up to 60 s jitter",
        ),
        3,
        "The default `timeout.reconciliation` is 120 s, plus jitter so that thousands of apps do "
        "not poll at the same moment.",
        "polling",
    ),
    C(
        "What does a Git webhook change?",
        (
            "it sends the manifests to the agent, which then stops cloning",
            "the agent refreshes right after a push, in about a second",
            "it replaces polling, which Argo CD then switches off for good",
            "it makes the sync skip the diff and apply the commit as it is",
        ),
        1,
        "Polling stays as the safety net for lost webhooks; the webhook only triggers an earlier refresh.",
        "polling",
    ),
    C(
        "A webhook arrives but one Application does not refresh. A likely cause?",
        (
            "self-heal is off, and webhooks only refresh self-healing apps",
            "the app has more resources than one webhook refresh allows",
            "the app's repoURL is spelled differently from the webhook's",
            "the cluster has no free node, so the refresh is held back",
        ),
        2,
        "Webhooks are matched to apps by URL; notebook 05 used exactly that to make a poll-only app.",
        "polling",
    ),
    C(
        "Someone runs `kubectl label deploy web hotfix=true`; Git declares no such label. Does "
        "Argo CD report OutOfSync?",
        (
            "no: the diff compares only the fields Git declares",
            "yes: any change to a managed object counts as drift",
            "only with server-side diff, which reads the live object",
            "only after a hard refresh clears the manifest cache",
        ),
        0,
        "Fields nobody declared are invisible to the comparison; declare them in Git to own them.",
        "undeclared",
    ),
    C(
        "How do you make such a field visible to the agent?",
        (
            "turn on self-heal, which watches every field of the object",
            "switch to three-way diff, which compares the whole object",
            "restart the controller so it rebuilds its cache of the object",
            "declare the field in Git, so it is part of the desired state",
        ),
        3,
        "Once Git says `hotfix` must not be there (or has a value), the diff sees any change to it.",
        "undeclared",
    ),
    C(
        "Git says `replicas: 2`, self-heal is on, and an HPA scales to 6. What happens?",
        (
            "they agree: the agent leaves alone any field that an HPA manages",
            "they fight: self-heal sets 2, the HPA sets 6, over and over",
            "the agent commits `replicas: 6` to Git to record the change",
            "Kubernetes deletes the HPA, because Git does not declare it",
        ),
        1,
        "Two controllers own one field. The notebook's backoff timeline showed the growing pauses.",
        "autoscaler",
    ),
    C(
        "What is the usual fix?",
        (
            "turn off self-heal for the whole app and accept all other drift",
            "set the HPA's minReplicas and maxReplicas both to Git's value",
            "drop `replicas` from Git (or ignore it) so the HPA owns it",
            "run the HPA in a second cluster that Argo CD does not manage",
        ),
        2,
        "Give each field one owner: Git for the template, the autoscaler for the count.",
        "autoscaler",
    ),
    C(
        "Why does `argocd app rollback` require auto-sync to be off?",
        (
            "auto-sync would sync HEAD again at once and undo the rollback",
            "a rollback rewrites Git history, which auto-sync would push",
            "apps with auto-sync keep no history entries to roll back to",
            "it does not: the rollback just pauses auto-sync for a while",
        ),
        0,
        "A rollback deploys an older revision than HEAD; with auto-sync on, HEAD would win within seconds.",
        "rollback",
    ),
    C(
        "After a rollback, why does auto-sync stay off?",
        (
            "it is a known bug that Argo CD has not fixed yet",
            "the history limit was reached, which turns auto-sync off",
            "the rollback recreated the Application without a policy",
            "turning it on rolls forward to HEAD; fix Git first (revert)",
        ),
        3,
        "The rollback is an emergency brake; the durable fix is a commit.",
        "rollback",
    ),
    C(
        "What do sync waves do?",
        (
            "spread a sync over time, so the cluster is not overloaded",
            "order resources: lower waves apply and get healthy first",
            "split one app's resources across several clusters in turn",
            "retry the resources of a failed sync in waves, with backoff",
        ),
        1,
        "E.g. ConfigMaps and Secrets in wave -1 before the Deployment in wave 0.",
        "waves",
    ),
    C(
        "What is a PreSync hook for?",
        (
            "to delete the old pods before the new ReplicaSet starts",
            "to notify a chat channel once the sync has finished",
            "to run a Job, such as a migration, that must succeed first",
            "to render the manifests before the agent compares them",
        ),
        2,
        "If the hook fails, the sync stops before anything else changes; PostSync suits smoke tests.",
        "waves",
    ),
    C(
        "In the pull model, which component needs write access to the cluster?",
        (
            "the CI system, which still deploys what the agent approves",
            "every developer, to sync their own Applications by hand",
            "the Git server, whose hook applies each pushed commit",
            "only the agent running in (or next to) the cluster",
        ),
        3,
        "CI builds images and commits; it holds no kubeconfig, so a leaked CI secret cannot reach"
        " the cluster.",
        "credentials",
    ),
    C(
        "What must the pull agent be able to reach?",
        (
            "outbound: the Git server (read-only) and its API server",
            "inbound: the internet must reach it to deliver commits",
            "the CI runners, to fetch the manifests they rendered",
            "each developer's laptop, to read uncommitted changes",
        ),
        0,
        "No inbound port on the cluster is needed for deployments; the agent reaches out to Git.",
        "credentials",
    ),
)
"""Notebook 10's bank: the follow-up questions, several per topic."""

del C


def questions_on(topic: str) -> tuple[Check, ...]:
    """The notebook 10 questions about one follow-up topic (a key of :data:`TOPICS`)."""
    if topic not in TOPICS:
        raise LabkitError(f"no questions on {topic!r}", hint=f"topics: {', '.join(TOPICS)}")
    return tuple(c for c in QUESTIONS if c.topic == topic)
