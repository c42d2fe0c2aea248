"""The hub's pieces that need no hub: its configuration, the feedback return, the environment checks.

The hub itself, end to end, is tests/deploy/test_hub.py (root, `make hub-test`); these run in `make test`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / "tools" / "hub"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"sqslab_hub_{name}", HUB / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


return_feedback = load("return_feedback")
hubenv = load("hubenv")


def test_the_hub_extra_is_pinned_and_stays_out_of_the_learners_environment():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    hub = project["optional-dependencies"]["hub"]
    assert hub and all("==" in r for r in hub), hub
    assert any(r.startswith("jupyterhub==") for r in hub)
    # Binder's image and a learner's conda environment need neither a hub nor repo2docker.
    assert "jupyterhub" not in (REPO / "environment.yml").read_text()
    assert hubenv.hub_requirements() == [r for r in hub if r.startswith("jupyterhub")]


def test_the_proxy_is_a_4x_version_that_runs_on_debian_bookworms_nodejs_18():
    # configurable-http-proxy 5.2 and later need Node.js 20; Debian bookworm ships 18.
    assert hubenv.CHP_VERSION.split(".")[0] == "4"


def test_a_private_folder_on_the_way_is_found():
    # Not pytest's tmp_path: it lives in a folder only its owner may enter.
    base = Path(tempfile.mkdtemp(prefix="sqslab-readable-"))
    try:
        base.chmod(0o755)
        shared, private = base / "shared", base / "private" / "venv"
        shared.mkdir()
        private.mkdir(parents=True)
        (base / "private").chmod(0o700)
        if hubenv.readable_by_all(base) is not None:
            pytest.skip(f"{base} itself is private on this machine")
        assert hubenv.readable_by_all(shared) is None
        assert hubenv.readable_by_all(private) == base / "private"
    finally:
        shutil.rmtree(base)


def collected(course: Path, learner: str, assignment: str, exchange_files: bool = True) -> None:
    sub = course / "submitted" / learner / assignment
    sub.mkdir(parents=True)
    (sub / f"{assignment}.ipynb").write_text("{}")
    if exchange_files:
        (sub / "timestamp.txt").write_text("2026-01-01 10:00:00.000000 UTC")
        (sub / "submission_secret.txt").write_text(f"secret-of-{learner}")


def test_return_feedback_puts_each_page_beside_the_files_nbgraders_exchange_needs(tmp_path):
    out, course, a = tmp_path / "out", tmp_path / "course", "01_naive_consumer"
    for learner in ("ada", "bob"):
        page = out / "feedback" / learner / a / f"{a}.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<p>{learner}'s page</p>")
    (out / "autograded" / "ada" / a).mkdir(parents=True)
    (out / "autograded" / "ada" / a / f"{a}.ipynb").write_text("hidden tests here")
    collected(course, "ada", a)
    collected(course, "bob", a, exchange_files=False)  # graded from an LMS download, not the exchange
    copied = return_feedback.return_feedback(out, course, a)
    assert copied == [course / "feedback" / "ada" / a / f"{a}.html"]
    dest = course / "feedback" / "ada" / a
    assert sorted(p.name for p in dest.iterdir()) == sorted([f"{a}.html", "timestamp.txt", "submission_secret.txt"])
    assert (dest / "submission_secret.txt").read_text() == "secret-of-ada"
    assert not (course / "feedback" / "bob").exists()
    assert "hidden tests here" not in "".join(p.read_text() for p in (course / "feedback").rglob("*") if p.is_file())


def test_return_feedback_fails_when_there_is_nothing_to_return(tmp_path):
    assert return_feedback.main(["--out", str(tmp_path / "out"), "--course", str(tmp_path), "--assignment", "x"]) == 1


def test_the_grader_does_not_count_nbgraders_exchange_files_as_the_learners(tmp_path):
    from autograder.intake import find_notebook

    folder = tmp_path / "01_naive_consumer"
    folder.mkdir()
    for name in ("01_naive_consumer.ipynb", "timestamp.txt", "submission_secret.txt", "sqslab.py"):
        (folder / name).write_text("x")
    path, others = find_notebook(str(folder), "01_naive_consumer", set())
    assert path == str(folder / "01_naive_consumer.ipynb")
    assert others == ["sqslab.py"]  # a learner's own stray file is still reported


def hub_config(tmp_path: Path) -> tuple[object, dict]:
    from traitlets.config.loader import PyFileConfigLoader

    settings = {"url": "http://127.0.0.1:8000", "hub_api_url": "http://127.0.0.1:8081",
                "proxy_api_url": "http://127.0.0.1:8001", "proxy": "/opt/x/configurable-http-proxy",
                "proxy_token": "p", "state": str(tmp_path), "public": str(tmp_path / "public"),
                "exchange": str(tmp_path / "exchange"), "course_id": "sqs-reliability", "instructor": "teacher",
                "learners": ["ada", "bob"], "driver_token": "d", "singleuser": "/opt/x/venv/bin/jupyterhub-singleuser"}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    os.environ["SQSLAB_HUB_SETTINGS"] = str(tmp_path / "settings.json")
    try:
        return PyFileConfigLoader("jupyterhub_config.py", path=str(HUB)).load_config(), settings
    finally:
        del os.environ["SQSLAB_HUB_SETTINGS"]


def test_the_hub_names_the_exchange_to_each_server_through_its_environment(tmp_path):
    config, settings = hub_config(tmp_path)
    assert config.Spawner.cmd == [settings["singleuser"]]
    assert config.Authenticator.admin_users == {"teacher"}
    assert config.Authenticator.allowed_users == {"teacher", "ada", "bob"}
    for name, role in (("ada", "learner"), ("teacher", "instructor")):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={})
        config.Spawner.pre_spawn_hook(spawner)
        assert spawner.environment["SQSLAB_HUB_EXCHANGE"] == settings["exchange"]
        assert spawner.environment["JUPYTER_CONFIG_PATH"] == os.path.join(settings["public"], "jupyter-config", role)
        assert spawner.environment["PATH"].startswith("/opt/x/venv/bin:")


def test_learners_get_the_assignment_list_and_not_the_instructors_panels():
    learner = json.loads((HUB / "jupyter-config" / "learner" / "jupyter_server_config.json").read_text())
    assert learner["ServerApp"]["jpserver_extensions"] == {
        "nbgrader.server_extensions.assignment_list": True, "nbgrader.server_extensions.course_list": False,
        "nbgrader.server_extensions.formgrader": False}
    page = json.loads((HUB / "jupyter-config" / "learner" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert "@jupyter/nbgrader:assignment-list" not in page["disabledExtensions"]
    for role in ("learner", "instructor"):
        text = (HUB / "jupyter-config" / role / "nbgrader_config.py").read_text()
        assert 'c.Exchange.root = os.environ["SQSLAB_HUB_EXCHANGE"]' in text


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_make_help_lists_the_hub_targets():
    listed = make("help").stdout
    for target in ("hub", "hub-setup", "hub-test", "hub-clean"):
        assert f"\n  {target} " in listed, target


def test_make_test_leaves_the_hub_test_to_make_hub_test():
    # -n: print the commands without running them (the setup stamp is made by then).
    assert '-m "not hub"' in make("-n", "test", f"PY={sys.executable}").stdout
    assert "-m hub tests/deploy/test_hub.py" in make("-n", "hub-test", f"PY={sys.executable}").stdout


def test_a_class_never_takes_over_a_user_it_did_not_make(tmp_path):
    # It would set their password and delete them (home folder included) when the class closes.
    if os.geteuid() != 0:
        pytest.skip("the check runs after the root check; as a non-root user the class refuses earlier")
    classroom = load("classroom")
    with pytest.raises(classroom.ClassroomError, match="root already exists on this machine and were not made"):
        classroom.open_classroom({}, tmp_path / "state", "root", [])
