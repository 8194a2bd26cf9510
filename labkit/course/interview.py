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
            "CI runs kubectl apply after every merge",
            "Git holds the desired state; an agent in the cluster pulls it, applies it and keeps the "
            "cluster equal to it",
            "developers SSH into nodes from Git hooks",
            "Git stores container images",
        ),
        1,
        "Declarative state in Git, pulled and continuously reconciled by an agent.",
        "one-breath",
    ),
    C(
        "What does 'continuously reconciled' add to 'deployed from Git'?",
        (
            "nothing",
            "manual changes are detected (and, with self-heal, undone), so Git stays true over time",
            "faster image pulls",
            "automatic scaling",
        ),
        1,
        "Deploying once is CI; comparing forever is what makes Git the truth.",
        "one-breath",
    ),
    C(
        "Without a webhook, how long can a commit wait before Argo CD sees it?",
        ("under a second", "up to about 3 minutes (120 s poll + up to 60 s jitter)", "an hour", "forever"),
        1,
        "The default `timeout.reconciliation` is 120 s, plus jitter so that thousands of apps do not "
        "poll at the same moment.",
        "polling",
    ),
    C(
        "What does a Git webhook change?",
        (
            "it replaces the agent",
            "the Git server tells the agent right after a push, so it refreshes in about a second",
            "it makes syncs skip the diff",
            "it pushes manifests into the cluster",
        ),
        1,
        "Polling stays as the safety net for lost webhooks; the webhook only triggers an earlier refresh.",
        "polling",
    ),
    C(
        "A webhook arrives but one Application does not refresh. A likely cause?",
        (
            "the cluster is full",
            "the app's repoURL is spelled differently from the repository URL in the webhook",
            "self-heal is off",
            "the app has too many resources",
        ),
        1,
        "Webhooks are matched to apps by URL; notebook 05 used exactly that to make a poll-only app.",
        "polling",
    ),
    C(
        "Someone runs `kubectl label deploy web hotfix=true`; Git declares no such label. Does Argo CD "
        "report OutOfSync?",
        (
            "yes",
            "no: the diff compares only fields Git declares (or declared at the last apply)",
            "only with server-side diff",
            "only after a hard refresh",
        ),
        1,
        "Fields nobody declared are invisible to the comparison; declare them in Git to own them.",
        "undeclared",
    ),
    C(
        "How do you make such a field visible to the agent?",
        (
            "turn on self-heal",
            "declare the field in Git, so it becomes part of the desired state",
            "restart the controller",
            "delete the object",
        ),
        1,
        "Once Git says `hotfix` must not be there (or has a value), the diff sees any change to it.",
        "undeclared",
    ),
    C(
        "Git says `replicas: 2`, self-heal is on, and an HPA scales to 6. What happens?",
        (
            "they agree",
            "they fight: self-heal resets 2, the HPA sets 6 again, over and over (with backoff)",
            "the HPA is deleted",
            "Git is updated to 6",
        ),
        1,
        "Two controllers own one field. The notebook's backoff timeline showed the growing pauses.",
        "autoscaler",
    ),
    C(
        "What is the usual fix?",
        (
            "turn off the HPA",
            "drop `replicas` from the manifest in Git (or ignore that field) so the HPA owns it",
            "set replicas to 0",
            "run two Argo CD instances",
        ),
        1,
        "Give each field one owner: Git for the template, the autoscaler for the count.",
        "autoscaler",
    ),
    C(
        "Why does `argocd app rollback` require auto-sync to be off?",
        (
            "for performance",
            "auto-sync would immediately sync Git's HEAD again and undo the rollback",
            "rollback deletes history",
            "it does not",
        ),
        1,
        "A rollback deploys an older revision than HEAD; with auto-sync on, HEAD would win within seconds.",
        "rollback",
    ),
    C(
        "After a rollback, why does auto-sync stay off?",
        (
            "it is a bug",
            "turning it back on would roll forward to HEAD; someone must first fix Git (e.g. git revert)",
            "the history limit was reached",
            "the Application was recreated",
        ),
        1,
        "The rollback is an emergency brake; the durable fix is a commit.",
        "rollback",
    ),
    C(
        "What do sync waves do?",
        (
            "slow down syncs on purpose",
            "order resources: lower waves are applied and must be healthy before higher ones",
            "split an app across clusters",
            "retry failed syncs",
        ),
        1,
        "E.g. ConfigMaps and Secrets in wave -1 before the Deployment in wave 0.",
        "waves",
    ),
    C(
        "What is a PreSync hook for?",
        (
            "to run a Job (such as a schema migration) that must succeed before the app is updated",
            "to delete old pods",
            "to notify Slack after a sync",
            "to skip the diff",
        ),
        0,
        "If the hook fails, the sync stops before anything else changes; PostSync suits smoke tests.",
        "waves",
    ),
    C(
        "In the pull model, which component needs write access to the cluster?",
        (
            "the CI system",
            "only the agent running in (or next to) the cluster",
            "every developer",
            "the Git server",
        ),
        1,
        "CI builds images and commits; it holds no kubeconfig, so a leaked CI secret cannot reach the "
        "cluster.",
        "credentials",
    ),
    C(
        "What must the pull agent be able to reach?",
        (
            "inbound connections from the internet",
            "outbound: the Git server (read-only) and its own API server",
            "every developer laptop",
            "the CI runners",
        ),
        1,
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
