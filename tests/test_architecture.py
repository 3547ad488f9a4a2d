"""The layering of ARCHITECTURE.md holds: the import-linter contract, no import cycles, reasoned local imports.

The contract lives in ``.importlinter`` at the root.  These tests run it on the tree, prove that it
catches a planted upward import and a planted import of the flat skin, keep its list of flat modules
complete, and check two rules import-linter does not: no cycle among the project's modules, and a
function-local import of a project module only where a comment says why it is not at the top.
"""
from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / ".importlinter"
PACKAGES_ROOT = ROOT / "modules"


def lint_imports(root: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())", "--config", str(CONTRACT), "--no-cache", *extra]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_layer_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("planted_file", "source", "contract"), [
    ("modules/models/planted_upward.py", "from modules.processing import processed\n", "layers below it"),
    ("modules/core/planted_skin.py", "from modules import shared\n", "flat compatibility modules"),
    ("modules/prompting/planted_sideways.py", "import modules.sampling.samplers\n", "layers below it"),
    ("modules/training/planted_upward.py", "from modules.runtime import jobs\n", "layers below it"),
    ("modules/training/planted_sideways.py", "from modules.builtin_scripts import xyz_plot\n", "layers below it"),
])
def test_the_contract_fails_on_a_planted_violation(tmp_path, planted_file, source, contract):
    copy = tmp_path / "tree"
    shutil.copytree(PACKAGES_ROOT, copy / "modules", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / planted_file).write_text(source)
    result = lint_imports(copy)
    assert result.returncode != 0, result.stdout[-3000:]
    planted_module = planted_file.removesuffix(".py").replace("/", ".")
    assert planted_module in result.stdout
    assert contract in result.stdout


def flat_modules() -> set[str]:
    return {f"modules.{path.stem}" for path in PACKAGES_ROOT.glob("*.py") if path.stem != "__init__"}


def test_every_flat_module_is_in_the_skin_contract():
    parser = configparser.ConfigParser()
    parser.read(CONTRACT)
    forbidden = set(parser["importlinter:contract:skin"]["forbidden_modules"].split())
    missing = flat_modules() - forbidden
    assert not missing, f"add these flat modules to forbidden_modules in .importlinter: {sorted(missing)}"
    packages = {f"modules.{p.name}" for p in PACKAGES_ROOT.iterdir() if (p / "__init__.py").exists()}
    sources = set(parser["importlinter:contract:skin"]["source_modules"].split())
    unlisted = packages - sources - forbidden
    assert not unlisted, f"name these packages in .importlinter (a layer, or the skin): {sorted(unlisted)}"


def project_import_graph() -> dict[str, set[str]]:
    import grimp

    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("modules", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is a thousand modules deep in places)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_no_import_cycle_among_project_modules():
    graph = project_import_graph()
    # a package's __init__ that re-exports its children is not a cycle of design: leave the edge out
    # when the child does not import back into the package's other modules through __init__
    cycles = [c for c in strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def local_project_imports(path: Path) -> list[tuple[int, str]]:
    """Function-local imports of project modules in ``path`` that no comment explains: (line, module)."""
    source = path.read_text()
    lines = source.splitlines()
    found = []

    def explained(node: ast.stmt) -> bool:
        if "#" in lines[node.lineno - 1] or "#" in lines[node.end_lineno - 1]:
            return True
        # a comment on the line(s) just above the import, or above the block of imports it belongs to
        row = node.lineno - 2
        while row >= 0 and lines[row].strip().startswith(("from ", "import ")):
            row -= 1
        while row >= 0 and not lines[row].strip():
            row -= 1
        return row >= 0 and lines[row].strip().startswith("#")

    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "modules":
                module = node.module
            elif isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "modules" for alias in node.names):
                module = node.names[0].name
            else:
                continue
            if not explained(node):
                found.append((node.lineno, module))
    return found


def test_function_local_imports_of_project_modules_say_why():
    unexplained = []
    for path in sorted(PACKAGES_ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if len(relative.parts) == 2:  # the flat skin re-exports lazily for A1111's import order
            continue
        unexplained += [f"{relative}:{line} imports {module}" for line, module in local_project_imports(path)]
    assert not unexplained, (f"{len(unexplained)} function-local imports without a comment saying why (move them to the "
                             "top, or say which cycle or heavy import they avoid):\n" + "\n".join(unexplained))
