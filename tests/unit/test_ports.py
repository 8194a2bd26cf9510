"""labkit.ports: one port per name per lab, allocated once, remembered in ports.json."""

from __future__ import annotations

import json
import socket
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit import ports
from labkit.errors import LabStateError


def test_a_port_is_allocated_on_first_ask_and_the_same_one_comes_back(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "a"
    first = ports.port(lab, "git-http")
    assert 1024 <= first <= 65535
    assert ports.port(lab, "git-http") == first
    assert json.loads((lab / "ports.json").read_text()) == {"git-http": first}


def test_different_names_get_different_ports_and_ports_lists_them(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "a"
    git_http, argocd = ports.port(lab, "git-http"), ports.port(lab, "argocd-server")
    assert git_http != argocd
    assert ports.ports(lab) == {"git-http": git_http, "argocd-server": argocd}


def test_an_allocated_port_is_free_to_bind_on_127_0_0_1(tmp_path: Path) -> None:
    number = ports.port(tmp_path / "labs" / "a", "git-http")
    with socket.socket() as s:
        s.bind(("127.0.0.1", number))


def test_a_lab_without_ports_json_has_no_ports(tmp_path: Path) -> None:
    assert ports.ports(tmp_path / "nowhere") == {}


def test_a_stored_port_is_returned_even_if_something_listens_on_it_now(tmp_path: Path) -> None:
    # The process that owns it may be up: the URL must not move under its clients.
    lab = tmp_path / "labs" / "a"
    number = ports.port(lab, "git-http")
    with socket.socket() as s:
        s.bind(("127.0.0.1", number))
        s.listen()
        assert ports.port(lab, "git-http") == number


def test_a_port_another_lab_wrote_down_is_never_handed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other, mine = tmp_path / "labs" / "other", tmp_path / "labs" / "mine"
    taken = ports.port(other, "git-http")
    fresh = taken + 1 if taken < 65535 else taken - 1
    picks = iter([taken, taken, fresh])
    monkeypatch.setattr(ports, "_kernel_pick", lambda: next(picks))
    assert ports.port(mine, "git-http") == fresh


def test_two_threads_asking_at_once_get_one_answer(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "a"
    with ThreadPoolExecutor(8) as pool:
        answers = set(pool.map(lambda _: ports.port(lab, "git-http"), range(16)))
    assert len(answers) == 1
    assert ports.ports(lab) == {"git-http": answers.pop()}


def test_a_broken_ports_json_says_how_to_recover(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "a"
    lab.mkdir(parents=True)
    (lab / "ports.json").write_text("{not json")
    with pytest.raises(LabStateError) as e:
        ports.port(lab, "git-http")
    assert "delete" in e.value.hint and "ports.json" in e.value.hint


def test_ports_json_is_not_world_writable(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "a"
    ports.port(lab, "git-http")
    assert not stat.S_IMODE((lab / "ports.json").stat().st_mode) & stat.S_IWOTH
