"""What a submission's own cells reach for, read from their source (the ``review`` status's second eye).

The kernel's audit hook (``kernel_boot.py``) sees what code *does* (frames, tracing, ``gc``,
``ctypes``, writes to the bench); this scan reads what code *says*, so an instructor also hears
about the reaches no audit event marks: IPython's hooks and history, the bench's private names
and module attributes, dynamic imports and attribute names built at run time. It never changes a
score: a finding makes the status ``review``, with the line quoted.

Only the learner's cells are scanned (the submission's solution cells, and any cell that is not
the course's own); no answer in the course's corpora of right and wrong solutions uses any of it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

BENCH = "sqslab"

#: attribute or name -> what it reaches
_NAMES = {
    "_getframe": "frames (sys._getframe)", "_current_frames": "frames (sys._current_frames)",
    "f_back": "frames", "f_locals": "frames", "f_globals": "frames", "tb_frame": "traceback frames",
    "gi_frame": "generator frames", "cr_frame": "coroutine frames", "tb_next": "traceback frames",
    "settrace": "tracing (settrace)", "setprofile": "profiling hooks (setprofile)", "gettrace": "tracing",
    "addaudithook": "audit hooks", "audit": "audit events",
    "extract_stack": "the call stack", "walk_stack": "the call stack", "print_stack": "the call stack",
    "format_stack": "the call stack", "stack": None, "currentframe": "frames (inspect.currentframe)",
    "getouterframes": "frames", "getinnerframes": "frames",
    "get_objects": "the garbage collector", "get_referrers": "the garbage collector",
    "get_referents": "the garbage collector",
    "get_ipython": "IPython's shell", "input_transformers_post": "IPython's input transformers",
    "input_transformers_cleanup": "IPython's input transformers", "ast_transformers": "IPython's AST transformers",
    "input_transformer_manager": "IPython's input transformers", "set_custom_exc": "IPython's exception handlers",
    "showtraceback": "IPython's traceback display", "_showtraceback": "IPython's traceback display",
    "displayhook": "display hooks", "excepthook": "exception hooks", "display_pub": "IPython's display",
    "user_ns": "IPython's namespace", "history_manager": "IPython's input history",
    "_ih": "IPython's input history", "_oh": "IPython's output history", "In": "IPython's input history",
    "Out": "IPython's output history",
    "__import__": "dynamic imports", "import_module": "dynamic imports", "modules": None,
    "__dict__": "an object's namespace (__dict__)", "__globals__": "a function's globals",
    "__code__": "a function's code", "__closure__": "a function's closure", "__builtins__": "builtins",
    "__subclasses__": "class internals", "__bases__": "class internals", "__mro__": "class internals",
    "__getattribute__": "attribute internals", "__class__": None, "__defaults__": "a function's defaults",
    "__kwdefaults__": "a function's defaults", "cell_contents": "a closure",
    "sqslab_grader": "the grader's probe", "__sqslab_grader__": "the grader's probe",
}
_CALLS = {"exec": "exec", "eval": "eval", "compile": "compile", "globals": "globals()", "vars": "vars()"}
_MODULES = {"inspect": "inspect (frames, source)", "gc": "the garbage collector", "ctypes": "ctypes",
            "_ctypes": "ctypes", "time_machine": "time_machine (the clock)", "freezegun": "freezegun (the clock)",
            "IPython": "IPython", "ipykernel": "ipykernel", "linecache": "the line cache (test sources)",
            "builtins": "builtins", "importlib": "dynamic imports", "jupyter_client": "the kernel's session",
            "zmq": "the kernel's sockets", "marshal": "code objects", "dis": "code objects",
            "autograder": "the grader", "nbgrader": "the grader", "pytest": None}


@dataclass
class Finding:
    """One line of a learner's cell that reaches somewhere no answer needs to."""

    line: int
    text: str
    what: str


def _line(lines: list[str], n: int) -> str:
    return lines[n - 1].strip()[:160] if 0 < n <= len(lines) else ""


def scan(source: str) -> list[Finding]:
    """Findings in one cell's source, one per line and kind, in line order."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _scan_text(source)
    found: dict[tuple[int, str], Finding] = {}
    bench_names: set[str] = set()

    def add(node, what):
        n = getattr(node, "lineno", 0)
        found.setdefault((n, what), Finding(n, _line(lines, n), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if _MODULES.get(top):
                    add(node, _MODULES[top])
                if top == BENCH:
                    bench_names.add((alias.asname or alias.name).split(".")[0])
                    if any(part.startswith("_") for part in alias.name.split(".")[1:]):
                        add(node, "a private module of the bench")
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if _MODULES.get(top):
                add(node, _MODULES[top])
            if top == BENCH:
                for alias in node.names:
                    bench_names.add(alias.asname or alias.name)
                    if alias.name.startswith("_"):
                        add(node, "a private name of the bench")
            if top == "sys" and any(a.name in ("_getframe", "settrace", "setprofile", "modules") for a in node.names):
                add(node, "the interpreter's internals (sys)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            what = _NAMES.get(node.id)
            if what and node.id not in ("stack", "modules", "audit"):
                add(node, what)
            if node.id in _CALLS and isinstance(getattr(node, "ctx", None), ast.Load):
                add(node, _CALLS[node.id])
        elif isinstance(node, ast.Attribute):
            what = _NAMES.get(node.attr)
            base = node.value
            if node.attr == "modules" and isinstance(base, ast.Name) and base.id == "sys":
                add(node, "sys.modules")
            elif node.attr == "audit" and isinstance(base, ast.Name) and base.id == "sys":
                add(node, "audit events (sys.audit)")
            elif node.attr == "stack" and isinstance(base, ast.Name) and base.id == "inspect":
                add(node, "the call stack (inspect.stack)")
            elif what:
                add(node, what)
            root = base
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bench_names and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                add(node, "a private name of the bench")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("getattr", "setattr", "delattr", "hasattr", "attrgetter") and (
                    len(node.args) < 2 and name != "attrgetter" or
                    not all(isinstance(a, ast.Constant) for a in node.args[1 if name != "attrgetter" else 0:2])):
                add(node, f"attribute names built at run time ({name})")
            if name == "setattr" and node.args:
                root = node.args[0]
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in bench_names:
                    add(node, "writes to the bench (setattr)")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, (ast.Attribute, ast.Subscript)):
                        root = t.value
                        while isinstance(root, (ast.Attribute, ast.Subscript)):
                            root = root.value
                        if isinstance(root, ast.Name) and root.id in bench_names:
                            add(t, "writes to the bench")
    return sorted(found.values(), key=lambda f: (f.line, f.what))


_TEXT = re.compile(r"_getframe|settrace|setprofile|get_ipython|__import__|__globals__|__code__|__dict__|"
                   r"gc\.get_|ctypes|inspect\.|sys\.modules|time_machine|sqslab_grader")


def _scan_text(source: str) -> list[Finding]:
    """For a cell that does not parse (a magic, a syntax error): the same words, by text."""
    out = []
    for n, line in enumerate(source.splitlines(), 1):
        m = _TEXT.search(line)
        if m:
            out.append(Finding(n, line.strip()[:160], f"{m.group(0).strip('._')} (in a cell that does not parse)"))
    return out
