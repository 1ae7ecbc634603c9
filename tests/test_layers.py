"""jaxgen's layers, read from its import statements: nothing imports upward, and no cycles.

Every ``import jaxgen.x`` and ``from jaxgen.x import y`` counts, at the top of a
file or inside a function (a function-level import hides a cycle, it does not
remove it).
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "jaxgen"

# Lower layers never import higher ones (the house style's layering).
LAYERS = {
    "jaxgen.losses": 0, "jaxgen.random": 0, "jaxgen.nn": 0, "jaxgen.data": 0, "jaxgen.plot": 0,
    "jaxgen.models": 1, "jaxgen.metrics": 1, "jaxgen.inversion": 1,
    "jaxgen.objectives": 2,
    "jaxgen.train": 3,
    "jaxgen.experiment": 4, "jaxgen.sample": 4, "jaxgen.evaluate": 4, "jaxgen.translate": 4, "jaxgen.reage": 4,
}


def _modules() -> dict[str, pathlib.Path]:
  mods = {}
  for path in ROOT.rglob("*.py"):
    name = ".".join(("jaxgen", *path.relative_to(ROOT).with_suffix("").parts))
    mods[name.removesuffix(".__init__")] = path
  return mods


def _resolve(name: str, mods) -> str | None:
  parts = name.split(".")
  for i in range(len(parts), 0, -1):
    if ".".join(parts[:i]) in mods:
      return ".".join(parts[:i])
  return None


def _edges(mods) -> dict[str, set[str]]:
  edges = {}
  for name, path in mods.items():
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        targets = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        # "from pkg import submodule" depends on the submodule; "from pkg import name" on pkg.
        targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                   for a in node.names]
      else:
        continue
      for t in targets:
        if t.startswith("jaxgen") and (r := _resolve(t, mods)) and r != name:
          edges.setdefault(name, set()).add(r)
  return edges


def _unit(module: str) -> str:
  return ".".join(module.split(".")[:2])


def _cycle(edges) -> list[str] | None:
  color, stack = {}, []

  def dfs(u):
    color[u] = 1
    stack.append(u)
    for v in sorted(edges.get(u, ())):
      if color.get(v) == 1:
        return stack[stack.index(v):] + [v]
      if not color.get(v) and (c := dfs(v)):
        return c
    color[u] = 2
    stack.pop()
    return None

  for u in sorted(edges):
    if not color.get(u) and (c := dfs(u)):
      return c
  return None


def test_every_package_has_a_layer():
  units = {_unit(m) for m in _modules()} - {"jaxgen"}
  assert units <= set(LAYERS), f"give these a layer in LAYERS: {sorted(units - set(LAYERS))}"


def test_nothing_imports_upward():
  mods = _modules()
  upward = [
      f"{a} imports {b}"
      for a, targets in _edges(mods).items() for b in targets
      if _unit(a) in LAYERS and _unit(b) in LAYERS and LAYERS[_unit(b)] > LAYERS[_unit(a)]
  ]
  assert not upward, upward


@pytest.mark.parametrize("level", ["module", "package"])
def test_no_import_cycles(level):
  edges = _edges(_modules())
  if level == "package":
    grouped: dict[str, set[str]] = {}
    for a, targets in edges.items():
      grouped.setdefault(_unit(a), set()).update(_unit(b) for b in targets if _unit(b) != _unit(a))
    edges = grouped
  assert _cycle(edges) is None, " -> ".join(_cycle(edges))
