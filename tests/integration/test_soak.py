"""A short chaos soak in `make test`: two minutes of commits, drift, SIGKILLs, API server restarts
and webhook bursts on a scratch lab of its own (the session's lab is never disturbed), then every
invariant of :mod:`benchmarks.bench_soak` must hold and nothing may be lost. The 30-minute soak is
``python -m benchmarks.run soak`` (``make bench``)."""

from __future__ import annotations

import logging

import pytest

from benchmarks import bench_soak
from benchmarks.run import table
from tests.integration.conftest import Scratch

pytestmark = pytest.mark.cluster
log = logging.getLogger("labkit.tests")


@pytest.mark.timeout(600)
def test_a_two_minute_soak_survives_every_fault_and_loses_nothing(scratch: Scratch) -> None:
    report = bench_soak.soak(scratch.settings, minutes=2, seed=12, progress=log.info)
    text = table("soak (2 minutes)", report.rows())
    log.info("\n%s", text)
    tally = report.tally
    assert tally.faults["controller"] >= 1 and tally.faults["git-http"] >= 1, text
    assert tally.faults["kube-apiserver"] >= 1 and tally.ops["commit"] >= 5 and tally.ops["drift"] >= 5, text
    assert sum(tally.survived.values()) == sum(tally.faults.values()), text
    assert [c.name for c in report.checks if not c.ok] == [], text
    assert report.lost == 0, text
