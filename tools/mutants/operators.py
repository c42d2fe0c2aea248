"""Mutation operators over one cell of Python source, with :mod:`ast`.

mutmut and cosmic-ray mutate files on disk; a lesson's answers live in notebook cells, so this module
takes a cell's source (and the lines a learner writes: nbgrader's solution region) and returns every
mutant of it as a new source text. Two families of operators:

* **generic**, in the spirit of mutmut and cosmic-ray: numbers +/-1, comparison and arithmetic
  operators, ``and``/``or``, ``not``, ``True``/``False``, string constants, removed statements,
  ``break``/``continue``, returned values, dropped keyword arguments, ``min``/``max``, the caught
  exception;
* **domain**, the mistakes a reliable-SQS-consumer course is about: swap the effect and the delete,
  drop a delete or a commit (or the transaction), delete in ``finally``, use an earlier receipt
  handle or batch index, reuse or regenerate an id, read the clock again (or the wall clock), drop
  a heartbeat stop or move it after the delete, move a timeout by +/-1 s.

Edits are made on the text (the node's span replaced, or whole statement lines moved), never by
unparsing the whole cell, so a mutant's diff shows only what changed and comments survive.

The module is long because it is a catalogue: one generator walks a cell's tree once, and each
operator is a method of it sharing that walk's context (the enclosing function, the loop, the
``try`` a statement sits in); split by family, the domain operators would need the generic walk
again.

A mutant is named without line numbers: ``scope`` (the enclosing function), ``operator``, ``change``
(the code before and after, as :func:`ast.unparse` writes it) and ``occurrence`` (the n-th identical
change in that scope). Adding or editing unrelated lines keeps every other mutant's id.
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
from dataclasses import dataclass
from typing import Callable, Iterator

#: Calls that are the business effect (a charge, a handler, the work).
EFFECT_CALLS = frozenset({"handle", "handler", "apply_effect", "charge_once", "charge_order", "charge",
                          "work", "save_order"})
#: Calls that acknowledge a message for good.
DELETE_CALLS = frozenset({"delete_message", "delete_message_batch"})
#: Calls that make a transaction durable.
COMMIT_CALLS = frozenset({"commit"})
#: Calls that renew or release a lease.
VISIBILITY_CALLS = frozenset({"change_message_visibility", "change_message_visibility_batch"})
#: Calls that stop a heartbeat (a timer).
STOP_CALLS = frozenset({"cancel"})
#: Calls that read a clock: ``clock.now()``, ``now()``, ``time.time()``, ...
CLOCK_READS = frozenset({"now", "time", "monotonic", "perf_counter", "elapsed"})
#: Clock calls whose first argument is a duration in seconds.
DURATION_CALLS = frozenset({"every", "call_later", "advance", "sleep"})
#: Keyword arguments that are durations in seconds.
DURATION_KEYWORDS = re.compile(r"(?i)(timeout|seconds|delay|period)$")
#: Keys that name a message: swapping them is a classic mistake (report receipt handles, delete by id).
ID_KEYS = {"MessageId": "ReceiptHandle", "ReceiptHandle": "MessageId",
           "messageId": "receiptHandle", "receiptHandle": "messageId"}

#: Every operator, in the order mutants are generated (domain first: when two operators make the
#: same code, the first name is kept). ``kind`` is "domain" or "generic".
OPERATORS: dict[str, tuple[str, str]] = {
    "swap_effect_delete": ("domain", "delete the message before its effect (move the delete above the effect)"),
    "drop_delete": ("domain", "never delete the message (remove the statement that deletes)"),
    "drop_commit": ("domain", "never commit (remove a commit() call)"),
    "drop_transaction": ("domain", "no transaction (`with db:` becomes `if True:`: nothing commits at its end)"),
    "drop_visibility_change": ("domain", "never renew or release the lease (remove a ChangeMessageVisibility call)"),
    "delete_in_finally": ("domain", "delete in `finally` (the message is deleted even when the effect fails)"),
    "stale_receipt_handle": ("domain", "use an earlier receipt handle (the batch's first message's)"),
    "batch_index": ("domain", "use an earlier or later batch index (i -> i - 1, i + 1)"),
    "id_swap": ("domain", "name the message by the other id (MessageId <-> ReceiptHandle)"),
    "regenerate_id": ("domain", "a fresh deduplication id on every call"),
    "reuse_id": ("domain", "one id reused for every call (a constant)"),
    "reread_clock": ("domain", "read the clock again where an earlier reading was kept"),
    "wall_clock": ("domain", "read the wall clock (time.time()) instead of the clock given"),
    "drop_stop": ("domain", "never stop the heartbeat (remove a cancel() call)"),
    "stop_after_delete": ("domain", "stop the heartbeat only after the delete"),
    "catch_base_exception": ("domain", "catch BaseException (swallows the crash, Ctrl-C, ...)"),
    "timeout_shift": ("domain", "move a timeout or duration by +/-1 s"),
    "number": ("generic", "a number +/-1"),
    "compare": ("generic", "a comparison flipped (< <=, == !=, is/is not, in/not in)"),
    "arith": ("generic", "an arithmetic operator changed (+ -, * /, ** *, // /, += -=, += =)"),
    "boolop": ("generic", "and <-> or"),
    "negate": ("generic", "a condition negated, or its `not` removed"),
    "bool_const": ("generic", "True <-> False"),
    "string": ("generic", "a string constant changed ('x' -> 'XXxXX')"),
    "remove_statement": ("generic", "a statement removed (replaced by pass)"),
    "loop_control": ("generic", "break <-> continue"),
    "return_none": ("generic", "return None instead of the value"),
    "drop_kwarg": ("generic", "a keyword argument dropped (the callee's default instead)"),
    "min_max": ("generic", "min <-> max"),
    "drop_exception_type": ("generic", "one type dropped from an except or isinstance tuple"),
}


@dataclass
class Mutant:
    """One mutant of one solution cell.

    ``id`` is stable: ``lesson:grade_id:scope:operator:change#occurrence``. ``line`` and ``col``
    (1-based, within the cell) say where it is, for people; they are not part of the id.
    """

    lesson: str
    grade_id: str
    scope: str
    operator: str
    change: str
    occurrence: int
    line: int
    col: int
    original: str
    source: str
    notebook: str = ""

    @property
    def id(self) -> str:
        return f"{self.lesson}:{self.grade_id}:{self.scope}:{self.operator}:{self.change}#{self.occurrence}"

    @property
    def kind(self) -> str:
        return OPERATORS[self.operator][0]

    def diff(self, context: int = 1) -> str:
        """A unified diff of the cell, original to mutant."""
        lines = difflib.unified_diff(self.original.splitlines(), self.source.splitlines(),
                                     f"{self.grade_id} (reference)", f"{self.grade_id} (mutant)",
                                     n=context, lineterm="")
        return "\n".join(lines)


@dataclass
class _Edit:
    """A candidate mutation before it is checked: the operator, what changed, where, the new text."""

    operator: str
    change: str
    node: ast.AST
    source: str


# -- text positions ---------------------------------------------------------------------------------
class _Text:
    """A cell's text with ast positions (1-based lines, UTF-8 byte columns) turned into offsets."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def replace(self, node: ast.AST, new: str) -> str:
        start, end = self.span(node)
        return self.text[:start] + new + self.text[end:]

    def replace_spans(self, spans: list[tuple[int, int, str]]) -> str:
        text = self.text
        for start, end, new in sorted(spans, reverse=True):
            text = text[:start] + new + text[end:]
        return text

    def stmt_lines(self, stmt: ast.stmt) -> tuple[int, int] | None:
        """0-based first and last line of a statement that owns its lines (nothing else on them)."""
        first, last = stmt.lineno - 1, stmt.end_lineno - 1
        head = self.lines[first][:len(self.lines[first].encode("utf-8")[:stmt.col_offset].decode("utf-8", "ignore"))]
        if head.strip():
            return None
        start, end = self.span(stmt)
        tail = self.text[end:self.starts[last + 1]]
        if tail.strip() and not tail.strip().startswith("#"):
            return None
        return first, last

    @staticmethod
    def indent(line: str) -> str:
        return line[:len(line) - len(line.lstrip(" \t"))]


