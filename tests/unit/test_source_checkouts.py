"""SourceCache exports a commit once however many apps render it (issue 13: one push, 1,000 apps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit import git
from labkit.git import LabRepo
from labkit.gitops import source as source_module
from labkit.gitops.source import Checkouts, SourceCache
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"


@pytest.fixture
def repo(tmp_path: Path) -> LabRepo:
    return LabRepo.create(tmp_path / "gitops.git", tmp_path / "gitops-work", STARTER)


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The revisions exported, in order."""
    done: list[str] = []
    real = git.export_tree

    def counting(bare: Path, revision: str, path: str, dest: Path) -> str:
        done.append(revision)
        return real(bare, revision, path, dest)

    monkeypatch.setattr(git, "export_tree", counting)
    return done


def test_many_apps_on_one_commit_share_one_export(repo: LabRepo, exports: list[str], tmp_path: Path) -> None:
    sha = repo.commit_and_push("two apps", {f"fleet/a{i}/cm.yaml": _configmap(f"cm{i}") for i in range(3)})
    source = SourceCache(mirrors=tmp_path / "mirrors")
    rendered = [source.desired(f"a{i}", repo.url, f"fleet/a{i}", sha, f"ns{i}").objects for i in range(3)]
    assert exports == [sha]
    assert [objs[0]["metadata"]["name"] for objs in rendered] == ["cm0", "cm1", "cm2"]
    assert rendered[1][0]["metadata"]["namespace"] == "ns1"


def test_a_missing_path_still_says_so(repo: LabRepo, tmp_path: Path) -> None:
    sha = repo.resolve("HEAD")
    with pytest.raises(git.PathNotFound, match="'nowhere' does not exist"):
        SourceCache(mirrors=tmp_path / "mirrors").desired("a", repo.url, "nowhere", sha, "ns")


def test_old_checkouts_are_deleted_once_unused(repo: LabRepo, exports: list[str], tmp_path: Path) -> None:
    checkouts = Checkouts(tmp_path / "checkouts", keep=2)
    shas = [repo.commit_and_push(f"c{i}", {"fleet/a/cm.yaml": _configmap(f"cm{i}")}) for i in range(3)]
    roots = []
    for sha in shas:
        with checkouts.checkout(repo.bare, sha) as (root, full):
            assert full == sha and (root / "fleet" / "a" / "cm.yaml").is_file()
            roots.append(root)
    assert [r.exists() for r in roots] == [False, True, True]
    with checkouts.checkout(repo.bare, shas[2]) as (root, _):
        assert root == roots[2]
    assert exports == shas


def test_a_checkout_in_use_is_not_deleted(repo: LabRepo, tmp_path: Path) -> None:
    checkouts = Checkouts(tmp_path / "checkouts", keep=1)
    first = repo.resolve("HEAD")
    second = repo.commit_and_push("c", {"fleet/a/cm.yaml": _configmap("cm")})
    with checkouts.checkout(repo.bare, first) as (held, _):
        with checkouts.checkout(repo.bare, second):
            pass
        assert held.is_dir()
    assert [p.name for p in (tmp_path / "checkouts").iterdir()] == [held.name]  # keep=1


def _configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


def test_each_app_keeps_the_renders_of_its_newest_commits_only(
    repo: LabRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    real = source_module.render

    def counting(source_dir: Path, **kw: Any) -> Any:
        rendered.append(kw["revision"])
        return real(source_dir, **kw)

    monkeypatch.setattr(source_module, "render", counting)
    source = SourceCache(mirrors=tmp_path / "mirrors")
    shas = [repo.commit_and_push(f"c{i}", {"fleet/a/cm.yaml": _configmap(f"cm{i}")}) for i in range(4)]
    for sha in shas:
        source.desired("a", repo.url, "fleet/a", sha, "ns")
    source.desired("a", repo.url, "fleet/a", shas[1], "ns")  # kept
    assert rendered == shas
    source.desired("a", repo.url, "fleet/a", shas[0], "ns")  # dropped (RENDERS_KEPT = 3): rendered again
    assert rendered == [*shas, shas[0]]
