"""The sandboxed grading kernel: learner code runs with no network, no view of the course, and limits.

This file is two things:

* a module the grader imports (:func:`detect`, :func:`write_kernelspec`, :class:`Limits`);
* the kernel launcher a kernelspec points at (``python sandbox.py -f {connection_file} ...``).
  Jupyter starts it outside the sandbox; it builds a bubblewrap (``bwrap``) command around
  ``python -m ipykernel_launcher`` and ``exec``\\ s it. It imports only the standard library, so it
  costs a few milliseconds per kernel.

What the sandbox gives a learner's kernel
-----------------------------------------
* **no network**: a new network namespace holding only a loopback device. Jupyter's default TCP
  transport cannot cross that boundary, so the grader talks to the kernel over unix-domain
  sockets (``KernelManager.transport = "ipc"``) in a per-worker runtime directory bound into the
  sandbox at the same path.
* **nothing of the course**: the filesystem is empty but for read-only system and Python
  directories (``/usr``, the Python installation, the virtualenv, the bench's source) and one
  writable directory, the submission's own folder, which is the working directory. ``solutions/``
  (hidden tests), the gradebook, other learners' submissions and the grader's output do not exist
  inside. ``/tmp`` is a small private tmpfs that vanishes with the kernel.
* **its own process tree**: a new PID namespace; when the kernel ends (or is killed) every
  process it started dies with it, so background threads and forked children cannot outlive it.
* **limits**: address space, CPU seconds, processes, file size and open files (``setrlimit``).
  The process limit counts per user id and is ignored for root, so when the grader runs as root
  each worker's kernel runs as its own unprivileged numeric uid (``SQSLAB_SANDBOX_UID``, 61000
  plus the worker's number) through ``setpriv``; no ``/etc/passwd`` entry is needed (the sandbox
  gets a one-line passwd file of its own).

Modes (:func:`detect`)
----------------------
``bwrap-root``: the grader is root: bwrap needs no user namespace, and ``setpriv`` drops to the
worker's uid inside the sandbox. ``bwrap-user``: the grader is an ordinary user (a JupyterHub
instructor): bwrap uses an unprivileged user namespace and the kernel keeps the instructor's
uid (the process limit then counts the instructor's own processes too, so it is raised by the
number already running). ``none``: no working bwrap: the kernel runs unsandboxed with the limits
only, and the grader says so loudly.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

KERNEL_NAME = "sqslab-grader"
#: The unprivileged uids learner kernels run as when the grader is root: UID_BASE+1 ... UID_BASE+UID_RANGE.
UID_BASE = 61000
UID_RANGE = 4000
_ENV_MODE = "SQSLAB_SANDBOX"
_ENV_UID = "SQSLAB_SANDBOX_UID"
_ENV_LIMITS = "SQSLAB_SANDBOX_LIMITS"
_ENV_EXTRA_RO = "SQSLAB_SANDBOX_READONLY"


def _uid_lock_dir(requested: str | None = None) -> str:
    for candidate in ([requested] if requested else []) + ["/run/lock/sqslab-grader-uids",
                                                           "/tmp/.sqslab-grader-uids"]:
        try:
            os.makedirs(candidate, mode=0o700, exist_ok=True)
            st = os.lstat(candidate)
            if not os.path.islink(candidate) and st.st_uid == os.geteuid():
                return candidate
        except OSError:
            continue
    raise RuntimeError("no folder to hold the grader's uid locks (/run/lock or /tmp)")


def allocate_uid(lock_dir: str | None = None):
    """A sandbox uid no other grader on this machine holds: ``(uid, lock)``; keep ``lock`` open.

    The kernel's process limit (RLIMIT_NPROC) counts every process of its uid on the machine, so
    two graders (or two workers) must never share one: each worker takes an exclusive ``flock`` on
    a file named after its uid, for as long as it lives. The lock goes with the process, however
    it ends, so a crashed grader never keeps a uid.
    """
    import fcntl

    folder = _uid_lock_dir(lock_dir)
    start = os.getpid() % UID_RANGE
    for step in range(UID_RANGE):
        uid = UID_BASE + 1 + (start + step) % UID_RANGE
        lock = open(os.path.join(folder, f"uid-{uid}"), "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return uid, lock
    raise RuntimeError(f"all {UID_RANGE} sandbox uids are taken by other graders on this machine")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one learner kernel (``setrlimit``; inherited by everything it starts)."""

    #: address space per process; a memory hog gets a MemoryError instead of taking the machine.
    memory_bytes: int = 3 * 2**30
    #: CPU seconds per process: a backstop for anything the wall-clock timeout cannot interrupt.
    cpu_seconds: int = 600
    #: processes and threads of the kernel's user (a fork bomb stops here).
    processes: int = 128
    #: the largest file the kernel may write.
    file_bytes: int = 64 * 2**20
    open_files: int = 1024
    #: size of the private /tmp.
    tmp_bytes: int = 64 * 2**20

    def to_env(self) -> str:
        """The limits as the JSON the launcher reads from its environment."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_env(cls, text: str | None) -> "Limits":
        """Parse :meth:`to_env`'s JSON (defaults when absent)."""
        return cls(**json.loads(text)) if text else cls()


