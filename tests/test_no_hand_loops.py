"""explain, path and the label check train through reglab.train: no optimizer step of their own.

An optimizer step is a call ``something.step()`` with no arguments; the core's proximal
updates are called as ``prox.step(params, lr)`` and stay allowed (FISTA's prox in path.py).
"""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "reglab"
FILES = sorted((SRC / "report" / "explain").glob("*.py")) + [
    SRC / "lab" / "path.py", SRC / "lab" / "label_check.py"]


def _bare_steps(source: str):
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "step" and not node.args and not node.keywords):
            yield node.lineno


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_optimizer_step_outside_the_library_loop(path):
    assert list(_bare_steps(path.read_text())) == [], path


def test_the_check_can_fail():
    code = "for xb in b:\n    loss.backward()\n    opt.step()\n    prox.step([w], 0.1)\n"
    assert list(_bare_steps(code)) == [3]
