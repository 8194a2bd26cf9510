"""labkit.course.gitshell: repository changes made the way a person makes them, every git command echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit import course
from labkit.errors import GitError
from labkit.git import LabRepo
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"


@pytest.fixture
def repo(tmp_path: Path) -> LabRepo:
    return LabRepo.create(tmp_path / "gitops.git", tmp_path / "gitops-work", STARTER)


def test_set_replicas_echoes_diff_add_commit_push_and_pushes_the_commit(repo: LabRepo) -> None:
    lines: list[str] = []
    sha = course.set_replicas(repo, "apps/demo", "web", 5, echo=lines.append)
    typed = [line for line in lines if line.startswith("$ ")]
    assert typed[0].startswith("$ cd $LABKIT_REPO")
    assert typed[1:] == [
        "$ git diff -- apps/demo/deployment.yaml",
        "$ git add --all -- apps/demo/deployment.yaml",
        "$ git status --short -- apps/demo/deployment.yaml",
        "$ git commit -m 'Scale web to 5 replicas' -- apps/demo/deployment.yaml",
        "$ git push --quiet origin main",
    ]
    assert "+  replicas: 5" in lines, "git's own diff output is shown under the command"
    assert repo.head() == sha and repo.commit_info(sha).subject == "Scale web to 5 replicas"


def test_replace_in_file_commits_with_the_author_a_person_would_pass(repo: LabRepo) -> None:
    lines: list[str] = []
    sha = course.replace_in_file(
        repo,
        "apps/demo/configmap.yaml",
        "LOG_LEVEL",
        "LOG_LVL",
        "Rename",
        author=("Ana", "a@x"),
        echo=lines.append,
    )
    assert "$ git commit -m Rename '--author=Ana <a@x>' -- apps/demo/configmap.yaml" in lines
    assert repo.commit_info(sha).author == "Ana"


def test_replace_in_file_refuses_text_that_is_not_there_exactly_once(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="0 times"):
        course.replace_in_file(repo, "apps/demo/deployment.yaml", "replicas: 7", "replicas: 8", "x")


def test_setting_the_same_value_again_says_there_is_nothing_to_commit(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="nothing to commit"):
        course.set_replicas(repo, "apps/demo", "web", 2, echo=lambda _: None)


def test_commit_files_shows_git_status_and_commits_new_and_deleted_files_at_once(repo: LabRepo) -> None:
    lines: list[str] = []
    files = {"apps/new/cm.yaml": "kind: ConfigMap\n", "apps/demo/configmap.yaml": None}
    sha = course.commit_files(repo, "Add new, drop cm", files, echo=lines.append)
    assert "A  apps/new/cm.yaml" in lines and "D  apps/demo/configmap.yaml" in lines
    assert set(repo.commit_info(sha).files) == set(files)


def test_revert_echoes_git_revert_and_push_and_undoes_the_commit(repo: LabRepo) -> None:
    sha = course.set_image(repo, "apps/demo", "web", "nginx:9.9", echo=lambda _: None)
    lines: list[str] = []
    back = course.revert(repo, sha, echo=lines.append)
    assert f"$ git revert --no-edit {sha[:7]}" in lines and "$ git push --quiet origin main" in lines
    assert "nginx:9.9" not in (repo.work / "apps/demo/deployment.yaml").read_text()
    assert repo.commit_info(back).subject.startswith("Revert")


def test_git_echoes_a_read_only_command_and_its_output(repo: LabRepo) -> None:
    lines: list[str] = []
    out = course.git(repo, "log", "--oneline", echo=lines.append)
    assert lines[0] == "$ git log --oneline" and "Initial commit" in out and lines[1:] == out.splitlines()