@dataclass(frozen=True)
class SandboxInfo:
    """Which sandbox this machine gives, and why not a better one."""

    mode: str  # "bwrap-root" | "bwrap-user" | "none"
    detail: str

    @property
    def sandboxed(self) -> bool:
        """True when learner code runs inside bubblewrap."""
        return self.mode != "none"


def _bwrap_works(extra: list[str]) -> str | None:
    """Run a trivial command in a sandbox like the real one; None if it works, else the error."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
           "--unshare-pid", "--unshare-ipc", "--die-with-parent", *extra, "true"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot create namespaces here: {done.stderr.strip() or done.returncode}"
    return None


def detect(requested: str = "auto") -> SandboxInfo:
    """Decide how learner kernels run on this machine.

    Parameters
    ----------
    requested:
        ``"auto"`` (the best that works), ``"bwrap"`` (fail if bubblewrap does not work) or
        ``"none"`` (run unsandboxed on purpose).
    """
    if requested == "none":
        return SandboxInfo("none", "sandbox turned off on request (--sandbox none)")
    is_root = os.geteuid() == 0
    if is_root:
        problem = _bwrap_works([])
        if problem is None and shutil.which("setpriv") is None:
            problem = "setpriv (util-linux) is missing, so the kernel cannot drop root"
        mode = "bwrap-root"
    else:
        problem = _bwrap_works(["--unshare-user"])
        mode = "bwrap-user"
    if problem is None:
        return SandboxInfo(mode, "bubblewrap: no network, course invisible, limits on")
    if requested == "bwrap":
        raise RuntimeError(f"the grading sandbox is required but does not work: {problem}")
    return SandboxInfo("none", problem)


def write_kernelspec(directory: str, *, python: str | None = None) -> str:
    """Write the sandboxed kernelspec under ``directory/kernels/`` and return its kernel name.

    Put ``directory`` on ``JUPYTER_PATH`` (the grader does) or copy the kernel folder into a
    kernelspec directory (``jupyter kernelspec install``) to let plain ``nbgrader autograde
    --Execute.kernel_name=sqslab-grader`` use it.
    """
    python = python or sys.executable
    kdir = os.path.join(directory, "kernels", KERNEL_NAME)
    os.makedirs(kdir, exist_ok=True)
    spec = {
        "argv": [python, os.path.abspath(__file__), "-f", "{connection_file}"],
        "display_name": "Python 3 (sqslab grading sandbox)",
        "language": "python",
        # bwrap does not forward SIGINT into the sandbox's own session, so an interrupt is sent as
        # a control-channel message and ipykernel signals itself.
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    path = os.path.join(kdir, "kernel.json")
    text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
    return KERNEL_NAME


# --------------------------------------------------------------------------------------------
# The launcher (runs outside the sandbox, then execs bwrap)
# --------------------------------------------------------------------------------------------

def _python_dirs() -> list[str]:
    """Directories the kernel's Python needs, read-only: the installation, the venv, and what
    the venv's ``.pth`` files add (an editable install of the bench).

    Deliberately not ``sys.path`` as a whole: PYTHONPATH or the launcher's own folder could name
    the course repository, whose ``solutions/`` must stay invisible.
    """
    import site

    prefixes = [sys.base_prefix, sys.prefix]
    dirs = set(prefixes) | {os.path.realpath(p) for p in prefixes}
    for sp in site.getsitepackages([sys.prefix]):
        if not os.path.isdir(sp):
            continue
        for name in sorted(os.listdir(sp)):
            if not name.endswith(".pth"):
                continue
            try:
                lines = open(os.path.join(sp, name), encoding="utf-8").read().splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import ", "import\t")) and os.path.isdir(line):
                    dirs.add(os.path.realpath(line))
    for extra in os.environ.get(_ENV_EXTRA_RO, "").split(os.pathsep):
        if extra and os.path.exists(extra):
            dirs.add(os.path.realpath(extra))
    # A directory inside another one is already visible.
    kept: list[str] = []
    for d in sorted(dirs, key=len):
        if d == "/usr" or d.startswith("/usr/"):
            continue
        if not any(d == k or d.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(d)
    return sorted(kept)


def _parents(paths: list[str]) -> list[str]:
    """Every ancestor directory of ``paths`` (outermost first), to create traversable (0755)."""
    out: set[str] = set()
    for p in paths:
        parent = os.path.dirname(p.rstrip("/"))
        while parent not in ("", "/"):
            out.add(parent)
            parent = os.path.dirname(parent)
    return sorted(out, key=lambda d: (d.count("/"), d))


def _etc_files(run_dir: str, uid: int) -> list[str]:
    """A passwd and group of the sandbox's own (the uid needs no entry on the host)."""
    etc = os.path.join(run_dir, "etc")
    os.makedirs(etc, exist_ok=True)
    os.chmod(etc, 0o755)
    for name, text in (("passwd", f"root:x:0:0:root:/root:/bin/false\nlearner:x:{uid}:{uid}:learner:/tmp:/bin/false\n"),
                       ("group", f"root:x:0:\nlearner:x:{uid}:\n")):
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(etc, name), 0o644)
    args = ["--ro-bind", os.path.join(etc, "passwd"), "/etc/passwd",
            "--ro-bind", os.path.join(etc, "group"), "/etc/group"]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "mime.types",
                 "nsswitch.conf", "hosts"):
        path = os.path.join("/etc", name)
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