_OPERATOR_EXPRS = (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp, ast.IfExp, ast.Lambda, ast.NamedExpr)


def _precedence(node: ast.AST) -> tuple:
    """Nodes of one precedence level (a comparison for a comparison, + for -) need no new parentheses."""
    if isinstance(node, ast.BinOp):
        levels = ((ast.Add, ast.Sub), (ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.MatMult), (ast.Pow,))
        return ("binop", next((i for i, ops in enumerate(levels) if isinstance(node.op, ops)), -1))
    if isinstance(node, ast.BoolOp):
        return ("boolop",)   # and/or are associative: (a or b) or c == a or b or c
    return (type(node).__name__,)


def _reindent(lines: list[str], old: str, new: str) -> list[str]:
    out = []
    for line in lines:
        if line.startswith(old):
            out.append(new + line[len(old):])
        else:
            out.append(line)
    return out


def _ensure_newline(lines: list[str]) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in lines]


# -- names of things --------------------------------------------------------------------------------
def _call_name(node: ast.AST) -> str | None:
    """``f`` for ``f(...)``, ``m`` for ``x.y.m(...)``; None for anything else."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _calls(node: ast.AST, names: frozenset[str]) -> bool:
    """Does ``node`` call one of ``names`` (not counting calls inside nested defs and lambdas)?"""
    for sub in _walk_shallow(node):
        if _call_name(sub) in names:
            return True
    return False


def _walk_shallow(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not enter function or class definitions and lambdas below ``node``."""
    todo = [node]
    while todo:
        cur = todo.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            todo.append(child)


