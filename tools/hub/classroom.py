"""A JupyterHub class on this machine: real local users, nbgrader's exchange, the course released from it.

``make hub`` runs this for an instructor to try the whole workflow by hand; ``tests/deploy/test_hub.py``
drives the same hub end to end. It needs root (it creates local users, and the hub starts each
user's server as that user) and the hub's environment (``tools/hub/hubenv.py``).

What it sets up:

- the users: an instructor (the hub's admin) and learners, local accounts with home folders and
  passwords (PAM logs them in);
- the exchange: a folder every user can write into, named to each user's server through its
  environment (``SQSLAB_HUB_EXCHANGE``), never through ``/etc``;
- the instructor's course folder ``~/course`` (``release/`` holds ``course/``, so
  ``nbgrader release_assignment`` works at once) and their own copy of the repository
  ``~/sqs-reliability-course`` (``make grade`` as the instructor, no root);
- the hub: ``jupyterhub -f tools/hub/jupyterhub_config.py``, on 127.0.0.1.

Usage (as root)::

    python tools/hub/classroom.py run [--port 8000] [--learners sqs-ada,sqs-bob,sqs-cy] [--instructor sqs-teacher]
    python tools/hub/classroom.py clean        # remove the users and the state `run` made
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COURSE_ID = "sqs-reliability"


class ClassroomError(RuntimeError):
    """The class cannot be set up here; the message says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_root() -> None:
    """Raise :class:`ClassroomError` unless this process can create users and start servers as them."""
    if os.geteuid() != 0:
        raise ClassroomError("a hub with local users needs root (it creates the users and starts each "
                             "one's server as that user)")
    for tool in ("useradd", "userdel", "chpasswd"):
        if not shutil.which(tool):
            raise ClassroomError(f"{tool} is missing (Debian: apt-get install passwd)")


@dataclass
class User:
    """A local account of the class."""

    name: str
    password: str
    uid: int
    gid: int
    home: Path


def create_user(name: str, password: str | None = None) -> User:
    """Create the local user ``name`` with a home folder and a password (reused if it already exists)."""
    password = password or secrets.token_urlsafe(12)
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    home.chmod(0o700)  # a learner's work is theirs alone
    return User(name, password, entry.pw_uid, entry.pw_gid, home)


def remove_user(name: str) -> None:
    """Delete the local user ``name`` and their home folder (nothing if there is no such user)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def run_as(user: User, command: list[str], *, cwd: Path | None = None, env: dict | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``command`` as ``user`` (their uid, gid and groups, a clean environment), capturing its output."""
    base = {"HOME": str(user.home), "USER": user.name, "LOGNAME": user.name, "LANG": "C.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run(command, cwd=cwd or user.home, env={**base, **(env or {})}, user=user.uid,
                          group=user.gid, extra_groups=[], capture_output=True, text=True, timeout=timeout)


def copy_tree_as(src: Path, dest: Path, user: User, files: list[str] | None = None) -> None:
    """Copy ``src`` (or only ``files`` of it) to ``dest`` and give everything to ``user``."""
    if files is None:
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    else:
        for name in files:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, dest / name)
    for path in [dest, *dest.rglob("*")]:
        os.chown(path, user.uid, user.gid, follow_symlinks=False)


