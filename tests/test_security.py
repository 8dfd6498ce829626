"""No pickle anywhere reglab reads or writes on a user's behalf."""

import pathlib
import re

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "reglab"
UNSAFE = [
    (re.compile(r"\bimport\s+(c?pickle|dill|joblib|shelve|marshal)\b"), "pickle-like module"),
    (re.compile(r"\bfrom\s+(c?pickle|dill|joblib|shelve|marshal)\b"), "pickle-like module"),
    (re.compile(r"\byaml\.load\("), "yaml.load (use safe_load)"),
    (re.compile(r"\bnp\.load\([^)]*allow_pickle\s*=\s*True"), "np.load with allow_pickle=True"),
    (re.compile(r"\btorch\.save\("), "torch.save writes a pickle (use safetensors)"),
]
TORCH_LOAD = re.compile(r"\btorch\.load\(([^)]*)\)")


def test_no_unsafe_loads_or_pickle_writes_in_source():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        for pattern, why in UNSAFE:
            for m in pattern.finditer(text):
                found.append(f"{path.relative_to(SRC)}: {why}: {m.group(0)}")
        for m in TORCH_LOAD.finditer(text):
            if "weights_only=True" not in m.group(1):
                found.append(f"{path.relative_to(SRC)}: torch.load without weights_only=True")
    assert found == []


def test_the_check_itself_can_fail(tmp_path):
    bad = "import pickle\nx = torch.load(f)\n"
    hits = [why for p, why in UNSAFE if p.search(bad)] + [
        "torch.load" for m in TORCH_LOAD.finditer(bad) if "weights_only=True" not in m.group(1)
    ]
    assert hits == ["pickle-like module", "torch.load"]
