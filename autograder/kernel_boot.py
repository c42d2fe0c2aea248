"""The grading kernel's first code: an audit hook that runs the tests and reports to the grader.

The sandbox launcher starts every grading kernel as ``python -P -c <this file> --sqslab-grader=K,R
-f CONNECTION_FILE``. Before ipykernel is even imported, this code reads a per-kernel secret from
the pipe ``K`` (so it is never in the environment, the command line or a file the kernel can
see), and installs an audit hook (PEP 578). Learner code cannot remove an audit hook, and cannot
reach this one without calls that are themselves audit events (``gc.get_objects``, frames,
``ctypes``).

The hook is the grader's agent inside the kernel:

* **It runs the graded tests itself.** A graded cell reaches the kernel as one line,
  ``__import__("sys").audit("sqslab.grader", NONCE, "test", SEQ, GRADE_ID, CIPHERTEXT, ...)``.
  The hook checks the nonce (an HMAC under the secret), decrypts the test's source (hidden tests
  included, so they are never in the kernel's input history or line cache), compiles it from
  text and runs it in the notebook's namespace. Whether the test raised is what the hook saw,
  whatever IPython's transformers, display hooks, ``post_run_cell`` callbacks or custom
  exception handlers do afterwards.
* **Before each test** it puts back what a learner can hook in IPython (input and AST
  transformers, event callbacks, custom exception handlers, display and exception hooks,
  ``sys.stdout``/``stderr``) and every function and class of the bench, of IPython, ipykernel,
  jupyter_client, zmq and traitlets, and of ``builtins``, from snapshots taken before any
  learner code ran; what it had to put back is reported.
* **After each test** it checks the same again (a change made while the test ran voids it) and
  keeps the data of the bench's last failed verdict (explanation, history) for the feedback page.
* **It flags** what learner code does that no honest answer needs: frames (``sys._getframe``,
  traceback and generator frames, ``inspect.stack``), ``sys.settrace``/``setprofile``,
  ``gc.get_objects``/``get_referrers``/``get_referents``, ``ctypes``, ``sys.addaudithook``,
  writing a function's ``__code__``, writing to the bench's modules, ``time_machine``, the
  kernel's own ``/proc`` files, and calls of the grader's event with a wrong nonce. An event
  counts when the code that caused it is a notebook cell's (``co_filename`` in ipykernel's cell
  folder), found by walking out of library frames; the grader then decides which cells are the
  learner's (by the hash of each cell's text).

Everything the hook reports goes to the write-only file descriptor ``R``, one JSON object per
line followed by a tab and an HMAC of the line under the secret: the kernel can write there, but
cannot write anything the grader will accept.

This file is also imported by the grader (:func:`nonce`, :func:`encrypt`, :func:`read_report`).
At module level it imports only the standard library.

The module is long because it must stand alone: the launcher hands its text to ``python -c`` before
anything else in the kernel runs, so it cannot import a sibling module, and every part of the hook
(the secret, the cipher, the test runner, the checks, the report) has to be in this one file.
"""

from __future__ import annotations

import sys

EVENT = "sqslab.grader"
ARG = "--sqslab-grader="
#: Raised (through the bench modules' class) when code assigns to an attribute of a bench module.
MODULE_EVENT = "sqslab.module.setattr"


# --------------------------------------------------------------------------------------------
# Shared with the grader
# --------------------------------------------------------------------------------------------

def nonce(key: bytes, *parts) -> str:
    """The HMAC that authorises one command of the grader (covers every argument)."""
    import hmac

    msg = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return hmac.digest(key, msg, "sha256").hex()[:32]


def _keystream(key: bytes, salt: str, n: int) -> bytes:
    import hmac

    out = bytearray()
    block = 0
    while len(out) < n:
        out += hmac.digest(key, f"stream\x1f{salt}\x1f{block}".encode(), "sha256")
        block += 1
    return bytes(out[:n])


def encrypt(key: bytes, salt: str, text: str) -> str:
    """``text`` XORed with an HMAC-SHA256 keystream, as hex (the kernel's hook decrypts it)."""
    data = text.encode("utf-8")
    return bytes(a ^ b for a, b in zip(data, _keystream(key, salt, len(data)))).hex()


def read_report(key: bytes, raw: bytes) -> tuple[list[dict], int]:
    """The records of a report whose MAC verifies, in order, and how many lines did not."""
    import hmac
    import json

    records, bad = [], 0
    for line in raw.split(b"\n"):
        if not line:
            continue
        body, sep, mac = line.rpartition(b"\t")
        if not sep or not hmac.compare_digest(hmac.digest(key, body, "sha256").hex().encode(), mac):
            bad += 1
            continue
        try:
            records.append(json.loads(body))
        except ValueError:
            bad += 1
    return records, bad


# --------------------------------------------------------------------------------------------
# Kernel side
# --------------------------------------------------------------------------------------------

