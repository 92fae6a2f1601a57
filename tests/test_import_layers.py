"""
The package's import graph, module by module (every ``import`` statement, also those inside
functions): no circle between modules, and the directions of the layout (docs/method.md):

    utils, density_channels  <-  {modeling, data} (neither imports the other)
                             <-  augment, distill, evaluation  <-  engine  <-  tools

and no method package imports the embedded-data generator (``data.synthetic_rpc``).
"""
import ast
import os

import pytest

import dpsnet_d2

PACKAGE = "dpsnet_d2"
ROOT = os.path.dirname(dpsnet_d2.__file__)

# first component below dpsnet_d2 -> the first components it must not import
FORBIDDEN = {
    "utils": {"config", "data", "modeling", "augment", "distill", "evaluation", "engine",
              "receipt", "density_channels"},
    "density_channels": {"data", "modeling", "augment", "distill", "evaluation", "engine"},
    "modeling": {"data", "augment", "distill", "evaluation", "engine", "receipt"},
    "data": {"modeling", "augment", "distill", "evaluation", "engine", "receipt"},
    "augment": {"distill", "evaluation", "engine", "receipt"},
    "distill": {"augment", "engine", "receipt"},
    "evaluation": {"augment", "distill", "engine", "receipt"},
    "engine": {"receipt"},
}  # fmt: skip
# the embedded stand-in for RPC: only data/synthetic_rpc itself may import it
GENERATOR = f"{PACKAGE}.data.synthetic_rpc"


def _modules():
    """{module name: file path} of every module of the package."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(ROOT))[:-3]
                parts = rel.split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = os.path.join(folder, f)
    return found


def _imports(name, path, modules):
    """The package's modules that module ``name`` (file ``path``) imports, as a set of names."""
    tree = ast.parse(open(path).read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # "a.b.c" of a name c inside module a.b -> a.b
                t = t.rpartition(".")[0]
            if t and t.startswith(PACKAGE + ".") and t != name:
                out.add(t)
    return out


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_walk_sees_the_package(graph):
    assert len(graph) > 50
    assert f"{PACKAGE}.data.density_targets" in graph[f"{PACKAGE}.data"]
    assert f"{PACKAGE}.density_channels" in graph[f"{PACKAGE}.data.density_targets"]


def test_no_forbidden_direction(graph):
    bad = []
    for name, targets in graph.items():
        for t in targets:
            if _layer(t) in FORBIDDEN.get(_layer(name), ()):
                bad.append(f"{name} -> {t}")
            if t.startswith(GENERATOR) and not name.startswith(GENERATOR):
                bad.append(f"{name} -> {t} (the embedded-data generator)")
    assert not bad, "forbidden imports:\n" + "\n".join(sorted(bad))


def _find_cycle(graph):
    """One import circle as a list of module names, or None (depth-first search)."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for t in sorted(graph.get(n, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_circle(graph):
    # a package's __init__ imports its modules; a module importing names from its own
    # package's __init__ would close a circle, and is one
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checks_catch_a_circle_and_a_wrong_direction():
    toy = {"dpsnet_d2.a": {"dpsnet_d2.b"}, "dpsnet_d2.b": {"dpsnet_d2.c"},
           "dpsnet_d2.c": {"dpsnet_d2.a"}}
    assert _find_cycle(toy) == ["dpsnet_d2.a", "dpsnet_d2.b", "dpsnet_d2.c", "dpsnet_d2.a"]
    assert _find_cycle({"dpsnet_d2.a": {"dpsnet_d2.b"}, "dpsnet_d2.b": set()}) is None
    assert "data" in FORBIDDEN["modeling"] and "modeling" in FORBIDDEN["data"]
