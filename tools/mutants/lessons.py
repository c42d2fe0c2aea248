"""A lesson as the mutation runner needs it, read from ``solutions/`` when it runs.

Nothing here knows a lesson's cells: it reads each assignment folder's notebooks
(``<lesson>.ipynb`` first, then ``<lesson>_b.ipynb``, ...) and sorts their code cells into
nbgrader's **solution** cells (what a learner writes: mutated), **graded** cells (the tests, with
their hidden tests, as the grader runs them) and the **other** cells (the lesson's text in code).

Re-running a whole notebook for every mutant would spend most of its time on demonstrations. So
each top-level statement of the other cells is classified by data flow:

* a statement that reads, when it runs, something a solution cell defines (or a function whose body
  reaches one, like ``def my_consumer(p): consume_once(...)``) is **affected** by the mutant: it is
  run again for each mutant when a graded cell (or another such statement) needs what it defines,
  and otherwise skipped (``print(explore(my_consumer))`` is a demonstration);
* every other statement is the same for every mutant, and runs once, when the kernel starts.

Functions are late-bound: a cell that only *defines* ``my_consumer`` need not run again, since the
name ``consume_once`` is looked up when ``my_consumer`` is called. A statement that *keeps* a
solution function (``consumer = capstone.consumer(consume_batch)``) is affected and runs again.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .operators import Mutant, mutate


@dataclass
class Unit:
    """Code that runs as one piece: a whole solution or graded cell, or a statement of another cell."""

    cell: int                      # index of the cell in its notebook
    kind: str                      # "solution" | "graded" | "other"
    source: str
    grade_id: str | None = None
    points: float = 0.0
    stores: set[str] = field(default_factory=set)
    reads_now: set[str] = field(default_factory=set)
    reads_later: set[str] = field(default_factory=set)
    defs: dict[str, set[str]] = field(default_factory=dict)   # function name -> names its body reads
    display: bool = False         # only shows something: print(...), display(...), x.show(...), a bare name
    affected: bool = False        # depends on the solution cells: runs per mutant (when needed)
    needed: bool = False          # what it defines is read by a graded cell (directly or not)


@dataclass
class Notebook:
    """One notebook of an assignment, as units in order."""

    lesson: str
    name: str                      # file stem: 03_fifo_dedup, 03_fifo_dedup_b, ...
    path: Path
    units: list[Unit]
    cells: list[Unit] = field(default_factory=list)   # every code cell whole, in order (for confirm)

    @property
    def solutions(self) -> list[Unit]:
        return [u for u in self.units if u.kind == "solution"]

    @property
    def graded(self) -> list[Unit]:
        return [u for u in self.units if u.kind == "graded"]

    @property
    def setup(self) -> list[Unit]:
        """What runs once per kernel: every statement of the other cells that no mutant changes."""
        return [u for u in self.units if u.kind == "other" and not u.affected]

    @property
    def reset(self) -> list[Unit]:
        """The setup statements that rebuild the world the graded cells see, run again before each mutant.

        ``open_lab()`` gives a fresh mock AWS, clock and history; then every setup statement that
        binds a name a graded cell reads (directly or not), and every statement that changes the
        world through such a name (``lab.send(orders, ...)``, ``reset_claims_table(lab)``) runs
        again. Demonstrations kept only for display, and pictures, do not.
        """
        wanted: set[str] = set()
        for u in self.per_mutant:
            wanted |= u.reads_now | u.reads_later
        keep: set[int] = set()
        changed = True
        while changed:  # to a fixed point: a statement kept late in the notebook can want an earlier name
            changed = False
            for i, u in enumerate(self.setup):
                if i in keep:
                    continue
                reads = u.reads_now | u.reads_later
                if u.stores & wanted or "*" in u.reads_now or (not u.stores - wanted and not u.display
                                                               and reads & wanted):
                    keep.add(i)
                    wanted |= reads
                    changed = True
        return [u for i, u in enumerate(self.setup) if i in keep]

    @property
    def per_mutant(self) -> list[Unit]:
        """What runs for each mutant, in notebook order: solution cells, needed affected statements, graded cells."""
        return [u for u in self.units if u.kind in ("solution", "graded") or (u.affected and u.needed)]

    @property
    def solution_names(self) -> set[str]:
        """Names bound by the solution cells and the statements run again: cleared before each mutant."""
        names: set[str] = set()
        for u in self.per_mutant:
            if u.kind != "graded":
                names |= u.stores
        return names


@dataclass
class Lesson:
    """An assignment: its notebooks in order."""

    name: str
    folder: Path
    notebooks: list[Notebook]

    @property
    def graded_ids(self) -> list[str]:
        return [u.grade_id for nb in self.notebooks for u in nb.graded]

    def mutants(self) -> list[Mutant]:
        """Every mutant of every solution cell, in notebook and cell order."""
        out: list[Mutant] = []
        for nb in self.notebooks:
            for u in nb.solutions:
                out.extend(mutate(u.source, lesson=self.name, grade_id=u.grade_id or f"cell{u.cell}",
                                  notebook=nb.name))
        return out


# -- reading ------------------------------------------------------------------------------------
def lesson_names(solutions: Path) -> list[str]:
    """Assignments with at least one solution cell, in teaching order."""
    return [folder.name for folder in sorted(p for p in solutions.iterdir() if p.is_dir())
            if any(nb.solutions for nb in load_lesson(folder).notebooks)]


def notebook_paths(folder: Path) -> list[Path]:
    """``<lesson>.ipynb`` first, then ``<lesson>_b.ipynb``, ``<lesson>_c.ipynb``, ... (DESIGN: a split lesson)."""
    name = folder.name
    first = folder / f"{name}.ipynb"
    rest = sorted(p for p in folder.glob(f"{name}_*.ipynb") if re.fullmatch(rf"{re.escape(name)}_[a-z]+", p.stem))
    return ([first] if first.exists() else []) + rest


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def load_lesson(folder: Path) -> Lesson:
    """Read an assignment folder of ``solutions/`` (the instructor's notebooks)."""
    notebooks = []
    seen: dict[str, str] = {}
    for path in notebook_paths(folder):
        nb = json.loads(path.read_text(encoding="utf-8"))
        units: list[Unit] = []
        cells: list[Unit] = []
        for i, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            meta = (cell.get("metadata", {}) or {}).get("nbgrader", {}) or {}
            src = _source(cell)
            if meta.get("solution"):
                kind = "solution"
            elif meta.get("grade"):
                kind = "graded"
            else:
                kind = "other"
            grade_id = meta.get("grade_id") if kind != "other" else None
            if grade_id:
                if grade_id in seen and seen[grade_id] != path.stem:
                    grade_id = f"{path.stem}/{grade_id}"   # the same id in two notebooks: say which
                seen[grade_id] = path.stem
            whole = Unit(i, kind, src, grade_id, float(meta.get("points", 0) or 0))
            cells.append(whole)
            units.extend(_statements(i, src) if kind == "other" else [whole])
        notebook = Notebook(folder.name, path.stem, path, units, cells)
        _flow(notebook)
        notebooks.append(notebook)
    return Lesson(folder.name, folder, notebooks)


def _parse(src: str) -> ast.Module | None:
    try:
        return ast.parse(src)
    except SyntaxError:
        try:  # IPython syntax (magics, !shell): what the kernel would run
            from IPython.core.inputtransformer2 import TransformerManager
            return ast.parse(TransformerManager().transform_cell(src))
        except Exception:
            return None


def _statements(cell: int, src: str) -> list[Unit]:
    """One unit per top-level statement of an ordinary cell (the whole cell if it does not parse)."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return [Unit(cell, "other", src)]     # IPython syntax (a magic, !shell): the cell stays whole
    if not tree.body:
        return []
    lines = src.splitlines(keepends=True)
    out = []
    for stmt in tree.body:
        first = stmt.lineno - 1
        if getattr(stmt, "decorator_list", None):
            first = min(d.lineno for d in stmt.decorator_list) - 1
        text = "".join(lines[first:stmt.end_lineno])
        out.append(Unit(cell, "other", text))
    return out


# -- data flow ----------------------------------------------------------------------------------
class _Names(ast.NodeVisitor):
    """Names a piece of code binds, those it reads at once, and those its functions and lambdas read later.

    A name counts as read only if the code has not bound it first (``with trial(...) as t:`` then
    ``t.receive()`` reads ``trial``, not ``t``), in the order Python evaluates: an assignment's value
    before its targets, a loop's iterable before its variable.
    """

    def __init__(self, bound: set[str] | None = None):
        self.stores: set[str] = set()
        self.bound: set[str] = set(bound or ())
        self.now: set[str] = set()
        self.later: set[str] = set()
        self.defs: dict[str, set[str]] = {}

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.bound:
                self.now.add(node.id)
        else:
            self.stores.add(node.id)
            self.bound.add(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name) and node.target.id not in self.bound:
            self.now.add(node.target.id)
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def _function_reads(self, args: ast.arguments, body: list[ast.AST]) -> set[str]:
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        inner = _Names(bound=params | self.bound)
        for stmt in body:
            inner.visit(stmt)
        # a name the function binds anywhere is its own local (Python decides at compile time)
        return (inner.now | inner.later) - inner.stores

    def _defaults(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)

    def visit_FunctionDef(self, node) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self._defaults(node.args)
        reads = self._function_reads(node.args, node.body)
        self.later |= reads
        self.defs[node.name] = reads
        self.stores.add(node.name)
        self.bound.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._defaults(node.args)
        self.later |= self._function_reads(node.args, [node.body])

    def _comprehension(self, node, elements: list[ast.AST]) -> None:
        # the first iterable is evaluated here; the rest runs in the comprehension's own scope
        inner = _Names(bound=self.bound)
        for i, gen in enumerate(node.generators):
            (self if i == 0 else inner).visit(gen.iter)
            inner.visit(gen.target)
            for cond in gen.ifs:
                inner.visit(cond)
        for element in elements:
            inner.visit(element)
        self.now |= inner.now
        self.later |= inner.later

    def visit_ListComp(self, node) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node) -> None:
        self._comprehension(node, [node.key, node.value])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for n in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(n)
        inner = _Names(bound=self.bound)
        for stmt in node.body:
            inner.visit(stmt)
        self.now |= inner.now
        self.later |= inner.later
        self.defs[node.name] = inner.later | inner.now
        self.stores.add(node.name)
        self.bound.add(node.name)

    def visit_Import(self, node) -> None:
        for alias in node.names:
            name = (alias.asname or alias.name).split(".")[0]
            self.stores.add(name)
            self.bound.add(name)

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        self.stores.update(node.names)


def _names(unit: Unit) -> None:
    tree = _parse(unit.source)
    if tree is None:
        unit.reads_now = {"*"}          # unknown: assume it reads everything
        return
    v = _Names()
    for stmt in tree.body:
        v.visit(stmt)
    unit.stores, unit.reads_now, unit.reads_later, unit.defs = v.stores, v.now, v.later, v.defs
    unit.display = unit.kind == "other" and all(_shows(stmt) for stmt in tree.body)


def _shows(stmt: ast.stmt) -> bool:
    """An expression statement that only displays: ``print(...)``, ``display(...)``, ``x.show(...)``, ``lab``."""
    if not isinstance(stmt, ast.Expr):
        return False
    value = stmt.value
    if isinstance(value, (ast.Name, ast.Attribute, ast.Constant)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in ("print", "display") or name == "show" or name.startswith("show_")
    return False


def _flow(nb: Notebook) -> None:
    """Mark each unit affected or not, and needed or not (see the module's docstring)."""
    for u in nb.units:
        _names(u)
    tainted: set[str] = set()    # values that depend on the mutant
    reaches: set[str] = set()    # functions whose bodies reach the mutant when called
    for u in nb.units:
        if u.kind == "solution":
            tainted |= u.stores
            continue
        if u.kind == "graded":
            continue
        dirty = tainted | reaches
        if "*" in u.reads_now or u.reads_now & dirty:
            u.affected = True
            tainted |= u.stores
            continue
        for name in u.stores:
            body = u.defs.get(name)
            if body is not None and body & dirty:
                reaches.add(name)
            elif body is None and u.reads_later & dirty:
                reaches.add(name)   # a lambda kept in a name
            else:
                tainted.discard(name)
                reaches.discard(name)
    wanted: set[str] = set()
    for u in reversed(nb.units):
        if u.kind in ("graded", "solution"):
            wanted |= u.reads_now | u.reads_later
        elif u.affected and (u.stores & wanted or "*" in u.reads_now):
            u.needed = True
            wanted |= u.reads_now | u.reads_later
        elif not u.affected:
            wanted |= u.reads_now | u.reads_later