def _install(key: bytes, fd: int) -> None:  # noqa: C901 - one closure keeps the state private
    """Install the audit hook. Every name it uses later is bound here, before learner code runs."""
    import _hashlib
    import _json
    import _thread
    import operator
    import os

    _digest = _hashlib.hmac_digest
    _sha256 = _hashlib.openssl_sha256
    _write = os.write
    _getframe = sys._getframe
    _ident = _thread.get_ident
    _enc = _json.encode_basestring_ascii
    _is = operator.is_
    _getattribute = object.__getattribute__
    _type_setattr = type.__setattr__
    _type_getattribute = type.__getattribute__
    _audit = sys.audit
    _modules = sys.modules
    _gettrace, _settrace, _getprofile, _setprofile = sys.gettrace, sys.settrace, sys.getprofile, sys.setprofile
    import time as _time_module

    _clock = _time_module.perf_counter
    (_type, _len, _str, _int, _float, _bool, _repr, _isinstance, _callable, _compile, _exec, _map,
     _all, _list, _dict, _tuple, _set, _frozenset, _sorted, _min, _zip, _range, _bytes, _bytearray,
     _hasattr, _getattr, _setattr, _delattr, _id, _enumerate, _Exception, _BaseException, _any,
     _object) = (
        type, len, str, int, float, bool, repr, isinstance, callable, compile, exec, map, all, list,
        dict, tuple, set, frozenset, sorted, min, zip, range, bytes, bytearray, hasattr, getattr,
        setattr, delattr, id, enumerate, Exception, BaseException, any, object)
    _get_code = operator.attrgetter("__code__")
    _PermissionError, _RuntimeError = PermissionError, RuntimeError
    _NoneType = _type(None)
    _FunctionType = _type(_install)
    _ModuleType = _type(sys)
    _BuiltinType = _type(len)
    _MethodType = _type(_FunctionType.__get__(_install, 1))

    busy: set = set()
    st: dict = {"setup": False, "last_seq": -1, "in_test": None, "flags": {}, "nflags": 0, "trusted": _frozenset(),
                "cells": {}, "cell_dir": None, "bench_dir": None, "lib_dirs": (), "benign": (),
                "inspectish": (), "tamper_now": [], "n": 0}

    # -- the report --------------------------------------------------------------------------
    def dumps(x, depth=0):
        t = _type(x)
        if t is _str:
            return _enc(x)
        if x is None:
            return "null"
        if t is _bool:
            return "true" if x else "false"
        if t is _int:
            return _int.__repr__(x)
        if t is _float:
            return _float.__repr__(x) if x == x and x not in (1e999, -1e999) else "null"
        if depth > 12:
            return _enc("...")
        if t is _dict:
            return "{" + ",".join(_enc(_str(k) if _type(k) is not _str else k) + ":" + dumps(v, depth + 1)
                                  for k, v in _list(x.items())) + "}"
        if t is _list or t is _tuple:
            return "[" + ",".join(dumps(v, depth + 1) for v in x) + "]"
        return _enc(safe_repr(x))

    def emit(kind, data):
        st["n"] += 1
        data["kind"] = kind
        data["n"] = st["n"]
        body = dumps(data).encode("utf-8", "surrogatepass")
        line = body + b"\t" + _digest(key, body, "sha256").hex().encode() + b"\n"
        view = memoryview(line)
        while view:
            written = _write(fd, view)
            view = view[written:]

    def safe_repr(x, limit=300):
        try:
            text = _object.__repr__(x) if _type(x).__module__ not in ("builtins",) else _repr(x)
        except _Exception:
            text = "<unprintable>"
        return text[:limit]

    def sha(text):
        return _sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()

    # -- attributing an event to a notebook cell -------------------------------------------------
    def code_file(frame):
        return frame.f_code.co_filename

    def cell_of(frame, walk, stop_at_bench=True):
        """(filename, line, text) of the notebook cell responsible for ``frame``'s event, or None."""
        f = frame
        depth = 0
        cell_dir, bench_dir = st["cell_dir"], st["bench_dir"]
        trusted = st["trusted"]
        while f is not None and depth < 300:
            fn = code_file(f)
            if cell_dir and fn.startswith(cell_dir):
                shas = st["cells"].get(fn)
                if shas and all(h in trusted for h in shas):
                    return None  # a cell of the course's own (the grader knows its text)
                return fn, f.f_lineno
            if fn.startswith("<graded test "):
                return None  # the course's test itself: what the learner's code did is above it
            if stop_at_bench and bench_dir and fn.startswith(bench_dir) and fn.endswith(".py"):
                return None
            if not walk:
                return None
            f = f.f_back
            depth += 1
        return None

    import linecache as _linecache

    def line_text(fn, lineno):
        try:
            entry = _linecache.cache.get(fn)
            if entry and _type(entry) is _tuple and _len(entry) >= 3:
                lines = entry[2]
                if 0 < lineno <= _len(lines):
                    return _str(lines[lineno - 1]).strip()[:200]
        except _Exception:
            pass
        return ""

    def flag(event, what, frame, walk=True, tamper=False):
        where = cell_of(frame, walk)
        if where is None:
            return False
        fn, lineno = where
        gid = st["in_test"]
        if tamper and gid is not None:
            st["tamper_now"].append(f"{what} while the test ran (line {lineno}: {line_text(fn, lineno)})")
        k = (event, what, fn, lineno)
        if k in st["flags"]:
            return True
        st["flags"][k] = 1
        st["nflags"] += 1
        if st["nflags"] > 200:
            return True
        emit("flag", {"event": event, "what": what, "file": fn, "line": lineno,
                      "text": line_text(fn, lineno), "shas": _list(st["cells"].get(fn, ())),
                      "in_test": gid})
        return True

    def innermost_kind(frame):
        fn = code_file(frame)
        cell_dir = st["cell_dir"]
        if cell_dir and fn.startswith(cell_dir):
            return "cell"
        for prefix in st["inspectish"]:
            if fn.startswith(prefix):
                return "inspect"
        for prefix in st["benign"]:
            if fn.startswith(prefix):
                return "benign"
        return "other"

    # -- snapshots: what the grader put back before each test and checks after it ----------------
    def _kind_ok(v):
        t = _type(v)
        return (t is _FunctionType or t is _BuiltinType or _isinstance(v, _type) or t is _ModuleType
                or t is classmethod or t is staticmethod or t is property or t is _MethodType)

    # ipykernel swaps builtins.input for every request (to forward it to the front end).
    VOLATILE = {"builtins": _frozenset({"input", "raw_input", "_", "__", "___"})}

    def same(a, b):
        # A bound method is a new object at every attribute access: compare what it binds.
        if a is b:
            return True
        return (_type(a) is _MethodType and _type(b) is _MethodType and a.__self__ is b.__self__
                and a.__func__ is b.__func__)

    import functools

    _partial = functools.partial

    def hookish(v):
        t = _type(v)
        return t is _FunctionType or t is _MethodType or t is _BuiltinType or t is _partial

    def snap_dict(d, owner, where, store, restore_kind):
        keys, vals = [], []
        volatile = VOLATILE.get(where, ())
        for k, v in _list(d.items()):
            if _type(k) is _str and k not in volatile and _kind_ok(v):
                keys.append(k)
                vals.append(v)
        store.append((d, owner, where, _tuple(keys), _tuple(vals), restore_kind))

    def guard_snapshot(prefixes):
        return guard_snapshot_names(_sorted(n for n in _list(_modules) if n == "builtins" or _any(
            n == p or n.startswith(p + ".") for p in prefixes)))

    def guard_snapshot_names(names):
        store, funcs, data, seen_cls = [], [], [], _set()
        bench = st["bench"]
        mods = []
        for name in names:
            mod = _modules.get(name)
            if _type(mod) is not _ModuleType and not _isinstance(mod, _ModuleType):
                continue
            mods.append((name, mod))
            try:
                d = _getattribute(mod, "__dict__")
            except _Exception:
                continue
            snap_dict(d, mod, name, store, "dict")
            is_bench = name == bench or name.startswith(bench + ".")
            for k, v in _list(d.items()):
                if _isinstance(v, _type) and _getattr(v, "__module__", None) == name and _id(v) not in seen_cls:
                    seen_cls.add(_id(v))
                    try:
                        cd = _type_getattribute(v, "__dict__")
                    except _Exception:
                        continue
                    snap_dict(cd, v, name + "." + k, store, "class")
                    if is_bench:
                        for ck, cv in _list(cd.items()):
                            if _type(cv) is _FunctionType:
                                funcs.append((cv, name + "." + k + "." + ck))
                if is_bench and _type(v) is _FunctionType and _getattr(v, "__module__", None) == name:
                    funcs.append((v, name + "." + k))
                if is_bench and _type(k) is _str and not k.startswith("_") and k not in st["mutable_ok"] \
                        and _type(v) in (_list, _dict, _set):
                    data.append((d, name + "." + k, k, v, snapshot_data(v)))
        codes = [(f, where, _get_code(f), f.__defaults__, f.__kwdefaults__) for f, where in funcs]
        return {"dicts": store, "codes": codes, "data": data, "mods": mods}

    def snapshot_data(v):
        t = _type(v)
        if t is _list:
            return _tuple(v)
        if t is _dict:
            return (_tuple(v.keys()), _tuple(v.values()))
        return _frozenset(v)

    def data_changed(v, snap):
        t = _type(v)
        if t is _list:
            return _len(v) != _len(snap) or not _all(_map(_is, v, snap))
        if t is _dict:
            return (_len(v) != _len(snap[0]) or not _all(_map(_is, v.keys(), snap[0]))
                    or not _all(_map(_is, v.values(), snap[1])))
        return v != snap  # a set of strings or numbers

    def guard_check(guard, restore):
        """Names changed since the snapshot (put back when ``restore``)."""
        changed = []
        for d, owner, where, keys, vals, kind in guard["dicts"]:
            if _all(_map(_is, _map(d.get, keys), vals)):
                continue
            for k, v in _zip(keys, vals):
                if d.get(k) is not v:
                    changed.append(f"{where}.{k}")
                    if restore:
                        try:
                            if kind == "class":
                                _type_setattr(owner, k, v)
                            else:
                                d[k] = v
                        except _Exception:
                            pass
        for f, where, code, defaults, kwdefaults in guard["codes"]:
            if _get_code(f) is not code or f.__defaults__ is not defaults or f.__kwdefaults__ is not kwdefaults:
                changed.append(f"{where} (its code)")
                if restore:
                    try:
                        f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
                    except _Exception:
                        pass
        for d, where, k, v, snap in guard["data"]:
            if d.get(k) is not v:
                continue  # rebinding the name is seen above only for callables; data is checked in place
            if data_changed(v, snap):
                changed.append(f"{where} (its contents)")
                if restore:
                    try:
                        if _type(v) is _list:
                            v[:] = _list(snap)
                        elif _type(v) is _dict:
                            v.clear()
                            v.update(_zip(snap[0], snap[1]))
                        else:
                            v.clear()
                            v.update(snap)
                    except _Exception:
                        pass
        for name, mod in guard["mods"]:
            if _modules.get(name) is not mod:
                changed.append(f"sys.modules[{name!r}]")
                if restore:
                    _modules[name] = mod
        return changed

    # IPython's hooks: containers whose contents are put back, and objects whose own attributes are.
    def hooks_snapshot(shell):
        s = {}
        tv = _getattribute(shell, "_trait_values")
        itm = tv.get("input_transformer_manager")
        s["lists"] = []
        for owner_dict, name in ((tv, "input_transformers_post"), (tv, "ast_transformers")):
            lst = owner_dict.get(name)
            if _type(lst) is _list:
                s["lists"].append((owner_dict, name, name, lst, _tuple(lst)))
        if itm is not None:
            itd = _getattribute(itm, "__dict__")
            for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
                lst = itd.get(name)
                if _type(lst) is _list:
                    s["lists"].append((itd, name, "input transformers (" + name + ")", lst, _tuple(lst)))
        events = tv.get("events") or _getattribute(shell, "__dict__").get("events")
        if events is not None:
            cb = _getattribute(events, "__dict__").get("callbacks")
            if _type(cb) is _dict:
                for name, lst in _list(cb.items()):
                    if _type(lst) is _list:
                        s["lists"].append((cb, name, name + " callbacks", lst, _tuple(lst)))
        s["sysattrs"] = [(name, _getattr(sys, name, None)) for name in (
            "displayhook", "excepthook", "stdout", "stderr", "stdin", "breakpointhook", "unraisablehook")]
        objs = [("shell", shell)]
        kernel = tv.get("kernel")
        for name in ("displayhook", "display_pub", "compile", "events", "input_transformer_manager",
                     "display_formatter", "InteractiveTB", "SyntaxTB", "builtin_trap", "display_trap"):
            v = tv.get(name)
            if v is None:
                v = _getattribute(shell, "__dict__").get(name)
            if v is not None:
                objs.append(("shell." + name, v))
        if kernel is not None:
            objs.append(("kernel", kernel))
            kd = _getattribute(kernel, "__dict__")
            ktv = kd.get("_trait_values", {})
            for name in ("session", "iopub_thread", "iopub_socket", "shell_handlers", "control_handlers"):
                v = ktv.get(name, kd.get(name))
                if v is not None:
                    objs.append(("kernel." + name, v))
        for name in ("stdout", "stderr"):
            objs.append(("sys." + name, _getattr(sys, name, None)))
        s["objs"] = []
        for where, obj in objs:
            if obj is None:
                continue
            if _type(obj) is _dict:
                s["objs"].append((where, obj, obj, _dict(obj)))
                continue
            try:
                d = _getattribute(obj, "__dict__")
            except _Exception:
                continue
            s["objs"].append((where, obj, d, {k: v for k, v in _list(d.items()) if _callable(v)}))
            tvd = d.get("_trait_values")
            if _type(tvd) is _dict:
                s["objs"].append((where, obj, tvd, {k: v for k, v in _list(tvd.items()) if _callable(v)}))
        s["custom"] = (_getattribute(shell, "__dict__").get("custom_exceptions", ()),)
        return s

    def hooks_check(s, restore):
        changed = []
        for owner, key, label, lst, items in s["lists"]:
            cur = owner.get(key)
            if cur is not lst:
                changed.append(label + " (replaced)")
                if restore:
                    owner[key] = lst
            if _len(lst) != _len(items) or not _all(_map(_is, lst, items)):
                changed.append(label)
                if restore:
                    lst[:] = _list(items)
        for name, value in s["sysattrs"]:
            if not same(_getattr(sys, name, None), value):
                changed.append("sys." + name)
                if restore:
                    _setattr(sys, name, value)
        for where, obj, d, callables in s["objs"]:
            for k in _list(d):
                if where in ("sys.stdout", "sys.stderr") and k in ("write", "writelines"):
                    continue  # IPython tees every cell's output into its history this way
                v = d.get(k)
                if k in callables:
                    if not same(v, callables[k]):
                        changed.append(f"{where}.{k}")
                        if restore:
                            d[k] = callables[k]
                elif hookish(v):
                    changed.append(f"{where}.{k}")
                    if restore:
                        try:
                            del d[k]
                        except _Exception:
                            pass
            for k, v in _list(callables.items()):
                if k not in d:
                    changed.append(f"{where}.{k} (removed)")
                    if restore:
                        d[k] = v
        sd = _getattribute(s["shell"], "__dict__")
        if sd.get("custom_exceptions", ()) is not s["custom"][0]:
            changed.append("custom exception handlers (set_custom_exc)")
            if restore:
                sd["custom_exceptions"] = s["custom"][0]
        return changed

    # -- the bench's modules report writes to their attributes ---------------------------------
    def guard_modules(bench):
        _module_dict = _ModuleType.__dict__["__dict__"].__get__

        class _BenchModule(_ModuleType):
            __slots__ = ()

            @property
            def __dict__(self):
                # vars(module) and module.__dict__ hand out the namespace itself: writing there
                # replaces the bench's functions without an attribute assignment.
                _audit(MODULE_EVENT, _module_dict(self)["__name__"], "__dict__", None)
                return _module_dict(self)

            def __setattr__(self, name, value):
                _audit(MODULE_EVENT, _getattribute(self, "__name__"), name, value)
                _ModuleType.__setattr__(self, name, value)

            def __delattr__(self, name):
                _audit(MODULE_EVENT, _getattribute(self, "__name__"), name, None)
                _ModuleType.__delattr__(self, name)

        for name in _sorted(_list(_modules)):
            if name == bench or name.startswith(bench + "."):
                mod = _modules.get(name)
                if _type(mod) is _ModuleType:
                    try:
                        mod.__class__ = _BenchModule
                    except _Exception:
                        pass
        return _BenchModule

    # -- commands from the grader ----------------------------------------------------------------
    def check_nonce(n, cmd, seq, *args):
        if _type(seq) is not _int or seq <= st["last_seq"]:
            return False
        want = _digest(key, "\x1f".join(_str(p) for p in (cmd, seq) + args).encode("utf-8", "surrogatepass"),
                       "sha256").hex()[:32]
        if _type(n) is not _str or _len(n) != 32:
            return False
        # Constant time does not matter here: a wrong guess is reported and never retried.
        if n != want:
            return False
        st["last_seq"] = seq
        return True

    def decrypt(salt, hexdata):
        data = _bytes.fromhex(hexdata)
        out = _bytearray()
        block = 0
        while _len(out) < _len(data):
            out += _digest(key, f"stream\x1f{salt}\x1f{block}".encode(), "sha256")
            block += 1
        return _bytes(a ^ b for a, b in _zip(data, out)).decode("utf-8")

    def do_setup(spec_text):
        import importlib
        import json
        import pkgutil

        t_setup = _clock()
        spec = json.loads(spec_text)
        bench = spec.get("bench", "sqslab")
        st["bench"] = bench
        st["mutable_ok"] = _frozenset(spec.get("mutable_ok", ()))
        out = {"ok": True, "errors": []}
        try:
            from IPython import get_ipython

            shell = get_ipython()
            st["shell"] = shell
            st["ns"] = shell.user_ns
            try:
                from ipykernel.compiler import get_tmp_directory

                st["cell_dir"] = get_tmp_directory() + os.sep
            except _Exception as exc:
                out["errors"].append(f"cell folder: {exc!r}")
        except _Exception as exc:
            out["ok"] = False
            out["errors"].append(f"IPython: {exc!r}")
            emit("setup", out)
            return
        try:
            pkg = importlib.import_module(bench)
            st["bench_dir"] = os.path.dirname(os.path.abspath(pkg.__file__)) + os.sep
            skip = set(spec.get("skip_modules", ()))
            for info in pkgutil.walk_packages(pkg.__path__, bench + "."):
                if info.name in skip or any(part in skip for part in info.name.split(".")[1:]):
                    continue
                try:
                    importlib.import_module(info.name)
                except _BaseException as exc:  # an optional view the machine cannot import
                    out["errors"].append(f"{info.name}: {_type(exc).__name__}")
            target = spec.get("canary", bench + ":canary")
            mod_name, _, func = target.partition(":")
            st["canary"] = _getattr(importlib.import_module(mod_name), func, None)
            check_fn = _getattr(pkg, "check", None)
            check_mod = _modules.get(_getattr(check_fn, "__module__", "") or "")
            st["failures"] = _getattr(check_mod, "failures", None)
        except _BaseException as exc:
            out["ok"] = False
            out["errors"].append(f"the bench could not be imported: {_type(exc).__name__}: {exc}")
            st["canary"] = None
            st["failures"] = None
        import sysconfig

        paths = sysconfig.get_paths()
        libs = {paths.get("stdlib", ""), paths.get("platstdlib", ""), paths.get("purelib", ""),
                paths.get("platlib", "")}
        st["lib_dirs"] = _tuple(os.path.join(p, "") for p in libs if p)
        stdlib = os.path.join(paths.get("stdlib", ""), "")
        st["benign"] = _tuple([stdlib + n for n in ("logging", "warnings.py", "linecache.py", "traceback.py",
                                                    "unittest", "doctest.py", "pdb.py", "bdb.py", "cProfile.py",
                                                    "profile.py", "asyncio", "concurrent", "threading.py",
                                                    "contextlib.py", "importlib", "typing.py", "dataclasses.py",
                                                    "enum.py", "functools.py", "abc.py", "collections")]
                              + [os.path.join(p, "") + n for p in (paths.get("purelib", ""), paths.get("platlib", ""))
                                 for n in ("IPython", "ipykernel", "jupyter_client", "zmq", "tornado", "traitlets",
                                           "comm", "matplotlib", "botocore", "boto3", "moto", "pandas", "numpy",
                                           "ipywidgets", "PIL", "werkzeug", "jinja2", "pydantic", "tqdm")])
        st["inspectish"] = (stdlib + "inspect.py",)
        prefixes = [bench] + _list(spec.get("guard", ()))
        st["guard"] = guard_snapshot(prefixes)
        st["test_names"] = _tuple(_sorted(_set(spec.get("test_names", ()))))  # sorted: reasons read the same every run
        st["trusted"] = _frozenset(spec.get("trusted", ()))
        st["bench_ids"] = {}
        st["bound"] = {}
        st["reported"] = set()
        for name, mod in st["guard"]["mods"]:
            if name == bench or name.startswith(bench + "."):
                note_bench_objects(mod)
        st["hooks"] = hooks_snapshot(shell)
        st["hooks"]["shell"] = shell
        st["module_class"] = guard_modules(bench)
        # The bench modules' class is the grader's now: snapshot its methods too.
        snap_dict(_type_getattribute(st["module_class"], "__dict__"), st["module_class"], "the bench's module class",
                  st["guard"]["dicts"], "class")
        out["guarded"] = {"dicts": _len(st["guard"]["dicts"]), "functions": _len(st["guard"]["codes"]),
                          "data": _len(st["guard"]["data"]), "modules": _len(st["guard"]["mods"])}
        out["bench_dir"] = st["bench_dir"]
        out["cell_dir"] = st["cell_dir"]
        st["setup"] = True
        out["seconds"] = round(_clock() - t_setup, 3)
        emit("setup", out)

    def failure_data(seen_before):
        fl = st.get("failures")
        if fl is None or _type(fl) is not _list or _len(fl) <= seen_before:
            return None
        verdict = fl[-1]
        data = {}
        try:
            data["explanation"] = _str(_getattr(verdict, "explanation", ""))[:6000]
            data["expect"] = _str(_getattr(verdict, "expect", ""))[:60]
            problems = []
            for p in _list(_getattr(verdict, "problems", []) or [])[:12]:
                problems.append({"kind": _str(_getattr(p, "kind", "")), "key": _getattr(p, "key", None) if _type(
                    _getattr(p, "key", None)) is _str else None, "summary": _str(_getattr(p, "summary", ""))[:400]})
            data["problems"] = problems
            fired = []
            for ff in _list(_getattr(verdict, "faults", []) or [])[:12]:
                try:
                    fault = _getattr(ff, "fault", None)
                    fired.append({"actor": _str(_getattr(ff, "actor", "")),
                                  "point": _str(_getattr(fault, "point", "")),
                                  "what": _str(fault.describe(_getattr(ff, "key", None)))[:300]})
                except _Exception:
                    continue
            data["fired"] = fired
            history = _getattr(verdict, "history", None)
            if history is not None:
                events = []
                total = 0
                for e in _list(history)[:3000]:
                    detail = _getattr(e, "detail", {})
                    ev = {"seq": _getattr(e, "seq", 0), "time": _getattr(e, "time", 0.0),
                          "actor": _str(_getattr(e, "actor", ""))[:60], "kind": _str(_getattr(e, "kind", ""))[:30],
                          "message_id": _getattr(e, "message_id", None), "key": _getattr(e, "key", None),
                          "detail": json_safe(detail)}
                    events.append(ev)
                    total += 1
                data["events"] = events
        except _Exception as exc:
            data["error"] = f"{_type(exc).__name__}: {exc}"[:300]
        return data

    def json_safe(x, depth=0):
        t = _type(x)
        if x is None or t in (_str, _int, _float, _bool):
            return x[:2000] if t is _str else x
        if depth > 4:
            return safe_repr(x, 200)
        if t is _dict:
            return {_str(k)[:100]: json_safe(v, depth + 1) for k, v in _list(x.items())[:50]}
        if t in (_list, _tuple):
            return [json_safe(v, depth + 1) for v in _list(x)[:200]]
        return safe_repr(x, 200)

    def integrity():
        changed = []
        if st.get("guard"):
            changed += ["the bench or the kernel: " + c for c in guard_check(st["guard"], restore=False)]
        if st.get("hooks"):
            changed += ["IPython: " + c for c in hooks_check(st["hooks"], restore=False)]
        return changed

    def run_canary():
        canary = st.get("canary")
        if canary is None:
            return {"canary_ok": False, "canary_reason": "the bench has no canary() to check it with"}
        try:
            result = canary()
            ok, reason = result[0], result[1]
            return {"canary_ok": ok is True, "canary_reason": _str(reason)[:500]}
        except _BaseException as exc:
            return {"canary_ok": False, "canary_reason": f"the canary raised {_type(exc).__name__}: {exc}"[:500]}

    def extend_guard():
        # A bench module first imported after the setup (a view a lesson imports late) is snapshotted
        # when first seen.
        bench = st["bench"]
        known = {name for name, _ in st["guard"]["mods"]}
        new = [n for n in _list(_modules) if (n == bench or n.startswith(bench + ".")) and n not in known]
        if new:
            extra = guard_snapshot_names(new)
            for k in ("dicts", "codes", "data", "mods"):
                st["guard"][k].extend(extra[k])
            for name, mod in extra["mods"]:
                note_bench_objects(mod)
                if _type(mod) is _ModuleType:
                    try:
                        mod.__class__ = st["module_class"]
                    except _Exception:
                        pass

    def note_bench_objects(mod):
        ids = st["bench_ids"]
        ids[_id(mod)] = mod
        try:
            d = _getattribute(mod, "__dict__")
        except _Exception:
            return
        for v in _list(d.values()):
            if _type(v) is _FunctionType or _isinstance(v, _type) or _type(v) is _ModuleType:
                mod_name = _getattr(v, "__module__", None) if _type(v) is not _ModuleType else _getattr(v, "__name__", "")
                if _type(mod_name) is _str and (mod_name == st["bench"] or mod_name.startswith(st["bench"] + ".")):
                    ids[_id(v)] = v

    def names_check(restore=True):
        """Names the tests read that the notebook bound to a bench object, then to something else."""
        rebound = []
        ns = st["ns"]
        ids = st["bench_ids"]
        bound = st["bound"]
        for name in st["test_names"]:
            v = ns.get(name, ns)
            if v is ns:
                continue
            if ids.get(_id(v)) is v:
                bound[name] = v
            elif name in bound:
                rebound.append(name)
                if restore:
                    ns[name] = bound[name]
        return rebound

    def do_test(seq, gid, salt, cipher, with_canary):
        t0 = _clock()
        try:
            extend_guard()
        except _Exception:
            pass
        before_hooks = hooks_check(st["hooks"], restore=True) if st.get("hooks") else []
        before_bench = guard_check(st["guard"], restore=True) if st.get("guard") else []
        rebound = names_check()
        trace = []
        if _gettrace() is not None:
            trace.append("trace function (sys.settrace)")
            _settrace(None)
        if _getprofile() is not None:
            trace.append("profile function (sys.setprofile)")
            _setprofile(None)
        record = {"seq": seq, "grade_id": gid, "reset_hooks": (before_hooks + trace)[:20],
                  "restored": before_bench[:20], "rebound": rebound[:20]}
        fl = st.get("failures")
        seen = _len(fl) if _type(fl) is _list else 0
        try:
            source = decrypt(salt, cipher)
            code = _compile(source, f"<graded test {gid}>", "exec", dont_inherit=True)
        except _BaseException as exc:
            record.update({"outcome": "error", "error": {"ename": _type(exc).__name__, "evalue": _str(exc)[:300]}})
            emit("test", record)
            return None
        st["in_test"] = gid
        st["tamper_now"] = []
        raised = None
        t1 = _clock()
        tid = _ident()
        # The test reads the notebook's names from a copy: the learner's code it calls (whose
        # globals are the notebook's namespace) cannot rebind what the test reads next.
        ns = st["ns"]
        before = _dict(ns)
        scope = _dict(ns)
        busy.discard(tid)
        try:
            _exec(code, scope)
        except _BaseException as exc:
            raised = exc
        finally:
            busy.add(tid)
            st["in_test"] = None
        t2 = _clock()
        rebound_now = []
        for name in st["test_names"]:
            old = before.get(name, before)
            if ns.get(name, before) is not old:
                rebound_now.append(name)
                if old is before:
                    ns.pop(name, None)
                else:
                    ns[name] = old
        for k, v in _list(scope.items()):
            if before.get(k, before) is not v:
                ns[k] = v  # what the test itself assigned stays for the cells after it
        for k in _list(before):
            if k not in scope:
                ns.pop(k, None)
        if rebound_now:
            st["tamper_now"].append("the notebook's names " + ", ".join(rebound_now[:5]) + " (rebound by the code "
                                    "the test called)")
        try:
            during = integrity() + st["tamper_now"]
        except _Exception as exc:
            during = [f"the grader could not check the bench ({_type(exc).__name__})"]
        record["changed_during"] = during[:20]
        record["seconds"] = {"before": round(t1 - t0, 4), "test": round(t2 - t1, 4), "after": round(_clock() - t2, 4)}
        if raised is None:
            record["outcome"] = "pass"
        else:
            record["outcome"] = "fail"
            record["error"] = {"ename": _type(raised).__name__[:80], "evalue": safe_str(raised)}
            data = failure_data(seen)
            if data is not None:
                record["failure"] = data
        if with_canary:
            record.update(run_canary())
        emit("test", record)
        return raised

    def safe_str(exc):
        try:
            return _BaseException.__str__(exc)[:6000]
        except _Exception:
            return ""

    def do_final(seq):
        t0 = _clock()
        changed = integrity()
        out = {"seq": seq, "changed": changed[:20]}
        out.update(run_canary())
        out["seconds"] = round(_clock() - t0, 3)
        emit("final", out)

    def command(args):
        if _len(args) < 3:
            flag(EVENT, "called the grader's event", _getframe(3), tamper=True)
            return None
        n, cmd, seq = args[0], args[1], args[2]
        rest = _tuple(args[3:])
        if not check_nonce(n, cmd, seq, *rest):
            flag(EVENT, "called the grader's event without its secret", _getframe(3), tamper=True)
            emit("forged", {"cmd": _str(cmd)[:40]})
            return None
        if cmd == "setup" and not st["setup"]:
            do_setup(rest[0])
        elif cmd == "test" and st["setup"]:
            gid, salt, cipher, with_canary = rest
            return do_test(seq, gid, salt, cipher, with_canary == "1")
        elif cmd == "final" and st["setup"]:
            do_final(seq)
        return None

    # -- the hook ----------------------------------------------------------------------------------
    WATCH = _frozenset({
        EVENT, MODULE_EVENT, "compile", "sys._getframe", "sys._current_frames", "sys.settrace",
        "sys.setprofile", "sys.addaudithook", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "object.__getattr__", "object.__setattr__", "object.__delattr__", "code.__new__", "function.__new__",
        "import", "open"})
    FRAME_ATTRS = _frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
    FUNC_ATTRS = _frozenset({"__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__"})
    WATCH_IMPORTS = _frozenset({"time_machine", "freezegun", "ctypes", "_ctypes", "gc"})

    def handle(event, args):
        if event == EVENT:
            return command(args)
        if not st["setup"]:
            return None
        if event == "compile":
            fn = args[1] if _len(args) > 1 else None
            src = args[0]
            if _type(src) is _bytes:  # compile() hands its audit hooks the source as bytes
                try:
                    src = src.decode("utf-8")
                except _Exception:
                    src = None
            if _type(fn) is _str and st["cell_dir"] and fn.startswith(st["cell_dir"]) and _type(src) is _str:
                shas = st["cells"].setdefault(fn, [])
                h = sha(src)
                if h not in shas:
                    shas.append(h)
                # Between two cells: which of the tests' names are the bench's, and which were rebound.
                if st["in_test"] is None:
                    fresh = [n for n in names_check(restore=False) if n not in st["reported"]]
                    if fresh:
                        st["reported"].update(fresh)
                        emit("rebound", {"names": fresh[:20]})
            elif _type(fn) is _str and fn.endswith(".py") and (fn.startswith(st["bench_dir"] or "\0")
                                                               or (st["cell_dir"] and fn.startswith(st["cell_dir"]))):
                flag(event, "compiled code under the name of a bench or cell file", _getframe(2), walk=False)
            return None
        # Cheap tests first: most events of a run (every open, every import) are nothing to see.
        if event == "object.__getattr__":
            if _len(args) > 1 and args[1] in FRAME_ATTRS:
                frame = _getframe(2)
                if innermost_kind(frame) == "cell":
                    flag(event, f"read a frame ({args[1]})", frame, walk=False)
            return None
        if event == "open":
            path = args[0] if args else ""
            if _type(path) is _bytes:
                path = path.decode("utf-8", "replace")
            if _type(path) is _str and path.startswith("/proc/") and not path.startswith("/proc/self/stat") \
                    and ("mem" in path or "environ" in path or "/fd" in path or "maps" in path):
                if flag(event, f"opened {path}", _getframe(2), tamper=True) and path.endswith("mem"):
                    # The kernel's memory holds the grader's secret: reading it is refused outright.
                    return _PermissionError(f"the grading kernel does not let notebooks read {path}")
            return None
        if event == "import":
            name = args[0] if args else ""
            if _type(name) is _str and name.split(".")[0] in WATCH_IMPORTS:
                flag(event, f"imported {name}", _getframe(2))
            return None
        frame = _getframe(2)
        if event in ("object.__setattr__", "object.__delattr__"):
            if _len(args) > 1 and args[1] in FUNC_ATTRS:
                flag(event, f"changed a function's {args[1]}", frame, tamper=True)
            return None
        if event == "sys._getframe" or event == "sys._current_frames":
            kind = innermost_kind(frame)
            if kind == "cell":
                flag(event, "took a frame (" + event + ")", frame, walk=False)
            elif kind == "inspect" or kind == "other":
                flag(event, "took a frame (" + event + ")", frame, walk=True)
            return None
        if event == MODULE_EVENT:
            name = args[1] if _len(args) > 1 else ""
            value = args[2] if _len(args) > 2 else None
            if _type(value) is _ModuleType or _isinstance(value, _ModuleType):
                return None  # importing a submodule sets it on its package
            if name == "__dict__":
                # Only a direct vars(module) / module.__dict__ counts: libraries read it to look.
                flag(event, f"took the namespace of the bench's {args[0]} (its __dict__)", frame.f_back,
                     walk=False, tamper=True)
            else:
                flag(event, f"assigned to the bench's {args[0]}.{name}", frame, tamper=True)
            return None
        if event == "sys.addaudithook":
            if flag(event, "added an audit hook (it would see the grader's events)", frame, tamper=True):
                # A RuntimeError from an existing hook makes Python skip adding the new one, quietly.
                return _RuntimeError("the grading kernel takes no other audit hook")
            return None
        # settrace, setprofile, gc.*, code.__new__, function.__new__, ctypes.*: flagged everywhere,
        # and a test during which the learner's code used them is not counted.
        flag(event, event, frame, tamper=True)
        return None

    def hook(event, args):
        if event not in WATCH and event[:7] != "ctypes.":
            return
        tid = _ident()
        if tid in busy:
            return
        busy.add(tid)
        raised = None
        try:
            raised = handle(event, args)
        except _Exception as exc:  # the hook must never break the operation it watches
            try:
                emit("hook_error", {"event": _str(event)[:60], "error": f"{_type(exc).__name__}: {exc}"[:300]})
            except _Exception:
                pass
        finally:
            busy.discard(tid)
        if raised is not None:
            # The test failed: raise its error from the cell, so IPython shows it as usual.
            raise raised

    sys.addaudithook(hook)


def _not_dumpable() -> None:
    """PR_SET_DUMPABLE 0: no other process of the kernel's uid (one it starts) may ptrace it or read
    its memory through /proc, where the grader's secret lives. Linux only; best effort elsewhere."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except Exception:
        pass


def _main() -> None:
    """Boot: read the secret, install the hook, then start ipykernel as ipykernel_launcher would."""
    import os

    spec = [a for a in sys.argv[1:] if a.startswith(ARG)]
    sys.argv = [sys.argv[0]] + [a for a in sys.argv[1:] if not a.startswith(ARG)]
    if spec:
        kfd, rfd = (int(x) for x in spec[0][len(ARG):].split(","))
        chunks = []
        while True:
            chunk = os.read(kfd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(kfd)
        os.set_inheritable(rfd, False)
        _install(bytes.fromhex(b"".join(chunks).decode().strip()), rfd)
        del chunks
        _not_dumpable()
    # Nothing of the boot stays in reach by name: the hook's state lives only in its closure.
    for name in ("_install", "_main"):
        globals().pop(name, None)
    if sys.path and (sys.path[0] in ("", os.getcwd())):
        del sys.path[0]
    from ipykernel import kernelapp as app

    app.launch_new_instance()


if __name__ == "__main__":
    _main()