#: Environment variables of the bench a graded kernel inherits from the grader.
BENCH_SWITCHES = ("SQSLAB_SAMPLE_SHORT_POLLS",)


def _kernel_env(uid: int) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's (no JPY_PARENT_PID, no tokens)."""
    return {
        "PATH": os.path.join(sys.prefix, "bin") + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "USER": "learner" if uid else "root",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_CONFIG_DIR": "/tmp/.jupyter",
        "JUPYTER_DATA_DIR": "/tmp/.local/share/jupyter",
        "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"),
        "SQSLAB_GRADING": "1",
        # The bench's own switches, as the grader was started with them, so a graded run behaves
        # as the learner's (never SQSLAB_ENDPOINT: a graded kernel has no network).
        **{k: os.environ[k] for k in BENCH_SWITCHES if k in os.environ},
    }


def _apply_limits(limits: Limits, extra_processes: int = 0) -> None:
    """setrlimit for this process; bwrap, setpriv and the kernel inherit them."""
    def cap(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, limits.memory_bytes)
    cap(resource.RLIMIT_CPU, limits.cpu_seconds)
    cap(resource.RLIMIT_NPROC, limits.processes + extra_processes)
    cap(resource.RLIMIT_FSIZE, limits.file_bytes)
    cap(resource.RLIMIT_NOFILE, limits.open_files)
    cap(resource.RLIMIT_CORE, 0)


