"""The one door to moto's and botocore's internals: checked versions, and no other way in.

The static tests read the package's source (nothing is imported): every import of a module of
moto or botocore outside ``src/sqslab/moto/`` must be of their public API, and no two modules of
the package may import each other, directly or round a circle, at any depth of the code (a lazy
import inside a function is still an import).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sqslab.moto as door
from sqslab import EnvironmentProblem, Lab

PKG = Path(__file__).resolve().parents[2] / "src" / "sqslab"

#: What the rest of the package may use of moto and botocore: their public API.
PUBLIC = {
    "moto": {"mock_aws", "__version__"},
    "moto.server": {"ThreadedMotoServer"},
    "botocore": {"__version__"},
    "botocore.exceptions": None,   # any exception class
    "botocore.config": {"Config"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, tuple[Path, ast.Module]]:
    return {_module_name(p): (p, ast.parse(p.read_text(), str(p))) for p in sorted(PKG.rglob("*.py"))}


def _outside_type_checking(tree: ast.AST):
    """Every node of ``tree`` except what sits under ``if TYPE_CHECKING:`` (never imported at run time)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, tree: ast.Module) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` for every import, relative ones made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _outside_type_checking(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.extend((base, alias.name, node.lineno) for alias in node.names)
    return found


def test_the_static_reader_sees_the_corrections_reach_into_moto():
    # The reader must see what it is meant to forbid, or the test below could never fail.
    name, (path, tree) = "sqslab.moto.state", _sources()["sqslab.moto.state"]
    assert ("moto.sqs.models", "sqs_backends") in {(m, n) for m, n, _ in _imports(name, path, tree)}


def test_no_module_outside_the_moto_folder_touches_moto_or_botocore_internals():
    offences = []
    for name, (path, tree) in _sources().items():
        if name == "sqslab.moto" or name.startswith("sqslab.moto."):
            continue
        for module, imported, line in _imports(name, path, tree):
            root = module.split(".")[0]
            if root not in ("moto", "botocore"):
                continue
            allowed = PUBLIC.get(module, set())
            if module not in PUBLIC or (allowed is not None and imported is not None and imported not in allowed) \
                    or (imported is None and module not in ("moto", "botocore")):
                offences.append(f"{path.relative_to(PKG.parent)}:{line}: {module}"
                                + (f" import {imported}" if imported else ""))
        for node in ast.walk(tree):  # moto.sqs.models... reached through an attribute of a public import
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in ("moto", "botocore") and node.attr not in ("__version__", "mock_aws"):
                offences.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not offences, "moto's and botocore's internals are only for sqslab/moto/:\n" + "\n".join(offences)


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    graph: dict[str, set[str]] = {name: set() for name in sources}
    for name, (path, tree) in sources.items():
        for module, imported, _ in _imports(name, path, tree):
            for target in (f"{module}.{imported}" if imported else None, module):
                if target in sources and target != name:
                    graph[name].add(target)
                    break
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    # Tarjan's strongly connected components: every component of two or more modules is a circle.
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_package_has_no_import_circles():
    graph = _graph()
    assert graph["sqslab.lab"] >= {"sqslab.effects", "sqslab.faults"}, "the graph misses the lab's imports"
    assert not _circles(graph), f"import circles: {_circles(graph)}"


# -- the guarded door ----------------------------------------------------------------------------------
def test_the_installed_versions_are_the_supported_ones():
    door.check_versions()
    assert door.installed_versions() == door.SUPPORTED


@pytest.mark.parametrize("package", sorted(door.SUPPORTED))
def test_another_version_is_refused_with_what_is_installed_what_is_supported_and_the_fix(monkeypatch, package):
    module = __import__(package)
    monkeypatch.setattr(module, "__version__", "9.9.9")
    with pytest.raises(EnvironmentProblem) as refused:
        door.check_versions()
    text = str(refused.value)
    assert f"{package} 9.9.9" in text
    assert f"{package} {door.SUPPORTED[package]}" in text
    assert "make setup" in text and f"=={door.SUPPORTED[package]}" in text


def test_a_lab_refuses_to_start_before_patching_anything_on_another_moto(monkeypatch):
    import moto

    from sqslab.moto import fixes, speed

    patched = []
    monkeypatch.setattr(fixes, "apply", lambda: patched.append("fixes") or ())
    monkeypatch.setattr(speed, "apply", lambda: patched.append("speed") or ())
    monkeypatch.setattr(moto, "__version__", "5.0.0")
    with pytest.raises(EnvironmentProblem, match=r"moto 5\.0\.0"):
        Lab().start()
    assert patched == []