def _is_clock_read(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or node.args or node.keywords:
        return False
    name = _call_name(node)
    if name not in CLOCK_READS:
        return False
    # `time()` alone, `now()` (a clock passed as a function), `clock.now()`, `time.time()`
    return True


def _reads_time_module(node: ast.Call) -> bool:
    """``time.time()``, ``time.monotonic()``: already the wall clock."""
    func = node.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "time"


def _short(text: str, limit: int = 60) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _first_line(stmt: ast.stmt) -> str:
    text = ast.unparse(stmt).splitlines()[0] if not isinstance(stmt, ast.expr) else ast.unparse(stmt)
    return _short(text)


def _unparse(node: ast.AST) -> str:
    return _short(ast.unparse(node))


# -- the walk -------------------------------------------------------------------------------------
_BODIES = ("body", "orelse", "finalbody")


class _Context:
    """Where the walk is: the enclosing function names, parents, and for-loop targets in scope."""

    def __init__(self, tree: ast.Module):
        self.parents: dict[ast.AST, ast.AST] = {}
        self.scope: dict[ast.AST, str] = {}
        self._index(tree, None, "<cell>")

    def _index(self, node: ast.AST, parent: ast.AST | None, scope: str) -> None:
        if parent is not None:
            self.parents[node] = parent
        self.scope[node] = scope
        inner = scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = node.name if scope == "<cell>" else f"{scope}.{node.name}"
        elif isinstance(node, ast.Lambda):
            inner = f"{scope}.<lambda>"
        for child in ast.iter_child_nodes(node):
            self._index(child, node, inner)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def block_of(self, stmt: ast.stmt) -> tuple[ast.AST, str, list[ast.stmt]] | None:
        """The statement list that holds ``stmt``: (owner, field, list)."""
        parent = self.parents.get(stmt)
        if parent is None:
            return None
        for name in ("body", "orelse", "finalbody", "handlers"):
            seq = getattr(parent, name, None)
            if isinstance(seq, list) and stmt in seq:
                return parent, name, seq
        return None

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        cur = node
        while cur is not None and not isinstance(cur, ast.stmt):
            cur = self.parents.get(cur)
        return cur

    def function_of(self, node: ast.AST) -> ast.AST | None:
        for a in self.ancestors(node):
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return a
        return None


def _docstrings(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0]))
                out.add(id(body[0].value))
    return out


def _in_fstring(ctx: _Context, node: ast.AST) -> bool:
    return any(isinstance(a, ast.JoinedStr) for a in ctx.ancestors(node))