def _user_process_count(uid: int) -> int:
    """How many tasks (processes and threads) the user already runs: RLIMIT_NPROC counts them."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            with open(f"/proc/{pid}/status") as g:
                                for l2 in g:
                                    if l2.startswith("Threads:"):
                                        count += int(l2.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return count


BOOT_ARG = "--sqslab-grader="


def boot_source() -> str:
    """The source of the grading kernel's boot code (``kernel_boot.py``, run with ``python -c``)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_boot.py"), encoding="utf-8") as f:
        return f.read()


def build_command(connection_file: str, kernel_args: list[str], *, mode: str, uid: int,
                  cwd: str, limits: Limits, scratch: str | None = None,
                  grader_fds: tuple[int, int] | None = None) -> list[str]:
    """The full command line that runs ipykernel inside the sandbox (exposed for tests)."""
    with open(connection_file) as f:
        info = json.load(f)
    run_dir = os.path.dirname(os.path.abspath(connection_file))
    if info.get("transport") != "ipc":
        raise SystemExit("sqslab sandbox: the kernel needs KernelManager.transport='ipc' "
                         "(TCP cannot cross the sandbox's network namespace)")
    if os.path.dirname(os.path.abspath(info["ip"])) != run_dir:
        raise SystemExit("sqslab sandbox: the kernel's ipc sockets must live beside its connection file")
    python = os.path.join(sys.prefix, "bin", "python")
    # -P: the working directory (a learner's folder) never goes in front of the course's packages.
    # The grader's boot code (kernel_boot.py) runs first: it reads the kernel's secret from a pipe
    # and installs the audit hook before ipykernel, or any learner code, is imported.
    if grader_fds is None:
        kernel = [python, "-P", "-m", "ipykernel_launcher", "-f", connection_file, *kernel_args]
    else:
        kernel = [python, "-P", "-c", boot_source(), f"{BOOT_ARG}{grader_fds[0]},{grader_fds[1]}",
                  "-f", connection_file, *kernel_args]
    if mode == "none":
        return kernel
    bwrap = shutil.which("bwrap")
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grading",
           "--clearenv"]
    for key, value in sorted(_kernel_env(uid).items()):
        cmd += ["--setenv", key, value]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        path = "/" + link
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    cmd += _etc_files(run_dir, uid)
    readonly = _python_dirs()
    # bwrap would create the mount points' parents root-only; the kernel's uid must traverse them.
    for d in _parents(readonly + [run_dir, cwd]):
        if d != "/tmp":
            cmd += ["--perms", "0755", "--dir", d]
    for d in readonly:
        cmd += ["--ro-bind", d, d]
    cmd += ["--bind", run_dir, run_dir, "--bind", scratch or cwd, cwd, "--chdir", cwd]
    if mode == "bwrap-user":
        cmd += ["--unshare-user", "--uid", str(uid), "--gid", str(os.getgid()), "--disable-userns"]
        return cmd + ["--", *kernel]
    setpriv = shutil.which("setpriv")
    return cmd + ["--", setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", *kernel]


#: The grader puts this file in every directory it hands to a sandbox (runtime and job folders).
MARKER = ".sqslab-grading"


def mark(directory: str) -> None:
    """Mark ``directory`` as the grader's own, so the launcher may chown and bind it."""
    os.makedirs(directory, exist_ok=True)
    open(os.path.join(directory, MARKER), "a").close()


def _require_marked(run_dir: str, cwd: str) -> None:
    """Refuse to chown or bind anything the grader did not create for this purpose.

    Started by hand (a kernel picked in JupyterLab, a connection file in /tmp), the launcher
    would otherwise hand a shared directory to the sandbox's uid.
    """
    if not os.path.exists(os.path.join(run_dir, MARKER)):
        raise SystemExit(f"sqslab sandbox: {run_dir} is not a grading runtime directory; this "
                         "kernel is started by autograder/grade.py (it sets KernelManager.connection_file)")
    probe = cwd
    while probe not in ("/", ""):
        if os.path.exists(os.path.join(probe, MARKER)):
            return
        probe = os.path.dirname(probe)
    raise SystemExit(f"sqslab sandbox: {cwd} is not inside a grading job directory")


def _grader_channel(run_dir: str) -> tuple[int, int]:
    """The kernel's secret on a pipe, and its report file opened write-only: (pipe fd, report fd).

    The grader left the secret in ``<run_dir>.key`` and reads the report from ``<run_dir>.audit``,
    both beside the runtime folder, outside anything the sandbox binds. The secret file is removed
    before the kernel starts; the kernel gets only the pipe's read end, which its boot code drains
    and closes before ipykernel starts.
    """
    key_path = run_dir.rstrip("/") + ".key"
    try:
        fd = os.open(key_path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as f:
            key = f.read().strip()
        os.unlink(key_path)
    except OSError as exc:
        raise SystemExit(f"sqslab sandbox: no grading secret for this kernel ({exc.strerror}); this kernel "
                         "is started by the grader's executor (autograder/executor.py)")
    read_end, write_end = os.pipe()
    os.write(write_end, key.encode() + b"\n")
    os.close(write_end)
    report = os.open(run_dir.rstrip("/") + ".audit", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    for fd in (read_end, report):
        os.set_inheritable(fd, True)
    return read_end, report


def main(argv: list[str]) -> None:
    """Kernel launcher entry point: ``sandbox.py -f CONNECTION_FILE [ipykernel args...]``."""
    if len(argv) < 2 or argv[0] != "-f":
        raise SystemExit("usage: sandbox.py -f CONNECTION_FILE [kernel args...]")
    connection_file, kernel_args = os.path.abspath(argv[1]), argv[2:]
    mode = os.environ.get(_ENV_MODE, "none")
    limits = Limits.from_env(os.environ.get(_ENV_LIMITS))
    cwd = os.getcwd()
    if mode != "none":
        _require_marked(os.path.dirname(connection_file), cwd)
    run_dir = os.path.dirname(connection_file)
    grader_fds = _grader_channel(run_dir)
    scratch = None
    if mode != "none":
        # The kernel writes into a copy of its working folder, mounted at the folder's path: the
        # real folder, where nbgrader (as the grader) writes the graded notebook, is never
        # writable by the learner's uid, so nothing planted there (a symlink) can redirect it.
        scratch = os.path.join(run_dir, "cwd")
        shutil.copytree(cwd, scratch, symlinks=True)
    if mode == "bwrap-root":
        uid = int(os.environ.get(_ENV_UID, UID_BASE))
        # The kernel (as uid) must read its connection file and create its sockets in run_dir;
        # the grader, as root, can still reach them. run_dir is fresh for every kernel.
        for path in (connection_file, run_dir):
            os.chown(path, uid, uid)
        for root, dirs, files in os.walk(scratch):
            os.chown(root, uid, uid)
            for name in files:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
        extra = 0
    else:
        uid = os.getuid()
        extra = _user_process_count(uid) if uid else 0
    cmd = build_command(connection_file, kernel_args, mode=mode, uid=uid, cwd=cwd, limits=limits, scratch=scratch,
                        grader_fds=grader_fds)
    if mode == "none":
        env = dict(os.environ)
        env.pop("JPY_PARENT_PID", None)
        env.update({k: v for k, v in _kernel_env(uid).items()
                    if k in ("PYTHONNOUSERSITE", "MPLBACKEND", "SQSLAB_GRADING", "PYTHONDONTWRITEBYTECODE")})
    else:
        env = None
    _apply_limits(limits, extra)
    if mode != "none" or os.environ.get(_ENV_MODE):
        # The kernel's own stdout/stderr (start-up errors, a fatal signal) go to a log beside its
        # connection file, not into the grader's terminal.
        fd = os.open(os.path.join(run_dir, "kernel.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    sys.stdout.flush()
    if env is None:
        os.execv(cmd[0], cmd)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main(sys.argv[1:])
