"""The kind backend for real: only where a Docker daemon answers (skipped, saying why, elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.cluster.kind import KindBackend
from labkit.lab import Lab
from labkit.settings import Settings

pytestmark = pytest.mark.docker


@pytest.fixture
def kind_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(home=tmp_path / "home", lab="kindtest")
    check = KindBackend(settings).available()
    if not check.ok:
        pytest.skip(check.detail)  # e.g. "no Docker daemon answers `docker info`: Cannot connect ..."
    yield settings
    Lab.teardown(settings, progress=lambda m: None)


def test_a_kind_lab_comes_up_with_ready_nodes_and_goes_away(kind_settings: Settings) -> None:
    lab = Lab.up(kind_settings, backend="kind", progress=lambda m: None)
    assert lab.backend.name == "kind" and lab.context == "kind-labkit-kindtest"
    with lab.kube() as kube:
        assert kube.nodes_ready() >= kind_settings.cluster.nodes + 1
    assert Lab.up(kind_settings, progress=lambda m: None).record == lab.record
    lab.down(progress=lambda m: None)
    assert not lab.backend.running()
    assert not kind_settings.state_dir.exists()
