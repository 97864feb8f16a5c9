"""The shape of the imports: no cycles between modules (lazy imports inside functions count too),
and dependencies point one way (the add-on never imports the trainer; core never imports bpy/torch)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("blender_texgan", "trainer")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package modules `path` imports, anywhere in it, resolved to module names."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) - {module_name(p)} for p in files}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt.endswith("__init__") or nxt in PACKAGES or nxt.count(".") and nxt == node.rpartition(".")[0]:
                continue  # a package's __init__ is not a module of its own here
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}}) == ["a.x", "a.y", "a.z", "a.x"]


def test_dependencies_point_one_way():
    edges = graph()
    for module, targets in edges.items():
        if module.startswith("blender_texgan"):
            assert not any(t.startswith("trainer") for t in targets), module
    for path in (ROOT / "blender_texgan" / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
        assert not names & {"bpy", "torch"}, path


def test_functions_stay_short():
    """Every function of the add-on and the trainer fits on a screen (60 lines)."""
    long = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long == []


# Modules that import torch when they are imported. Everywhere else torch, and these modules, are imported
# inside the function that needs them, so the add-on's numpy engine and a first generation never load it.
TORCH_AT_TOP = {
    "blender_texgan.engine.nets.generator", "blender_texgan.engine.nets.material_translator",
    "blender_texgan.engine.nets.photo_translator", "blender_texgan.engine.nets.refine_torch",
    "blender_texgan.engine.nets.vae_encoder",
    "trainer.adam", "trainer.augment", "trainer.checkpoints", "trainer.cyclegan", "trainer.discriminator", "trainer.losses",
    "trainer.sampling", "trainer.session", "trainer.shading", "trainer.train", "trainer.translator", "trainer.vae",
}
# Imported inside functions on purpose: torch (above); Pillow, which Blender's Python may lack (the add-on says
# so in one line); `resource`, which Windows lacks; bpy; and the command lines' per-command imports (a
# `--help` or one command loads only what it runs).
LAZY_ALLOWED = {"torch", "PIL", "resource", "bpy", "importlib.util"} | TORCH_AT_TOP
LAZY_FILES = {"blender_texgan/__init__.py", "blender_texgan/__main__.py", "trainer/__main__.py"}


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names} | {
        n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and not n.level}


def test_torch_is_imported_at_the_top_only_by_the_nets_and_the_trainer():
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    assert {module_name(p) for p in files if "torch" in _top_level_imports(p)} == TORCH_AT_TOP


def test_imports_inside_functions_are_torch_or_optional():
    """A module says what it needs at its top; only torch and optional packages wait for their function."""
    known = {module_name(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    hidden = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() in LAZY_FILES:
                continue
            for fn in ast.walk(ast.parse(path.read_text())):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(fn):
                    if not isinstance(node, (ast.Import, ast.ImportFrom)):
                        continue
                    if isinstance(node, ast.Import):
                        targets = {a.name for a in node.names}
                    else:
                        targets = imports_of_node(path, node, known) or {node.module}
                    if not all(t in LAZY_ALLOWED or t.split(".")[0] in LAZY_ALLOWED for t in targets):
                        hidden.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(targets)}")
    assert hidden == []


def imports_of_node(path: Path, node: ast.ImportFrom, known: set[str]) -> set[str]:
    """The package modules one `from ... import ...` brings in (its module, or the modules it names)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    names = {f"{base}.{a.name}" for a in node.names} & known
    return names or ({base} if base in known else set())