def repository_files(repo: Path = REPO) -> list[str]:
    """The files of the checkout a clone would have (git's list; every file without git)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                                capture_output=True, check=True).stdout.split(b"\0")
        return [n.decode() for n in listed if n and (repo / n.decode()).is_file()]
    except (subprocess.CalledProcessError, FileNotFoundError):
        return [str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
                and ".venv" not in p.parts]


@dataclass
class Classroom:
    """A running hub and its class (see the module's docstring); a context manager that cleans up."""

    env: dict
    state: Path
    instructor: User
    learners: dict[str, User]
    url: str = ""
    driver_token: str = ""
    exchange: Path = Path()
    public: Path = Path()
    proc: subprocess.Popen | None = None
    owned_users: list[str] = field(default_factory=list)
    keep: bool = False

    # --- the hub's REST API ----------------------------------------------------------------
    def request(self, method: str, path: str, token: str | None = None, body=None, form: dict | None = None,
                timeout: float = 60):
        """One HTTP request to the hub's address (``/hub/api/...`` or a user's ``/user/<name>/...``)."""
        headers = {"Authorization": f"token {token or self.driver_token}"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            raw = answer.read()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def start_server(self, name: str) -> None:
        """Ask the hub to start ``name``'s server (it starts as that user's uid)."""
        try:
            self.request("POST", f"/hub/api/users/{name}/server")
        except urllib.error.HTTPError as exc:
            if exc.code != 400 or "already running" not in exc.read().decode(errors="replace"):
                raise

    def wait_ready(self, name: str, timeout: float = 180) -> None:
        """Wait until ``name``'s server answers through the hub."""
        deadline = time.monotonic() + timeout
        while True:
            model = self.request("GET", f"/hub/api/users/{name}")
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            if time.monotonic() > deadline:
                raise ClassroomError(f"{name}'s server did not start within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)  # real time: a real server starting

    def user_token(self, name: str) -> str:
        """A token of ``name``'s own (their permissions, nothing more), made by the hub."""
        return self.request("POST", f"/hub/api/users/{name}/tokens",
                            body={"note": "class driver", "expires_in": 3600})["token"]

    def log_tail(self, n: int = 4000) -> str:
        """The end of the hub's log (the proxy's and the servers' lines included)."""
        log = self.state / "hub.log"
        return log.read_text(errors="replace")[-n:] if log.exists() else ""

    # --- the instructor ----------------------------------------------------------------------
    def as_instructor(self, command: list[str], **kw) -> subprocess.CompletedProcess:
        """Run ``command`` as the instructor in ``~/course``, with the hub's environment on PATH."""
        env = {"PATH": f"{self.env['venv']}/bin:/usr/local/bin:/usr/bin:/bin",
               "SQSLAB_HUB_EXCHANGE": str(self.exchange), "SQSLAB_HUB_COURSE": COURSE_ID,
               "JUPYTER_CONFIG_PATH": str(self.public / "jupyter-config" / "instructor")}
        return run_as(self.instructor, command, cwd=self.instructor.home / "course", env={**env, **kw.pop("env", {})},
                      **kw)

    # --- lifetime ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the hub (its proxy and every server end with it)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Classroom":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if not self.keep:
            for name in self.owned_users:
                remove_user(name)
            shutil.rmtree(self.state, ignore_errors=True)


def open_classroom(env: dict, state: Path, instructor: str, learners: list[str], *, port: int = 0,
                   passwords: dict[str, str] | None = None, keep: bool = False,
                   ours: frozenset[str] = frozenset()) -> Classroom:
    """Create the users, the exchange, the course folder and the settings; start the hub; return it running.

    Parameters
    ----------
    env : dict
        The hub's environment, from :func:`hubenv.ensure`.
    state : Path
        A folder for the hub's database, its log, the exchange and the users' Jupyter settings.
    instructor, learners : str, list of str
        The users' names (created if missing; removed again when the class closes unless ``keep``).
    port : int
        The hub's port on 127.0.0.1 (0: a free one).
    passwords : dict, optional
        Passwords to give; the others are made up (``Classroom.learners[name].password``).
    keep : bool
        Leave users and state in place when the class closes (``make hub``: come back to it).
    ours : frozenset of str
        Users that already exist because an earlier class made them (``make hub`` again). Any other
        existing user is refused: the class sets passwords and would delete the users afterwards.
    """
    require_root()
    passwords = passwords or {}
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o711)  # the users' servers reach public/ and the exchange inside; nothing else
    public, exchange = state / "public", state / "exchange"
    for path, mode in ((public, 0o755), (exchange, 0o777)):
        path.mkdir(exist_ok=True)
        path.chmod(mode)  # nbgrader's release wants the exchange root exactly rwx for all
    for role in ("learner", "instructor"):
        dest = public / "jupyter-config" / role
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(HERE / "jupyter-config" / role, dest)
        # The quiet-terminal settings of `make lab` (kernels' CurveZMQ keys, early-closed sockets).
        shutil.copy(REPO / "tools" / "jupyter-config" / "jupyter_server_config.py", dest)
    existing = set()
    for name in [instructor, *learners]:
        try:
            pwd.getpwnam(name)
            existing.add(name)
        except KeyError:
            pass
    strangers = sorted(existing - set(ours))
    if strangers:
        raise ClassroomError(f"{', '.join(strangers)} already exist{'s' if len(strangers) == 1 else ''} on this "
                             "machine and were not made by a class: choose other names (HUB_INSTRUCTOR, HUB_LEARNERS)")
    users = {name: create_user(name, passwords.get(name)) for name in [instructor, *learners]}
    room = Classroom(env=env, state=state, instructor=users[instructor],
                     learners={n: users[n] for n in learners}, exchange=exchange, public=public,
                     owned_users=[n for n in users if n not in existing], keep=keep)
    try:
        teacher = room.instructor
        course = teacher.home / "course"
        if not (course / "release").is_dir():
            # nbgrader's release/ is the learners' copy, course/, as `make release` generates it.
            shutil.copytree(REPO / "course", course / "release", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            (course / "nbgrader_config.py").write_text(
                "# The course folder of the hub's instructor; the exchange is named in the environment.\n"
                "import os\nc = get_config()\n"
                f"c.CourseDirectory.root = {str(course)!r}\n"
                f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
                "c.Exchange.root = os.environ['SQSLAB_HUB_EXCHANGE']\n")
            for path in [course, *course.rglob("*")]:
                os.chown(path, teacher.uid, teacher.gid)
        clone = teacher.home / "sqs-reliability-course"
        if not clone.exists():
            clone.mkdir()
            copy_tree_as(REPO, clone, teacher, repository_files())
        ports = {"url": port or free_port(), "hub": free_port(), "proxy": free_port()}
        room.url = f"http://127.0.0.1:{ports['url']}"
        room.driver_token = secrets.token_hex(32)
        settings = {"url": room.url, "hub_api_url": f"http://127.0.0.1:{ports['hub']}",
                    "proxy_api_url": f"http://127.0.0.1:{ports['proxy']}", "proxy": str(env["proxy"]),
                    "proxy_token": secrets.token_hex(32), "state": str(state), "public": str(public),
                    "exchange": str(exchange), "course_id": COURSE_ID, "instructor": instructor,
                    "learners": learners, "driver_token": room.driver_token, "singleuser": str(env["singleuser"])}
        settings_file = state / "settings.json"
        settings_file.write_text(json.dumps(settings, indent=2))
        settings_file.chmod(0o600)  # tokens
        log = open(state / "hub.log", "ab")
        hub_env = {**os.environ, "SQSLAB_HUB_SETTINGS": str(settings_file),
                   "PATH": f"{env['venv']}/bin:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        hub_env.pop("JUPYTER_CONFIG_PATH", None)
        room.proc = subprocess.Popen([str(env["venv"] / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
                                     cwd=state, env=hub_env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            if room.proc.poll() is not None:
                raise ClassroomError(f"jupyterhub exited with {room.proc.returncode}:\n{room.log_tail()}")
            try:
                room.request("GET", "/hub/api/", timeout=5)
                break
            except (OSError, urllib.error.HTTPError):
                pass
            if time.monotonic() > deadline:
                raise ClassroomError(f"the hub did not answer within 90 s:\n{room.log_tail()}")
            time.sleep(0.3)  # real time: a real hub starting
    except BaseException:
        room.__exit__(None, None, None)
        raise
    return room


def _run(args) -> int:
    sys.path.insert(0, str(HERE))
    import hubenv

    env = hubenv.ensure(args.prefix)
    learners = [n for n in args.learners.split(",") if n]
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            raise ClassroomError(f"something already listens on 127.0.0.1:{args.port} (another hub?): stop it, "
                                 "or choose another HUB_PORT")

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt  # a terminal closed or `kill`: stop the hub as Ctrl-C does

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    state = args.prefix / "class"
    saved, made = state / "passwords.json", state / "users.json"
    passwords = json.loads(saved.read_text()) if saved.exists() else {}
    ours = frozenset(json.loads(made.read_text())) if made.exists() else frozenset()
    room = open_classroom(env, state, args.instructor, learners, port=args.port, passwords=passwords, keep=True,
                          ours=ours)
    made.write_text(json.dumps(sorted(ours | set(room.owned_users))))
    passwords = {u.name: u.password for u in [room.instructor, *room.learners.values()]}
    saved.write_text(json.dumps(passwords, indent=2))
    saved.chmod(0o600)
    print(f"\nThe hub is at {room.url}  (Ctrl-C stops it; `make hub-clean` removes the users)\n")
    print(f"  instructor (admin)  {room.instructor.name:<12} password {passwords[room.instructor.name]}")
    for name in learners:
        print(f"  learner             {name:<12} password {passwords[name]}")
    print(f"""
Try the workflow (autograder/HUB.md, "One machine"):
  1. Log in as {room.instructor.name}, open a Terminal:  cd ~/course && nbgrader release_assignment 01_naive_consumer
  2. In another browser profile, log in as a learner: Nbgrader > Assignment List > Fetch, answer, Submit.
  3. As {room.instructor.name}:  cd ~/course && nbgrader collect 01_naive_consumer
       make -C ~/sqs-reliability-course grade SUBMISSIONS=~/course/submitted OUT=~/course/graded \\
         VENV={env['venv']} GRADE_ARGS="--assignment 01_naive_consumer"
       python ~/sqs-reliability-course/tools/hub/return_feedback.py --out ~/course/graded --assignment 01_naive_consumer
       nbgrader release_feedback 01_naive_consumer
     and open ~/course/graded/report.html.
  4. As the learner: Assignment List > Fetch Feedback.
The hub's log: {state / 'hub.log'}
""", flush=True)
    try:
        while room.proc.poll() is None:
            time.sleep(1)  # real time: the hub runs until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        room.stop()
    return 0


def _clean(args) -> int:
    state = args.prefix / "class"
    users = json.loads((state / "users.json").read_text()) if (state / "users.json").exists() else []
    for name in users:
        remove_user(name)
        print(f"classroom: removed user {name}")
    shutil.rmtree(state, ignore_errors=True)
    print(f"classroom: removed {state}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "clean"))
    parser.add_argument("--prefix", type=Path, default=Path("/opt/sqslab-hub"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--instructor", default="sqs-teacher")
    parser.add_argument("--learners", default="sqs-ada,sqs-bob,sqs-cy")
    args = parser.parse_args(argv)
    try:
        require_root()
        return _run(args) if args.command == "run" else _clean(args)
    except ClassroomError as exc:
        print(f"classroom: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
