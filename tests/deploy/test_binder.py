"""Binder: what repo2docker (mybinder.org's builder) would do with the repository, and what postBuild does.

``jupyter-repo2docker --no-build --debug`` prints the Dockerfile it would build without building it;
it needs no Docker daemon (the test points DOCKER_HOST at nothing to prove it). On that Dockerfile:
environment.yml is installed into the environment the Jupyter server runs from, before the repository
is copied in; then the repository is copied; then postBuild runs, as the learner's user. postBuild
itself is run here with pip replaced by a recorder: it leaves a signed work/ copy of course/ and the
learner's Jupyter settings in the user's home.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
R2D = Path(sys.executable).parent / "jupyter-repo2docker"

needs_r2d = pytest.mark.skipif(not R2D.exists(), reason="jupyter-repo2docker is not installed (make setup installs it)")


def checkout(dest: Path) -> Path:
    """The repository's committed and work-tree files (what a clone has), without git or ignored files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        src = REPO / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    return dest


@pytest.fixture(scope="module")
def dockerfile(tmp_path_factory) -> str:
    repo = checkout(tmp_path_factory.mktemp("binder") / "repo")
    # mybinder.org builds as jovyan, uid 1000; DOCKER_HOST leads nowhere: no daemon may be needed.
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = subprocess.run([str(R2D), "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan", str(repo)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def line_of(dockerfile: str, pattern: str) -> int:
    lines = dockerfile.splitlines()
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"repo2docker's Dockerfile has no line matching {pattern!r}"
    return found[0]


@needs_r2d
def test_repo2docker_uses_the_conda_environment_for_python_311(dockerfile):
    assert "Building conda environment for python=3.11" in dockerfile


@needs_r2d
def test_repo2docker_installs_environment_yml_into_the_servers_environment_before_the_repository(dockerfile):
    env_copy = line_of(dockerfile, r"^COPY .*src/environment\.yml ")
    env_install = line_of(dockerfile, r"env update -p \$\{NB_PYTHON_PREFIX\} --file \"environment\.yml\"")
    repo_copy = line_of(dockerfile, r"^COPY --chown=1000:1000 src/ \$\{REPO_DIR\}/")
    assert env_copy < env_install < repo_copy
    # The server's own environment (not a separate kernel one): JupyterLab and nbgrader's extensions
    # are the pinned ones, and the kernel imports the bench.
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in dockerfile.splitlines()


@needs_r2d
def test_repo2docker_runs_postbuild_after_copying_the_repository_as_the_learner(dockerfile):
    repo_copy = line_of(dockerfile, r"^COPY --chown=1000:1000 src/ \$\{REPO_DIR\}/")
    post_build = line_of(dockerfile, r"^RUN \./postBuild")
    assert repo_copy < post_build
    user = [line for line in dockerfile.splitlines()[:post_build] if line.startswith("USER ")][-1]
    assert user == "USER ${NB_USER}", f"postBuild would run as {user}"


def test_postbuild_is_an_executable_bash_script_that_stops_at_the_first_error():
    path = REPO / "postBuild"
    assert path.stat().st_mode & stat.S_IXUSR, "postBuild must be executable (git: chmod +x)"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text


def test_postbuild_installs_the_bench_makes_a_trusted_work_copy_and_the_learners_settings(tmp_path):
    import nbformat
    from nbformat.sign import NotebookNotary

    repo = checkout(tmp_path / "repo")
    home = tmp_path / "home"
    shims = tmp_path / "shims"
    shims.mkdir()
    # `python -m pip ...` is recorded, not run (it would install into this test's own environment).
    (shims / "python").write_text(f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then\n'
                                  f'  echo "$@" >> "{tmp_path}/pip.log"; exit 0\nfi\nexec "{sys.executable}" "$@"\n')
    (shims / "python").chmod(0o755)
    env = {**os.environ, "HOME": str(home), "PATH": f"{shims}:{os.environ['PATH']}",
           "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"), "MPLCONFIGDIR": str(home / ".mpl")}
    env.pop("JUPYTER_CONFIG_DIR", None)
    done = subprocess.run(["bash", "postBuild"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "pip.log").read_text().split() == ["-m", "pip", "install", "--no-deps", "--no-cache-dir", "-e", "."]
    course = sorted(p.relative_to(repo / "course") for p in (repo / "course").glob("*/*.ipynb"))
    work = sorted(p.relative_to(repo / "work") for p in (repo / "work").glob("*/*.ipynb"))
    assert work == course and course
    notary = NotebookNotary(data_dir=env["JUPYTER_DATA_DIR"])
    assert all(notary.check_signature(nbformat.read(repo / "work" / p, as_version=4)) for p in work)
    for name in ("jupyter_server_config.json", "jupyter_server_config.py", "labconfig/page_config.json"):
        mine = home / ".jupyter" / name
        assert mine.read_bytes() == (REPO / "tools" / "jupyter-config" / name).read_bytes(), name


def test_the_readme_has_a_binder_badge_that_opens_the_learners_work_folder():
    readme = (REPO / "README.md").read_text()
    badge = re.search(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((https://mybinder\.org/v2/gh/[^)]+)\)",
                      readme)
    assert badge, "README.md has no Binder badge"
    assert badge.group(1).endswith("?urlpath=lab/tree/work/00_getting_started/00_getting_started.ipynb")
