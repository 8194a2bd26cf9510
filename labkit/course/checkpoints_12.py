"""The interview checkpoint questions of notebook 12, GitOps at scale and the what-if model (data only).

Merged into :data:`labkit.course.checkpoints.CHECKPOINTS`; nothing else imports it.
Written for this lab; each explanation says why, in terms of what the notebook measured and predicted.
"""

from __future__ import annotations

from labkit.course.check import Check

C = Check

CHECKPOINTS_12: dict[str, tuple[Check, ...]] = {
    "12": (
        C(
            "Argo CD on its defaults, the webhook not reaching it: how long until a commit lands?",
            (
                "up to one poll: 120 s plus up to 60 s of jitter",
                "about a second, because the controller watches the repository",
                "exactly 120 s for every app, since all of them poll together",
                "10 minutes, the default interval of the reconciliation loop",
            ),
            0,
            "Without a webhook each app waits for its own next refresh, anywhere in a 120-180 s cycle, "
            "so the latencies form a wide distribution; with the webhook the queue of workers sets the "
            "time instead.",
        ),
        C(
            "With the webhook on, 2,000 apps on one repository get slower to sync. What helps most?",
            (
                "a shorter poll interval, so that every app looks at Git more often",
                "turning the webhook off, because it refreshes every app at once",
                "more hands: controller shards or more processors per shard",
                "a longer jitter, so that the apps spread their syncs out",
            ),
            2,
            "One push refreshes every app of the repository, so the commit waits in the work queue; more "
            "shards or workers drain it faster. More polling only adds work to the same queue.",
        ),
        C(
            "Why check the model against a 100-app run on your own lab before trusting it at 2,000?",
            (
                "because SimPy needs a measured run to set its random seed",
                "the fit sees step times; only a larger run tests the queueing",
                "because the model can only predict as many apps as were measured",
                "to copy the measured p95 into the model's configuration by hand",
            ),
            1,
            "The fit gives each step's duration; whether the queue, workers and triggers combine them "
            "right shows only against a run the fit did not see, here within 20 % at p50 and p95.",
        ),
    ),
}
"""The interview checkpoint at the end of notebook 12."""

del C
