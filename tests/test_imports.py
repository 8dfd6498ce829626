"""The core never imports the lab, the report or the CLI (nor scikit-learn, matplotlib...)."""

import ast
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "reglab"
CORE = ["_validation", "_epochs", "schedules", "kernels", "penalties", "updates", "dropout",
        "early_stopping", "prechelt", "augment"]
ALLOWED_THIRD_PARTY = {"torch", "kornia", "numpy"}
UPPER_LAYERS = {"reglab.lab", "reglab.report", "reglab.cli", "reglab.data", "reglab.integrations"}


def _core_files():
    for name in CORE:
        path = SRC / f"{name}.py"
        if path.exists():
            yield path
        elif (SRC / name).is_dir():
            yield from sorted((SRC / name).rglob("*.py"))


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", list(_core_files()), ids=lambda p: p.name)
def test_core_imports_only_torch_and_core(path):
    stdlib = set(sys.stdlib_module_names)
    for mod in _imports(path):
        top = mod.split(".")[0]
        if top == "reglab":
            assert not any(mod == u or mod.startswith(u + ".") for u in UPPER_LAYERS), (path, mod)
        else:
            assert top in stdlib or top in ALLOWED_THIRD_PARTY or top == "__future__", (path, mod)


def test_import_reglab_loads_no_upper_layer():
    code = (
        "import sys, reglab\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('sklearn', 'matplotlib', 'kornia', 'typer', 'rich', 'optuna', 'lightning', "
        "'tensorboard') "
        "or m.startswith(('reglab.lab', 'reglab.report', 'reglab.cli', 'reglab.data', "
        "'reglab.integrations'))]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("layer", ["lab", "report", "train", "data"])
def test_only_the_cli_imports_typer(layer):
    """Commands live in reglab.cli (one module each); the layers below it are libraries."""
    for path in sorted((SRC / layer).rglob("*.py")):
        bad = [m for m in _imports(path) if m.split(".")[0] == "typer"]
        assert not bad, (path, bad)
