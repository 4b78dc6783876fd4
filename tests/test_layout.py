"""The package's layout shows the flow: each stage imports only from its own stage or lower ones."""

import ast
from pathlib import Path

LEDGER = Path(__file__).resolve().parent.parent / "ledger"
# Lowest first: readable output (formatting, message catalogues), tooling and keys, then engines, then the chain
# that writes, then what reads it.
LAYERS = ["errors", "present", "tooling", "trust", "evm", "chain", "audit", "supervision", "report", "cli"]

DATA = ["locale"]  # package data, no code: the message catalogues (ledger.present.i18n)


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def test_no_stage_imports_a_higher_one():
    upward = []
    for path in sorted(LEDGER.rglob("*.py")):
        parts = path.relative_to(LEDGER).parts
        layer = parts[0].removesuffix(".py")
        if layer not in LAYERS:
            continue
        for line, module in _imports(path):
            names = module.split(".")
            if names[0] == "ledger" and len(names) > 1 and names[1] in LAYERS \
                    and LAYERS.index(names[1]) > LAYERS.index(layer):
                upward.append(f"{path.relative_to(LEDGER)}:{line} imports {module}")
    assert upward == []


def test_every_module_belongs_to_a_stage():
    stray = [p.name for p in LEDGER.glob("*.py") if p.stem not in LAYERS and p.name != "__init__.py"]
    stray += [p.name for p in LEDGER.iterdir()
              if p.is_dir() and p.name not in LAYERS + DATA and p.name != "__pycache__"]
    assert stray == []


def test_no_relative_imports():
    """Absolute imports name the stage they reach into, so a reader sees the flow at the top of each module."""
    relative = [f"{p.relative_to(LEDGER)}:{n.lineno}" for p in LEDGER.rglob("*.py")
                for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert relative == []


def test_public_surface_resolves_lazily():
    """`ledger` names its public API; each name loads its module on first use, so `import ledger` stays cheap."""
    import subprocess
    import sys

    import ledger

    assert all(getattr(ledger, name) is not None for name in ledger.__all__)
    cold = subprocess.run([sys.executable, "-c", "import ledger, sys; print('eth' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert cold.stdout.strip() == "False"


def test_no_import_cycles():
    """Module-level imports form no cycle (a lazy import inside a function would hide one: there is none
    across stages, test_no_stage_imports_a_higher_one checks function bodies too)."""
    graph = {}
    for path in LEDGER.rglob("*.py"):
        name = ".".join(("ledger",) + path.relative_to(LEDGER).with_suffix("").parts).removesuffix(".__init__")
        body = ast.parse(path.read_text(encoding="utf-8")).body
        graph[name] = {n.module for n in body if isinstance(n, ast.ImportFrom) and n.level == 0
                       and (n.module or "").startswith("ledger")}
    done, on_path, cycles = set(), [], []

    def visit(module: str) -> None:
        on_path.append(module)
        for dep in sorted(graph[module] & graph.keys()):
            if dep in on_path:
                cycles.append(on_path[on_path.index(dep):] + [dep])
            elif dep not in done:
                visit(dep)
        on_path.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module)
    assert cycles == []
