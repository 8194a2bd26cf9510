"""The controller's coalescing work queue (labkit.gitops.workqueue)."""

from __future__ import annotations

from labkit.gitops.workqueue import WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_requests_for_one_app_is_reconciled_once_with_all_reasons() -> None:
    q = WorkQueue()
    for reason in ("resource", "resource", "webhook"):
        q.add("demo", reason)
    q.add("other", "poll")
    assert q.get(timeout_s=0) == ("demo", {"resource", "webhook"})
    assert q.get(timeout_s=0) == ("other", {"poll"})
    assert q.get(timeout_s=0) is None


def test_timers_fire_only_when_due() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.later(5.0, "demo", "poll")
    assert q.get(timeout_s=0) is None
    clock.now = 5.0
    assert q.get(timeout_s=0) == ("demo", {"poll"})


def test_close_wakes_a_waiting_worker() -> None:
    q = WorkQueue()
    q.close()
    assert q.get(timeout_s=10) is None


def test_an_app_being_processed_is_not_handed_to_a_second_worker() -> None:
    q = WorkQueue()
    q.add("demo", "resource")
    assert q.get(timeout_s=0) == ("demo", {"resource"})
    q.add("demo", "webhook")  # arrives while a worker holds demo
    q.add("other", "poll")
    assert q.get(timeout_s=0) == ("other", {"poll"})
    assert q.get(timeout_s=0) is None, "demo must wait until its worker is done"
    q.done("demo")
    assert q.get(timeout_s=0) == ("demo", {"webhook"})