class _Generator:
    """Makes the candidate edits of one cell; :func:`mutate` checks and names them."""

    def __init__(self, text: str, region: set[int] | None):
        self.t = _Text(text)
        self.tree = ast.parse(text)
        self.ctx = _Context(self.tree)
        self.region = region
        self.docs = _docstrings(self.tree)
        self.statements = [n for n in ast.walk(self.tree) if isinstance(n, ast.stmt)]
        self.statements.sort(key=lambda n: (n.lineno, n.col_offset))

    # -- helpers ------------------------------------------------------------------------------
    def inside(self, *nodes: ast.AST) -> bool:
        if self.region is None:
            return True
        return all(set(range(n.lineno, n.end_lineno + 1)) <= self.region for n in nodes)

    def expr_nodes(self) -> list[ast.AST]:
        nodes = [n for n in ast.walk(self.tree) if hasattr(n, "lineno") and not isinstance(n, ast.stmt)]
        nodes.sort(key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))
        return [n for n in nodes if self.inside(n) and id(n) not in self.docs]

    def replace(self, operator: str, node: ast.AST, new_node: ast.AST | str, change: str | None = None,
                *, wrap: bool | None = None) -> _Edit:
        """Replace ``node``'s text with ``new_node`` (a node, unparsed, or text).

        An operator expression put where an operand was gets parentheses, so that precedence cannot
        change the meaning (``x and not (a or b)`` never becomes ``x and a or b``). ``wrap`` says
        whether a text replacement is such an expression.
        """
        new = new_node if isinstance(new_node, str) else ast.unparse(new_node)
        if wrap is None:
            wrap = isinstance(new_node, _OPERATOR_EXPRS) and _precedence(new_node) != _precedence(node)
        if wrap and self._operand(node):
            new = f"({new})"
        change = change or f"{_unparse(node)} -> {_short(new)}"
        return _Edit(operator, change, node, self.t.replace(node, new))

    def where(self, node: ast.AST) -> str:
        """The code around a small node (a number, a string), so that its mutant's id says which one it is."""
        parent = self.ctx.parents.get(node)
        while isinstance(parent, (ast.UnaryOp, ast.Tuple, ast.List)) and parent in self.ctx.parents:
            parent = self.ctx.parents[parent]
        if parent is None:
            return "?"
        text = _first_line(parent) if isinstance(parent, ast.stmt) else ast.unparse(parent)
        text = re.sub(r"\s+", " ", text)
        if isinstance(parent, ast.Subscript) and len(text) > 50:
            return "..." + text[-47:]    # x[...][0]: the index is at the end
        return _short(text, 50)

    def _operand(self, node: ast.AST) -> bool:
        """Is ``node`` an operand of an operator (where a lower-precedence expression needs parentheses)?"""
        parent = self.ctx.parents.get(node)
        if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Await, ast.Starred, ast.IfExp)):
            return True
        if isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node:
            return True
        return False

    def remove(self, operator: str, stmt: ast.stmt, change: str | None = None) -> _Edit | None:
        lines = self.t.stmt_lines(stmt)
        if lines is None:
            return None
        first, last = lines
        indent = _Text.indent(self.t.lines[first])
        new_lines = list(self.t.lines)
        new_lines[first:last + 1] = [f"{indent}pass\n"]
        return _Edit(operator, change or f"del {_first_line(stmt)}", stmt, "".join(new_lines))

    def move(self, operator: str, stmt: ast.stmt, target: ast.stmt, *, after: bool, change: str) -> _Edit | None:
        """Move ``stmt``'s lines before (or after) ``target``'s, at ``target``'s indentation."""
        src, dst = self.t.stmt_lines(stmt), self.t.stmt_lines(target)
        if src is None or dst is None:
            return None
        first, last = src
        block = _ensure_newline(self.t.lines[first:last + 1])
        old_indent = _Text.indent(self.t.lines[first])
        new_indent = _Text.indent(self.t.lines[dst[0]])
        block = _reindent(block, old_indent, new_indent)
        at = dst[1] + 1 if after else dst[0]
        out: list[str] = []
        lines = _ensure_newline(self.t.lines)
        removed = set(range(first, last + 1))
        # A block left empty by the move keeps a `pass`.
        owner = self.ctx.block_of(stmt)
        keep_pass = owner is not None and len(owner[2]) == 1
        for i in range(len(lines) + 1):
            if i == at:
                out.extend(block)
            if i == len(lines):
                break
            if i in removed:
                if keep_pass and i == first:
                    out.append(f"{old_indent}pass\n")
                continue
            out.append(lines[i])
        return _Edit(operator, change, stmt, "".join(out))

    # -- domain ---------------------------------------------------------------------------------
    def deletes(self) -> list[ast.stmt]:
        return [s for s in self.statements if isinstance(s, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign))
                and _calls(s, DELETE_CALLS) and self.inside(s)]

    def swap_effect_delete(self) -> Iterator[_Edit]:
        for delete in self.deletes():
            cur: ast.stmt | None = delete
            while cur is not None and not isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = self.ctx.block_of(cur)
                if owner is None:
                    break
                seq = owner[2]
                before = seq[:seq.index(cur)]
                effect = next((s for s in reversed(before) if _calls(s, EFFECT_CALLS)), None)
                if effect is not None:
                    if self.inside(cur, effect):
                        edit = self.move("swap_effect_delete", cur, effect, after=False,
                                         change=f"{_first_line(cur)} before {_first_line(effect)}")
                        if edit:
                            yield edit
                    break
                parent = self.ctx.parents.get(cur)
                cur = parent if isinstance(parent, ast.stmt) else None

    def drop_delete(self) -> Iterator[_Edit]:
        for delete in self.deletes():
            edit = self.remove("drop_delete", delete)
            if edit:
                yield edit

    def drop_commit(self) -> Iterator[_Edit]:
        for s in self.statements:
            if isinstance(s, ast.Expr) and _call_name(s.value) in COMMIT_CALLS and self.inside(s):
                edit = self.remove("drop_commit", s)
                if edit:
                    yield edit

    def drop_visibility_change(self) -> Iterator[_Edit]:
        for s in self.statements:
            if isinstance(s, (ast.Expr, ast.Assign)) and _calls(s, VISIBILITY_CALLS) and self.inside(s):
                edit = self.remove("drop_visibility_change", s)
                if edit:
                    yield edit

    def drop_transaction(self) -> Iterator[_Edit]:
        for s in self.statements:
            if not isinstance(s, ast.With) or not self.inside(s) or len(s.items) != 1:
                continue
            item = s.items[0]
            if item.optional_vars is not None or not isinstance(item.context_expr, (ast.Name, ast.Attribute)):
                continue  # `with db:` (a connection as its own transaction), not `with open(...) as f`
            start = self.t.offset(s.lineno, s.col_offset)
            colon = self.t.offset(item.context_expr.end_lineno, item.context_expr.end_col_offset)
            head_end = self.t.text.index(":", colon) + 1
            new = self.t.text[:start] + "if True:" + self.t.text[head_end:]
            yield _Edit("drop_transaction", f"with {_unparse(item.context_expr)}: -> if True:", s, new)

    def delete_in_finally(self) -> Iterator[_Edit]:
        for delete in self.deletes():
            owner = self.ctx.block_of(delete)
            if owner is None:
                continue
            parent, name, seq = owner
            target: ast.Try | None = None
            if isinstance(parent, ast.Try) and name == "body":
                target = parent  # the delete inside the try: move it to its finally
            else:
                target = next((s for s in reversed(seq[:seq.index(delete)]) if isinstance(s, ast.Try)), None)
            if target is None or not self.inside(target, delete):
                continue
            edit = self._into_finally(delete, target)
            if edit:
                yield edit

    def _into_finally(self, stmt: ast.stmt, try_node: ast.Try) -> _Edit | None:
        src = self.t.stmt_lines(stmt)
        tr = self.t.stmt_lines(try_node)
        if src is None or tr is None:
            return None
        lines = _ensure_newline(self.t.lines)
        first, last = src
        old_indent = _Text.indent(lines[first])
        try_indent = _Text.indent(lines[tr[0]])
        body_indent = _Text.indent(lines[try_node.body[0].lineno - 1])
        block = _reindent(lines[first:last + 1], old_indent, body_indent)
        if try_node.finalbody:
            at = self.t.stmt_lines(try_node.finalbody[-1])
            if at is None:
                return None
            insert_at, insert = at[1] + 1, block
        else:
            insert_at, insert = tr[1] + 1, [f"{try_indent}finally:\n", *block]
        owner = self.ctx.block_of(stmt)
        keep_pass = owner is not None and len(owner[2]) == 1
        out: list[str] = []
        for i in range(len(lines) + 1):
            if i == insert_at:
                out.extend(insert)
            if i == len(lines):
                break
            if first <= i <= last:
                if keep_pass and i == first:
                    out.append(f"{old_indent}pass\n")
                continue
            out.append(lines[i])
        return _Edit("delete_in_finally", f"{_first_line(stmt)} in finally", stmt, "".join(out))

    def _loop_targets(self, node: ast.AST) -> dict[str, ast.AST]:
        """Names bound by the enclosing for loops and comprehensions -> the sequence they walk.

        ``for m in xs`` and ``for i, m in enumerate(xs)`` both bind ``m`` to an element of ``xs``.
        """
        out: dict[str, ast.AST] = {}
        loops: list[ast.AST] = []
        for a in self.ctx.ancestors(node):
            if isinstance(a, ast.For):
                loops.append(a)
            elif isinstance(a, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                loops.extend(a.generators)
            elif isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                break
        for loop in loops:
            target, seq = loop.target, loop.iter
            if isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(seq, ast.Call) \
                    and _call_name(seq) == "enumerate" and seq.args:
                target, seq = target.elts[1], seq.args[0]
            if isinstance(target, ast.Name) and not (isinstance(seq, ast.Call) and _call_name(seq) in ("zip", "range")):
                out.setdefault(target.id, seq)
        return out

    def stale_receipt_handle(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                    and node.slice.value == "ReceiptHandle" and isinstance(node.value, ast.Name)):
                continue
            seq = self._loop_targets(node).get(node.value.id)
            if seq is None:
                continue
            text = ast.unparse(seq)
            simple = isinstance(seq, (ast.Name, ast.Attribute, ast.Subscript, ast.Call))
            first = f"{text}[0]" if simple else f"({text})[0]"
            yield self.replace("stale_receipt_handle", node.value, first,
                               change=f"{_unparse(node)} -> {_short(first)}['ReceiptHandle']", wrap=False)

    def batch_index(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if not isinstance(node, ast.Subscript):
                continue
            sl = node.slice
            bounds = [sl] if isinstance(sl, ast.Name) else []
            if isinstance(sl, ast.Slice):
                bounds = [b for b in (sl.lower, sl.upper) if isinstance(b, ast.Name)]
            for b in bounds:
                for sign in ("-", "+"):
                    new = f"{b.id} {sign} 1"
                    yield self.replace("batch_index", b, new, change=f"{_unparse(node)}: {b.id} -> {new}", wrap=True)
        # the Id of a batch entry built from an index: str(i) -> str(i - 1)
        for node in self.expr_nodes():
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and k.value == "Id" and isinstance(v, ast.Call) \
                            and _call_name(v) == "str" and len(v.args) == 1 and isinstance(v.args[0], ast.Name):
                        name = v.args[0].id
                        for sign in ("-", "+"):
                            yield self.replace("batch_index", v.args[0], f"{name} {sign} 1",
                                               change=f"'Id': str({name}) -> str({name} {sign} 1)", wrap=True)

    def id_swap(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ID_KEYS \
                    and not _in_fstring(self.ctx, node):
                yield self.replace("id_swap", node, repr(ID_KEYS[node.value]),
                                   change=f"{self.where(node)}: {node.value!r} -> {ID_KEYS[node.value]!r}")

    def dedup_ids(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.keyword) and node.arg in ("MessageDeduplicationId", "MessageGroupId") \
                    and self.inside(node.value):
                if node.arg == "MessageDeduplicationId":
                    yield self.replace("regenerate_id", node.value, "__import__('uuid').uuid4().hex",
                                       change=f"{node.arg}={_unparse(node.value)} -> uuid4().hex")
                yield self.replace("reuse_id", node.value, "'same-id'",
                                   change=f"{node.arg}={_unparse(node.value)} -> 'same-id'")
            elif isinstance(node, ast.Call) and _call_name(node) in ("uuid4", "uuid1") and not node.args:
                yield self.replace("reuse_id", node, "__import__('uuid').UUID(int=0)",
                                   change=f"{_unparse(node)} -> UUID(int=0)")

    def clocks(self) -> Iterator[_Edit]:
        # read the clock again: a kept reading replaced by its expression, re-evaluated where it is used
        kept: dict[str, tuple[ast.Assign, ast.AST]] = {}
        for s in self.statements:
            if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
                    and any(_is_clock_read(n) for n in _walk_shallow(s.value)):
                kept[s.targets[0].id] = (s, s.value)
        for node in self.expr_nodes():
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in kept:
                assign, value = kept[node.id]
                if node.lineno <= assign.end_lineno or not self._later(assign, node):
                    continue
                yield self.replace("reread_clock", node, f"({ast.unparse(value)})",
                                   change=f"{node.id} -> ({_unparse(value)}) at its use")
            if _is_clock_read(node) and not _reads_time_module(node):
                yield self.replace("wall_clock", node, "__import__('time').time()",
                                   change=f"{_unparse(node)} -> time.time()")

    def _later(self, assign: ast.stmt, use: ast.AST) -> bool:
        """Is ``use`` evaluated later than ``assign`` (a callback defined after it, or a loop it is not in)?

        Inside the same straight-line code the clock has not moved, so re-reading it changes nothing.
        """
        f_assign, f_use = self.ctx.function_of(assign), self.ctx.function_of(use)
        if f_use is not f_assign:
            return f_assign is None or f_assign in set(self.ctx.ancestors(f_use))
        loops = [a for a in self.ctx.ancestors(use) if isinstance(a, (ast.For, ast.While))]
        return any(loop not in set(self.ctx.ancestors(assign)) for loop in loops)

    def stops(self) -> Iterator[_Edit]:
        stops = [s for s in self.statements if isinstance(s, ast.Expr) and _call_name(s.value) in STOP_CALLS
                 and self.inside(s)]
        for s in stops:
            edit = self.remove("drop_stop", s)
            if edit:
                yield edit
        for s in stops:
            func = self.ctx.function_of(s)
            for d in self.deletes():
                if self.ctx.function_of(d) is func and d.lineno > s.end_lineno:
                    edit = self.move("stop_after_delete", s, d, after=True,
                                     change=f"{_first_line(s)} after {_first_line(d)}")
                    if edit:
                        yield edit

    def catch_base(self) -> Iterator[_Edit]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ExceptHandler) and self.inside(node) and node.type is not None:
                if isinstance(node.type, ast.Name) and node.type.id != "BaseException":
                    yield self.replace("catch_base_exception", node.type, "BaseException")

    def timeouts(self) -> Iterator[_Edit]:
        targets: list[ast.AST] = []
        for node in self.expr_nodes():
            if isinstance(node, ast.keyword) and node.arg and DURATION_KEYWORDS.search(node.arg):
                targets.append(node.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in DURATION_CALLS and node.args:
                targets.append(node.args[0])
            elif isinstance(node, ast.Compare) and len(node.ops) == 1:
                # `left <= timeout`, `... < :now`: the boundary of a duration moved by a second
                for side in (node.left, node.comparators[0]):
                    if isinstance(side, ast.Name) and DURATION_KEYWORDS.search(side.id):
                        targets.append(side)
        seen = set()
        for value in targets:
            if id(value) in seen or isinstance(value, ast.Constant) or not self.inside(value):
                continue  # a literal is the number operator's
            seen.add(id(value))
            for sign in ("+", "-"):
                new = f"{ast.unparse(value)} {sign} 1"
                yield self.replace("timeout_shift", value, new, change=f"{_unparse(value)} -> {_short(new)}",
                                   wrap=True)

    # -- generic --------------------------------------------------------------------------------
    def numbers(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.Constant) and type(node.value) in (int, float) and not _in_fstring(self.ctx, node):
                for delta in (1, -1):
                    value = node.value + delta
                    new = repr(value)
                    if value < 0:
                        new = f"({new})"
                    yield self.replace("number", node, new, change=f"{self.where(node)}: {node.value!r} -> {value!r}",
                                       wrap=False)

    def strings(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and not _in_fstring(self.ctx, node):
                yield self.replace("string", node, repr(f"XX{node.value}XX"),
                                   change=f"{self.where(node)}: {_short(repr(node.value), 40)} -> 'XX...XX'")

    _CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
    _BIN = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
            ast.FloorDiv: [ast.Div], ast.Pow: [ast.Mult], ast.Mod: [ast.Div]}

    def compares(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.Compare):
                for i, op in enumerate(node.ops):
                    new = copy.deepcopy(node)
                    new.ops[i] = self._CMP[type(op)]()
                    yield self.replace("compare", node, new)

    def arith(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.BinOp) and type(node.op) in self._BIN:
                if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                    continue  # '%s' % x is formatting
                for op in self._BIN[type(node.op)]:
                    new = copy.deepcopy(node)
                    new.op = op()
                    yield self.replace("arith", node, new)
        for s in self.statements:
            if isinstance(s, ast.AugAssign) and self.inside(s) and type(s.op) in self._BIN:
                for op in self._BIN[type(s.op)]:
                    new = copy.deepcopy(s)
                    new.op = op()
                    yield self._replace_stmt("arith", s, ast.unparse(new))
                plain = ast.Assign(targets=[s.target], value=s.value, lineno=0)
                yield self._replace_stmt("arith", s, ast.unparse(plain))

    def _replace_stmt(self, operator: str, stmt: ast.stmt, new: str) -> _Edit:
        return _Edit(operator, f"{_first_line(stmt)} -> {_short(new)}", stmt, self.t.replace(stmt, new))

    def boolops(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.BoolOp):
                new = copy.deepcopy(node)
                new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
                yield self.replace("boolop", node, new)

    def negations(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                yield self.replace("negate", node, node.operand)
        for s in self.statements:
            if isinstance(s, (ast.If, ast.While)) and self.inside(s.test):
                if isinstance(s.test, ast.UnaryOp) and isinstance(s.test.op, ast.Not):
                    continue
                if isinstance(s.test, ast.Constant):
                    continue  # `while True:` negated is a loop that never runs: remove_statement's job
                yield self.replace("negate", s.test, f"not ({ast.unparse(s.test)})", wrap=True)
        for node in self.expr_nodes():
            if isinstance(node, ast.IfExp):
                yield self.replace("negate", node.test, f"not ({ast.unparse(node.test)})", wrap=True)

    def bools(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                yield self.replace("bool_const", node, repr(not node.value),
                                   change=f"{self.where(node)}: {node.value!r} -> {not node.value!r}")

    def statements_removed(self) -> Iterator[_Edit]:
        for s in self.statements:
            if not self.inside(s) or id(s) in self.docs:
                continue
            targets = s.targets if isinstance(s, ast.Assign) else [s.target] if isinstance(s, ast.AnnAssign) else []
            if isinstance(s, (ast.Expr, ast.AugAssign, ast.Raise, ast.Delete, ast.Continue, ast.Break)) \
                    or (targets and not all(isinstance(t, ast.Name) for t in targets)):
                edit = self.remove("remove_statement", s)
                if edit:
                    yield edit

    def loop_controls(self) -> Iterator[_Edit]:
        for s in self.statements:
            if isinstance(s, ast.Break) and self.inside(s):
                yield self._replace_stmt("loop_control", s, "continue")
            elif isinstance(s, ast.Continue) and self.inside(s):
                yield self._replace_stmt("loop_control", s, "break")

    def returns(self) -> Iterator[_Edit]:
        for s in self.statements:
            if isinstance(s, ast.Return) and s.value is not None and self.inside(s):
                if isinstance(s.value, ast.Constant) and (s.value.value is None or isinstance(s.value.value, bool)):
                    continue
                yield self._replace_stmt("return_none", s, "return None")

    def kwargs(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if not isinstance(node, ast.Call):
                continue
            parts = sorted([*node.args, *node.keywords], key=lambda n: (n.lineno, n.col_offset))
            for i, kw in enumerate(parts):
                if not isinstance(kw, ast.keyword) or kw.arg is None or not self.inside(kw):
                    continue
                if i + 1 < len(parts):
                    # up to the next argument, or (when it starts a new line) to the end of this line
                    start = self.t.offset(kw.lineno, kw.col_offset)
                    end = self.t.offset(parts[i + 1].lineno, parts[i + 1].col_offset)
                    if parts[i + 1].lineno > kw.end_lineno:
                        comma = self.t.text.index(",", self.t.offset(kw.end_lineno, kw.end_col_offset)) + 1
                        line_end = self.t.text.index("\n", comma) if "\n" in self.t.text[comma:] else len(self.t.text)
                        end = comma if self.t.text[comma:line_end].strip() else line_end
                        if not self.t.text[self.t.starts[kw.lineno - 1]:start].strip():
                            start, end = self.t.starts[kw.lineno - 1], line_end + 1   # the whole line goes
                        elif end == line_end:
                            start = len(self.t.text[:start].rstrip(" "))            # no trailing blank
                elif i > 0:
                    start = self.t.offset(parts[i - 1].end_lineno, parts[i - 1].end_col_offset)
                    end = self.t.offset(kw.end_lineno, kw.end_col_offset)
                else:
                    start, end = self.t.span(kw)
                new = self.t.text[:start] + self.t.text[end:]
                yield _Edit("drop_kwarg", f"{_short(_call_name(node) or '?', 30)}({kw.arg}={_unparse(kw.value)}) -> ()",
                            kw, new)

    def min_max(self) -> Iterator[_Edit]:
        for node in self.expr_nodes():
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
                other = "max" if node.func.id == "min" else "min"
                yield self.replace("min_max", node.func, other, change=f"{_unparse(node)}: {node.func.id} -> {other}")

    def exception_types(self) -> Iterator[_Edit]:
        tuples = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
                tuples.append(node.type)
            if isinstance(node, ast.Call) and _call_name(node) == "isinstance" and len(node.args) == 2 \
                    and isinstance(node.args[1], ast.Tuple):
                tuples.append(node.args[1])
        for tup in tuples:
            if not self.inside(tup) or len(tup.elts) < 2:
                continue
            for i, elt in enumerate(tup.elts):
                rest = [e for j, e in enumerate(tup.elts) if j != i]
                new = ast.unparse(rest[0]) if len(rest) == 1 else "(" + ", ".join(ast.unparse(e) for e in rest) + ")"
                yield self.replace("drop_exception_type", tup, new, change=f"{_unparse(tup)} without {_unparse(elt)}")

    def all(self) -> Iterator[_Edit]:
        makers: list[Callable[[], Iterator[_Edit]]] = [
            self.swap_effect_delete, self.drop_delete, self.drop_commit, self.drop_visibility_change,
            self.drop_transaction,
            self.delete_in_finally, self.stale_receipt_handle, self.batch_index, self.id_swap, self.dedup_ids,
            self.clocks, self.stops, self.catch_base, self.timeouts,
            self.numbers, self.compares, self.arith, self.boolops, self.negations, self.bools, self.strings,
            self.statements_removed, self.loop_controls, self.returns, self.kwargs, self.min_max,
            self.exception_types,
        ]
        for make in makers:
            yield from make()


def solution_region(source: str) -> set[int] | None:
    """1-based lines between nbgrader's ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (None: no markers)."""
    lines = source.splitlines()
    region: set[int] = set()
    inside = False
    found = False
    for i, line in enumerate(lines, 1):
        mark = line.strip()
        if mark == "### BEGIN SOLUTION":
            inside, found = True, True
        elif mark == "### END SOLUTION":
            inside = False
        elif inside:
            region.add(i)
    return region if found else None


def _normal(tree: ast.AST) -> str:
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def mutate(source: str, *, lesson: str = "", grade_id: str = "", notebook: str = "",
           region: set[int] | None | str = "markers") -> list[Mutant]:
    """Every mutant of ``source``, in a fixed order (line, column, operator).

    ``region`` limits mutations to those lines (1-based); the default takes nbgrader's solution
    markers (the whole cell when it has none). A mutant is kept only if it compiles and differs
    from the original as code (not just in spelling); two operators that make the same code keep
    the first operator's name (domain operators come first).
    """
    if region == "markers":
        region = solution_region(source)
    gen = _Generator(source, region)  # type: ignore[arg-type]
    original = _normal(gen.tree)
    seen = {original}
    kept: list[tuple[_Edit, int, int]] = []
    for edit in gen.all():
        try:
            tree = ast.parse(edit.source)
            compile(tree, "<mutant>", "exec")
        except SyntaxError:
            continue
        norm = _normal(tree)
        if norm in seen:
            continue
        seen.add(norm)
        kept.append((edit, edit.node.lineno, edit.node.col_offset))
    order = list(OPERATORS)
    kept.sort(key=lambda k: (k[1], k[2], order.index(k[0].operator)))
    counts: dict[tuple[str, str, str], int] = {}
    out = []
    for edit, line, col in kept:
        scope = gen.ctx.scope.get(edit.node, "<cell>")
        key = (scope, edit.operator, edit.change)
        counts[key] = counts.get(key, 0) + 1
        out.append(Mutant(lesson=lesson, grade_id=grade_id, scope=scope, operator=edit.operator,
                          change=edit.change, occurrence=counts[key], line=line,
                          col=_col(source, line, col) + 1, original=source, source=edit.source,
                          notebook=notebook))
    return out


def _col(source: str, line: int, col_bytes: int) -> int:
    text = source.splitlines()[line - 1] if line - 1 < len(source.splitlines()) else ""
    return len(text.encode("utf-8")[:col_bytes].decode("utf-8", "ignore"))
