"""The repository's front door: pins agree everywhere, moto is the tested version, make does its job."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"sqslab_{name}_tool", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


workcopy = _load("workcopy")
envcheck = _load("envcheck")


def pins(requirements: list[str]) -> dict[str, tuple[tuple[str, ...], str]]:
    """name -> (extras, specifier), spelled the same whichever file it came from."""
    found = {}
    for text in requirements:
        req = Requirement(text)
        found[req.name.lower().replace("_", "-")] = (tuple(sorted(req.extras)), str(req.specifier))
    return found


def pyproject_requirements() -> list[str]:
    project = PYPROJECT["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["test"])


def environment_yml() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))


def environment_pip_requirements(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip: section"
    return [line for line in sections[0] if not line.startswith("-")]


def make(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


# --- pins ------------------------------------------------------------------------------------


def test_environment_yml_pins_the_same_packages_and_versions_as_pyproject():
    want = pins(pyproject_requirements())
    have = pins(environment_pip_requirements(environment_yml()))
    only_pyproject = {k: v for k, v in want.items() if have.get(k) != v}
    only_yml = {k: v for k, v in have.items() if want.get(k) != v}
    assert want == have, (
        "environment.yml and pyproject.toml disagree; "
        f"pyproject.toml says {only_pyproject}, environment.yml says {only_yml}"
    )


def test_environment_yml_python_is_one_pyproject_allows():
    conda = [d for d in environment_yml()["dependencies"] if isinstance(d, str)]
    python = [d for d in conda if d.startswith("python")]
    assert python == ["python=3.11"], f"environment.yml should ask for python=3.11, not {python}"
    assert "pip" in conda
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains("3.11")


def test_every_dependency_is_pinned_to_one_version():
    loose = [r for r in pyproject_requirements()
             if len(Requirement(r).specifier) != 1 or next(iter(Requirement(r).specifier)).operator != "=="]
    assert not loose, f"pin these with ==, so every machine runs what was tested: {loose}"


def test_installed_moto_is_exactly_the_pinned_version():
    # The bench corrects moto's internals; another version may have moved what it corrects.
    pinned = pins(PYPROJECT["project"]["dependencies"])["moto"][1]
    assert pinned.startswith("=="), f"moto must be pinned exactly, not {pinned!r}"
    installed = metadata.version("moto")
    assert installed == pinned[2:], (
        f"moto {installed} is installed but sqslab's corrections were tested on {pinned[2:]}: run `make setup`"
    )


def test_envcheck_accepts_this_environment():
    assert envcheck.problems(pyproject_requirements()) == []


def test_envcheck_reports_a_version_that_differs_from_the_pin():
    installed = metadata.version("moto")
    found = envcheck.problems(["moto==0.0.1", f"boto3=={metadata.version('boto3')}"])
    assert found == [f"moto {installed} is installed, wanted moto==0.0.1"]


def test_envcheck_reports_a_package_that_is_not_installed():
    assert envcheck.problems(["no-such-package-sqslab==1.0"]) == [
        "no-such-package-sqslab is not installed (wanted no-such-package-sqslab==1.0)"
    ]


class FakeEditableDist:
    """An editable install whose .pth file points at ``src``."""

    def __init__(self, tmp_path: Path, src: Path):
        self.pth = tmp_path / "__editable__.sqslab-0.1.0.pth"
        self.pth.write_text(f"{src}\n")
        self.files = [Path("sqslab-0.1.0.dist-info/METADATA"), Path(self.pth.name)]

    def locate_file(self, file):
        return self.pth.parent / Path(file).name


def test_envcheck_refuses_an_environment_that_serves_another_checkout(tmp_path, monkeypatch):
    # Installing there would switch everyone who shares that venv over to this checkout's code.
    monkeypatch.setattr(envcheck.metadata, "distribution", lambda name: FakeEditableDist(tmp_path, tmp_path / "other" / "src"))
    assert envcheck.other_checkout() == tmp_path / "other" / "src"
    assert envcheck.main(["--quiet"]) == 2


def test_envcheck_accepts_an_editable_install_of_this_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(envcheck.metadata, "distribution", lambda name: FakeEditableDist(tmp_path, REPO / "src"))
    assert envcheck.other_checkout() is None


# --- make ------------------------------------------------------------------------------------


@needs_make
def test_make_help_lists_every_front_door_target():
    result = make("help")
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^  ([a-z][a-z-]*) ", result.stdout, flags=re.MULTILINE))
    missing = {"setup", "lab", "test", "grade", "release", "clean", "bench", "demo"} - listed
    assert not missing, f"`make help` does not list {sorted(missing)}:\n{result.stdout}"


@needs_make
def test_make_without_a_target_shows_help():
    assert make().stdout == make("help").stdout


def bench_copy(tmp_path: Path) -> list[str]:
    """The Makefile alone in ``tmp_path``, with `make setup` already done for this interpreter.

    Targets run there cannot touch the repository or pip-install into the shared venv.
    """
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").touch()
    venv = tmp_path / "venv"
    venv.mkdir()
    stamp = venv / ".stamp-sqslab-setup"
    stamp.touch()
    os.utime(stamp, (2_000_000_000, 2_000_000_000))  # newer than pyproject.toml: setup is done
    return [f"VENV={venv}", f"PY={sys.executable}"]


@needs_make
@pytest.mark.parametrize("tests, passes", [
    ("", False),  # pytest exits 5 when nothing ran; CI must not read that as success
    ("def test_fails():\n    assert False\n", False),
    ("def test_passes():\n    assert True\n", True),
])
def test_make_test_passes_only_when_tests_ran_and_passed(tmp_path, tests, passes):
    variables = bench_copy(tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sample.py").write_text(tests)
    result = make("test", *variables, "WORKERS=0", "TEST_ARGS=-p no:cacheprovider tests", cwd=tmp_path)
    assert (result.returncode == 0) == passes, result.stdout + result.stderr


@needs_make
@pytest.mark.parametrize("code, passes", [
    ("import os\n", False),                    # an unused import
    ("def f():\n    return undefined_name\n", False),
    ("import os\nprint(os.sep)\n", True),
])
def test_make_lint_fails_on_unused_imports_and_undefined_names(tmp_path, code, passes):
    variables = bench_copy(tmp_path)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "module.py").write_text(code)
    result = make("lint", *variables, cwd=tmp_path)
    assert (result.returncode == 0) == passes, result.stdout + result.stderr


@needs_make
def test_make_clean_removes_caches_and_out_but_never_work(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    for path in ["work/01_naive_consumer/01_naive_consumer.ipynb", "work/__pycache__/x.pyc",
                 "out/grades.csv", "src/pkg/__pycache__/m.pyc", ".pytest_cache/v", "build/lib/x"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    result = make("clean", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "work/01_naive_consumer/01_naive_consumer.ipynb").read_text() == "x"
    assert (tmp_path / "work/__pycache__/x.pyc").exists()  # the learner's folder is not ours to tidy
    for gone in ["out", "src/pkg/__pycache__", ".pytest_cache", "build"]:
        assert not (tmp_path / gone).exists(), gone


@needs_make
def test_make_grade_says_so_when_the_grader_is_not_built(tmp_path):
    result = make("grade", *bench_copy(tmp_path), cwd=tmp_path)
    assert result.returncode != 0
    assert "autograder/grade.py is not built yet" in result.stderr


@needs_make
def test_make_grade_passes_a_class_run_to_the_grader(tmp_path):
    variables = bench_copy(tmp_path)
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "grade.py").write_text("import sys\nprint(sys.argv[1:])\n")
    result = make("grade", *variables, "SUBMISSIONS=subs", "OUT=results", "GRADE_ARGS=--jobs 2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "['--submissions', 'subs', '--out', 'results', '--jobs', '2']" in result.stdout


@needs_make
def test_make_grade_without_submissions_self_checks_work(tmp_path):
    variables = bench_copy(tmp_path)
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "grade.py").write_text("import sys\nprint(sys.argv[1:])\n")
    (tmp_path / "work").mkdir()
    result = make("grade", *variables, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "['--work', 'work']" in result.stdout


# --- make lab's copy into work/ ---------------------------------------------------------------


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    for name in ["00_getting_started", "01_naive_consumer"]:
        (root / name).mkdir(parents=True)
        (root / name / f"{name}.ipynb").write_text(f"pristine {name}")
    (root / "01_naive_consumer" / ".ipynb_checkpoints").mkdir()
    (root / "01_naive_consumer" / ".ipynb_checkpoints" / "x.ipynb").write_text("debris")
    return root


def test_work_copy_copies_the_whole_course_the_first_time(course, tmp_path):
    copied = workcopy.copy_missing(course, tmp_path / "work")
    assert sorted(p.relative_to(tmp_path / "work").as_posix() for p in copied) == [
        "00_getting_started/00_getting_started.ipynb",
        "01_naive_consumer/01_naive_consumer.ipynb",
    ]


def test_work_copy_never_overwrites_a_learners_notebook(course, tmp_path):
    work = tmp_path / "work"
    workcopy.copy_missing(course, work)
    mine = work / "01_naive_consumer" / "01_naive_consumer.ipynb"
    mine.write_text("my answers")
    (course / "01_naive_consumer" / "01_naive_consumer.ipynb").write_text("course updated")
    assert workcopy.copy_missing(course, work) == []
    assert mine.read_text() == "my answers"


def test_work_copy_adds_a_newly_released_assignment(course, tmp_path):
    work = tmp_path / "work"
    workcopy.copy_missing(course, work)
    (work / "00_getting_started" / "00_getting_started.ipynb").write_text("my answers")
    (course / "02_idempotent_consumer").mkdir()
    (course / "02_idempotent_consumer" / "02_idempotent_consumer.ipynb").write_text("new lesson")
    copied = workcopy.copy_missing(course, work)
    assert copied == [work / "02_idempotent_consumer" / "02_idempotent_consumer.ipynb"]
    assert copied[0].read_text() == "new lesson"
    assert (work / "00_getting_started" / "00_getting_started.ipynb").read_text() == "my answers"


def test_work_copy_restores_a_notebook_the_learner_deleted_to_start_over(course, tmp_path):
    work = tmp_path / "work"
    workcopy.copy_missing(course, work)
    (work / "01_naive_consumer" / "01_naive_consumer.ipynb").unlink()
    assert workcopy.copy_missing(course, work) == [work / "01_naive_consumer" / "01_naive_consumer.ipynb"]


def test_xdist_loadgroup_keeps_each_group_on_one_worker(tmp_path):
    # tests/course/test_corpus.py grades a lesson's whole corpus once per worker that runs any of its cases:
    # without real grouping (pytest 9.2 with pytest-xdist 3.8) every corpus is graded twice.
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "CASES = [pytest.param(g, i, marks=pytest.mark.xdist_group(g), id=f'{g}:{i}') for g in 'abc' for i in range(4)]\n"
        "@pytest.mark.parametrize('group, i', CASES)\n"
        "def test_case(group, i):\n"
        "    with open(os.path.join(os.path.dirname(__file__), 'ran.txt'), 'a') as f:\n"
        "        f.write(f\"{group} {os.environ['PYTEST_XDIST_WORKER']}\\n\")\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q",
                           "-p", "no:cacheprovider", "test_grouped.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    workers: dict[str, set[str]] = {}
    for line in (tmp_path / "ran.txt").read_text().split("\n"):
        if line:
            group, worker = line.split()
            workers.setdefault(group, set()).add(worker)
    assert sorted(workers) == ["a", "b", "c"]
    assert all(len(w) == 1 for w in workers.values()), f"groups split across workers: {workers}"


def test_the_repository_stands_alone():
    # Nothing in the repository may send a reader to a file outside it (the course documents its own
    # facts in docs/sqs-facts.md).
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    outside = re.compile(r"FACTS\.md|DESIGN\.md|STYLE\.md|\.\./shared\b|/work/shared")
    offenders = []
    for name in files:
        path = REPO / name
        if name == "tests/course/test_packaging.py" or not path.is_file() or path.suffix in (".png", ".db"):
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in outside.finditer(text)]
    assert not offenders, "files outside the repository are cited:\n" + "\n".join(sorted(set(offenders)))
