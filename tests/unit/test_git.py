"""labkit.git against real repositories in tmp dirs, the starter content, and `labkit repo ...`."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from labkit.errors import GitError
from labkit.git import (
    DEFAULT_AUTHOR,
    INITIAL_MESSAGE,
    LabRepo,
    PathNotFound,
    export_tree,
    ls_remote,
    repo_url,
)
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"
KUBECTL = Path(sys.executable).parent / "kubectl"
DEPLOYMENT = "apps/demo/deployment.yaml"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> LabRepo:
    return LabRepo.create(tmp_path / "repos" / "gitops.git", tmp_path / "repos" / "gitops-work", STARTER)


def demo_replicas(text: str) -> int:
    return int(yaml.safe_load(text)["spec"]["replicas"])


# -- create ---------------------------------------------------------------------------------------


def test_create_seeds_main_with_one_commit_of_the_starter_content(repo: LabRepo) -> None:
    [commit] = repo.log()
    assert commit.message == INITIAL_MESSAGE
    assert (commit.author, commit.email) == DEFAULT_AUTHOR
    assert DEPLOYMENT in commit.files and "apps/redis/service.yaml" in commit.files
    assert git(repo.bare, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(repo.work, "rev-parse", "HEAD").strip() == repo.head() == commit.sha


def test_create_sets_the_author_in_the_clones_local_config(repo: LabRepo) -> None:
    assert git(repo.work, "config", "--local", "user.email").strip() == DEFAULT_AUTHOR[1]
    sha = repo.commit_and_push("Add a note", {"NOTE.md": "hello\n"})
    assert repo.commit_info(sha).author == DEFAULT_AUTHOR[0]


def test_lab_git_ignores_the_users_global_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n  name = Someone Else\n[commit]\n  gpgsign = true\n")
    monkeypatch.setenv("HOME", str(home))
    lab = LabRepo.create(tmp_path / "b.git", tmp_path / "w", STARTER)
    sha = lab.set_replicas("apps/demo", "web", 3)
    assert lab.commit_info(sha).author == DEFAULT_AUTHOR[0]


def test_a_stray_git_dir_variable_does_not_redirect_commands(
    repo: LabRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(PROJECT_ROOT / ".git"))
    sha = repo.set_replicas("apps/demo", "web", 3)
    assert repo.resolve("main") == sha


def test_create_refuses_to_overwrite_an_existing_repository(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="already exists"):
        LabRepo.create(repo.bare, repo.work.parent / "other", STARTER)


def test_create_installs_the_hook_and_a_push_runs_it(tmp_path: Path) -> None:
    marker = tmp_path / "hook-input"
    hook = f"#!/bin/sh\ncat > '{marker}'\n"
    lab = LabRepo.create(tmp_path / "b.git", tmp_path / "w", STARTER, hook=hook)
    mode = (lab.bare / "hooks" / "post-receive").stat().st_mode
    assert stat.S_IMODE(mode) == 0o755
    before = lab.head()
    after = lab.commit_and_push("Add a note", {"NOTE.md": "hi\n"})
    assert marker.read_text().split() == [before, after, "refs/heads/main"]


def test_url_is_the_file_url_of_the_bare_repository(repo: LabRepo) -> None:
    assert repo.url == repo.bare.resolve().as_uri() == repo_url(repo.bare)
    assert repo.url.startswith("file:///")


# -- resolve --------------------------------------------------------------------------------------


def test_resolve_accepts_head_a_branch_a_tag_and_a_short_sha(repo: LabRepo) -> None:
    sha = repo.head()
    git(repo.bare, "tag", "v1", sha)
    assert {repo.resolve(r) for r in ("HEAD", "main", "v1", sha[:7], sha)} == {sha}


def test_resolve_names_the_revision_and_the_repository_when_missing(repo: LabRepo) -> None:
    with pytest.raises(GitError, match=f"revision 'nope' not found in {repo.url}"):
        repo.resolve("nope")


def test_resolve_refuses_option_like_revisions(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="not valid"):
        repo.resolve("--all")


def test_resolve_on_a_missing_repository_says_to_run_labkit_up(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist") as info:
        LabRepo(tmp_path / "missing.git", tmp_path / "w").resolve("HEAD")
    assert "labkit up" in info.value.hint


# -- commit and push ------------------------------------------------------------------------------


def test_commit_and_push_writes_deletes_and_returns_the_sha_now_on_the_server(repo: LabRepo) -> None:
    sha = repo.commit_and_push("Swap redis for a note", {"NOTE.md": "hi\n", "apps/redis/service.yaml": None})
    assert repo.head() == sha
    assert git(repo.bare, "show", f"{sha}:NOTE.md") == "hi\n"
    assert "apps/redis/service.yaml" not in git(repo.bare, "ls-tree", "-r", "--name-only", sha)


def test_commit_and_push_with_changes_leaves_other_edits_uncommitted(repo: LabRepo) -> None:
    (repo.work / "README.md").write_text("local scribbles\n")
    sha = repo.commit_and_push("Add a note", {"NOTE.md": "hi\n"})
    assert repo.commit_info(sha).files == ("NOTE.md",)
    assert git(repo.work, "status", "--porcelain").strip() == "M README.md"


def test_commit_and_push_without_changes_commits_everything_in_the_clone(repo: LabRepo) -> None:
    repo.write("apps/demo/extra.yaml", "kind: ConfigMap\n")
    sha = repo.commit_and_push("Add extra")
    assert repo.commit_info(sha).files == ("apps/demo/extra.yaml",)


def test_commit_and_push_refuses_when_nothing_changed(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="nothing to commit"):
        repo.commit_and_push("Nothing", {"README.md": (repo.work / "README.md").read_text()})


def test_commit_and_push_records_the_given_author(repo: LabRepo) -> None:
    sha = repo.commit_and_push("Ops change", {"NOTE.md": "x\n"}, author=("Ada Ops", "ada@example.test"))
    info = repo.commit_info(sha)
    assert (info.author, info.email) == ("Ada Ops", "ada@example.test")


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", ".git/config", "apps/../../x"])
def test_write_refuses_paths_outside_the_working_clone(repo: LabRepo, bad: str) -> None:
    with pytest.raises(GitError, match="not inside the repository"):
        repo.write(bad, "x")


# -- set_replicas / set_image ---------------------------------------------------------------------


def test_set_replicas_changes_only_the_replicas_line(repo: LabRepo) -> None:
    before = (repo.work / DEPLOYMENT).read_text()
    sha = repo.set_replicas("apps/demo", "web", 5)
    after = git(repo.bare, "show", f"{sha}:{DEPLOYMENT}")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("  replicas: 2", "  replicas: 5")]
    assert repo.commit_info(sha).subject == "Scale web to 5 replicas"


def test_set_replicas_finds_the_deployment_in_a_multi_document_file_and_adds_the_field(
    repo: LabRepo,
) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n---\n"
        "# the api server\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n"
        "spec:\n  # no replicas: the default is 1\n  selector:\n    matchLabels: {app: api}\n"
    )
    repo.commit_and_push("Add api", {"apps/api/all.yaml": text})
    sha = repo.set_replicas("apps/api", "api", 3)
    service, deployment = yaml.safe_load_all(git(repo.bare, "show", f"{sha}:apps/api/all.yaml"))
    assert deployment["spec"] == {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}}
    assert service == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}}
    assert "# no replicas: the default is 1" in (repo.work / "apps/api/all.yaml").read_text()


def test_set_replicas_names_the_deployment_it_cannot_find(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="no Deployment named 'api' in the YAML files under 'apps/demo'"):
        repo.set_replicas("apps/demo", "api", 3)


def test_set_replicas_refuses_the_count_already_in_git(repo: LabRepo) -> None:
    with pytest.raises(GitError, match="already has 2 replicas"):
        repo.set_replicas("apps/demo", "web", 2)


def test_set_replicas_reports_a_spec_it_cannot_edit_as_a_git_error_with_the_edit_hint(repo: LabRepo) -> None:
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec: {selector: {}}\n"
    repo.commit_and_push("Add api", {"apps/api/deployment.yaml": text})
    with pytest.raises(GitError, match="cannot find where to put replicas in Deployment 'api'") as e:
        repo.set_replicas("apps/api", "api", 3)
    assert e.value.hint == "edit the file by hand"


def test_set_image_changes_the_image_of_the_only_container(repo: LabRepo) -> None:
    sha = repo.set_image("apps/demo", "web", "nginx:1.28")
    deployment = yaml.safe_load(git(repo.bare, "show", f"{sha}:{DEPLOYMENT}"))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert repo.commit_info(sha).subject == "Set web image to nginx:1.28"


def test_set_image_picks_the_named_container_and_quotes_what_yaml_would_misread(repo: LabRepo) -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n"
        '      containers:\n        - name: api\n          image: "api:1"\n'
        "        - name: proxy\n          image: envoy:1.30  # sidecar\n"
    )
    repo.commit_and_push("Add api", {"apps/api/deployment.yaml": text})
    repo.set_image("apps/api", "api", "yes", container="proxy")
    repo.set_image("apps/api", "api", "api:2")
    new = (repo.work / "apps/api/deployment.yaml").read_text()
    containers = yaml.safe_load(new)["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["api:2", "yes"]
    assert '"yes"  # sidecar' in new


def test_set_image_lists_the_containers_when_the_name_is_wrong(repo: LabRepo) -> None:
    with pytest.raises(GitError, match=r"no container 'sidecar'.*containers: web"):
        repo.set_image("apps/demo", "web", "nginx:1.28", container="sidecar")


# -- history --------------------------------------------------------------------------------------


def test_log_lists_newest_first_and_filters_by_path(repo: LabRepo) -> None:
    scaled = repo.set_replicas("apps/demo", "web", 4)
    noted = repo.commit_and_push("Add a note", {"NOTE.md": "x\n"})
    assert [c.sha for c in repo.log()] == [noted, scaled, repo.log()[-1].sha]
    assert [c.sha for c in repo.log(n=1)] == [noted]
    assert [c.message for c in repo.log(path="apps/demo")] == ["Scale web to 4 replicas", INITIAL_MESSAGE]


def test_show_diff_is_the_unified_diff_of_one_commit(repo: LabRepo) -> None:
    sha = repo.set_replicas("apps/demo", "web", 4)
    diff = repo.show_diff(sha[:8])
    assert f"--- a/{DEPLOYMENT}" in diff
    assert "-  replicas: 2\n+  replicas: 4" in diff


def test_revert_commits_the_inverse_and_pushes_it(repo: LabRepo) -> None:
    scaled = repo.set_replicas("apps/demo", "web", 4)
    reverted = repo.revert(scaled)
    assert repo.head() == reverted
    assert demo_replicas(git(repo.bare, "show", f"{reverted}:{DEPLOYMENT}")) == 2
    assert repo.commit_info(reverted).subject == 'Revert "Scale web to 4 replicas"'


def test_a_revert_that_conflicts_fails_and_leaves_the_clone_clean(repo: LabRepo) -> None:
    first = repo.set_replicas("apps/demo", "web", 3)
    head = repo.set_replicas("apps/demo", "web", 4)
    with pytest.raises(GitError, match="cannot revert"):
        repo.revert(first)
    assert git(repo.work, "status", "--porcelain") == ""
    assert repo.head() == head == git(repo.work, "rev-parse", "HEAD").strip()


def test_force_push_moves_main_back_and_the_clone_follows(repo: LabRepo) -> None:
    initial = repo.head()
    repo.set_replicas("apps/demo", "web", 4)
    repo.force_push(initial)
    assert repo.head() == initial == git(repo.work, "rev-parse", "HEAD").strip()
    assert demo_replicas((repo.work / DEPLOYMENT).read_text()) == 2


def test_reset_to_starter_makes_main_one_fresh_commit_in_under_a_second(repo: LabRepo) -> None:
    repo.set_replicas("apps/demo", "web", 4)
    repo.commit_and_push("Add a note", {"NOTE.md": "x\n"})
    (repo.work / "scratch.txt").write_text("uncommitted\n")
    started = time.monotonic()
    sha = repo.reset_to_starter(STARTER)
    assert time.monotonic() - started < 1.0
    assert [c.sha for c in repo.log()] == [sha] == [repo.head()]
    assert not (repo.work / "NOTE.md").exists() and not (repo.work / "scratch.txt").exists()
    assert demo_replicas((repo.work / DEPLOYMENT).read_text()) == 2
    assert git(repo.work, "status", "--porcelain") == ""


# -- reading for the controller -------------------------------------------------------------------


def test_export_tree_writes_the_path_as_it_was_at_that_revision(repo: LabRepo, tmp_path: Path) -> None:
    initial = repo.head()
    repo.set_replicas("apps/demo", "web", 5)
    dest = tmp_path / "out" / "src"
    assert export_tree(repo.bare, initial[:7], "apps/demo/", dest) == initial
    assert sorted(p.name for p in dest.iterdir()) == ["configmap.yaml", "deployment.yaml", "service.yaml"]
    assert demo_replicas((dest / "deployment.yaml").read_text()) == 2


def test_export_of_the_whole_tree_lets_a_kustomize_overlay_find_its_base(
    repo: LabRepo, tmp_path: Path
) -> None:
    dest = tmp_path / "src"
    export_tree(repo.bare, "HEAD", ".", dest)
    overlay = dest / "apps/demo-kustomize/overlays/staging"
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(overlay)], check=True, capture_output=True, text=True
    )
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(out.stdout)}
    assert names == {"staging-web", "staging-web-config"}


def test_export_tree_raises_path_not_found_for_a_missing_path_or_a_file(
    repo: LabRepo, tmp_path: Path
) -> None:
    with pytest.raises(PathNotFound, match="'apps/nope' does not exist at revision"):
        export_tree(repo.bare, "HEAD", "apps/nope", tmp_path / "a")
    with pytest.raises(PathNotFound, match="is a file, not a directory"):
        export_tree(repo.bare, "HEAD", DEPLOYMENT, tmp_path / "b")


def test_export_tree_reports_a_missing_revision_or_repository_as_git_errors(
    repo: LabRepo, tmp_path: Path
) -> None:
    with pytest.raises(GitError, match="revision 'v9' not found") as info:
        export_tree(repo.bare, "v9", "apps/demo", tmp_path / "a")
    assert not isinstance(info.value, PathNotFound)
    with pytest.raises(GitError, match="does not exist or is not a bare git repository"):
        export_tree(tmp_path / "nowhere.git", "HEAD", "apps/demo", tmp_path / "b")


def test_export_tree_refuses_a_destination_that_is_not_empty(repo: LabRepo, tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "stale.yaml").write_text("x")
    with pytest.raises(GitError, match="not empty"):
        export_tree(repo.bare, "HEAD", "apps/demo", tmp_path / "dest")


def test_ls_remote_maps_every_ref_to_its_sha(repo: LabRepo) -> None:
    sha = repo.head()
    git(repo.work, "push", "--quiet", "origin", "HEAD:refs/heads/feature")
    assert ls_remote(repo.bare) == {"HEAD": sha, "refs/heads/main": sha, "refs/heads/feature": sha}


# -- the starter repository -----------------------------------------------------------------------


def starter_docs(folder: str) -> list[dict[str, Any]]:
    return [
        d for f in sorted((STARTER / folder).glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d
    ]


def test_the_plain_demo_app_is_a_web_deployment_service_and_configmap() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in starter_docs("apps/demo")}
    assert set(docs) == {("Deployment", "web"), ("Service", "web"), ("ConfigMap", "web-config")}
    deployment = docs[("Deployment", "web")]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert "type" not in docs[("Service", "web")]["spec"]


@pytest.mark.parametrize("folder", ["apps/demo", "apps/demo-kustomize/base", "apps/redis"])
def test_starter_manifests_parse_and_leave_the_namespace_to_the_application(folder: str) -> None:
    docs = starter_docs(folder)
    assert docs
    assert all("namespace" not in d["metadata"] for d in docs if "metadata" in d)


@pytest.mark.parametrize(
    ("folder", "replicas"),
    [
        ("apps/demo-kustomize/base", 2),
        ("apps/demo-kustomize/overlays/staging", 1),
        ("apps/demo-kustomize/overlays/production", 4),
    ],
)
def test_starter_kustomize_folders_render_with_kubectl(folder: str, replicas: int) -> None:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(STARTER / folder)], check=True, capture_output=True, text=True
    )
    docs = list(yaml.safe_load_all(out.stdout))
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == replicas
    assert all("namespace" not in d["metadata"] for d in docs)


# -- `labkit repo ...` ----------------------------------------------------------------------------


@pytest.fixture
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabRepo:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_LAB", "t")
    repos = tmp_path / "home" / "labs" / "t" / "repos"
    return LabRepo.create(repos / "gitops.git", repos / "gitops-work", STARTER)


def invoke(*args: str) -> tuple[int, str]:
    import labkit.cli.repo_cmds  # noqa: F401  (registers `repo` on main)
    from labkit.cli.base import main

    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_repo_url_prints_the_bare_repository_url(lab_home: LabRepo) -> None:
    assert invoke("repo", "url") == (0, lab_home.url + "\n")


def test_repo_set_replicas_then_log_shows_the_audit_trail(lab_home: LabRepo) -> None:
    code, out = invoke("repo", "set-replicas", "apps/demo", "web", "5")
    assert code == 0 and "Scale web to 5 replicas" in out
    code, out = invoke("repo", "log", "-n", "5")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith(lab_home.head()[:7]) and lines[0].endswith("Scale web to 5 replicas")
    assert DEFAULT_AUTHOR[0] in lines[1] and lines[1].endswith(INITIAL_MESSAGE)


def test_repo_revert_pushes_the_inverse_commit(lab_home: LabRepo) -> None:
    sha = lab_home.set_replicas("apps/demo", "web", 5)
    code, out = invoke("repo", "revert", sha[:7])
    assert code == 0 and 'Revert "Scale web to 5 replicas"' in out
    assert demo_replicas((lab_home.work / DEPLOYMENT).read_text()) == 2


def test_repo_commands_explain_errors_in_one_line_and_exit_1(lab_home: LabRepo) -> None:
    code, out = invoke("repo", "revert", "deadbeef")
    assert code == 1 and "revision 'deadbeef' not found" in out and "Traceback" not in out


def test_repo_commands_without_a_lab_say_to_run_labkit_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "empty"))
    code, out = invoke("repo", "log")
    assert code == 1 and "labkit up" in out


def test_a_mirror_is_cloned_once_then_fetched_and_holds_new_commits(repo: LabRepo, tmp_path: Path) -> None:
    from labkit import git as labgit

    mirrors = tmp_path / "mirrors"
    path = labgit.mirror(repo.url, mirrors)
    assert path == labgit.mirror_path(repo.url, mirrors) and labgit.has_commit(path, repo.head())
    sha = repo.set_replicas("apps/demo", "web", 7)
    assert not labgit.has_commit(path, sha), "a mirror changes only when fetched"
    assert labgit.mirror(repo.url, mirrors) == path
    assert labgit.has_commit(path, sha)
    assert not labgit.has_commit(tmp_path / "nowhere.git", sha)


def test_a_mirror_of_a_url_that_does_not_answer_says_how_to_check_it(tmp_path: Path) -> None:
    from labkit import git as labgit

    with pytest.raises(GitError) as e:
        labgit.mirror("http://127.0.0.1:9/nothing.git", tmp_path)
    assert (
        e.value.hint
        == "check that http://127.0.0.1:9/nothing.git answers: git ls-remote http://127.0.0.1:9/nothing.git"
    )
