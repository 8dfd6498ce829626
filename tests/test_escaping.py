"""Escape at the edge (issue 16, items 4, 5, 9 and the smaller list): what a user's file or
path holds never becomes Markdown, terminal control, rich markup or another path.

Each test reproduces one report of the red team on a real experiment (a cheap compare on a
CSV whose header and classes carry the attack) and checks the file or stream it reached.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import pytest

from reglab._escape import markdown_text, terminal_text
from reglab.lab.store import Store, check_name, folder_stem
from test_bad_inputs import assert_rejected, run_cli, snapshot

CHEAP = ["--epochs", "1", "--hidden", "8", "--seeds", "1", "--arms", "none,l2", "--workers",
         "1", "--quiet"]
IMAGE = "![pix](http://evil.example/t.png)"
LINK = "[click](javascript:alert(1))"
ESC = "\x1b[31mred\x1b]0;pwned\x07"


def wine(out, arms: str = "none,l2") -> list[str]:
    """A cheap compare on wine into ``out/e``."""
    return ["compare", "--data", "wine", *CHEAP, "--arms", arms, "--out", str(out),
            "--name", "e"]


# -- the two helpers, against reference answers ------------------------------------------------
@pytest.mark.parametrize("text, want", [
    (IMAGE, r"!\[pix\](http://evil.example/t.png)"),
    (LINK, r"\[click\](javascript:alert(1))"),
    ("a|b", r"a\|b"), ("`code`", r"\`code\`"), ("**b** ~~s~~", r"\*\*b\*\* \~\~s\~\~"),
    ("x\r\ny", r"x\\x0d\\x0ay"), ("<img src=x>", "&lt;img src=x&gt;"), ("a&b", "a&amp;b"),
    ("back\\slash", r"back\\slash"), ("tab\there", r"tab\\x09here"),
    (ESC, r"\\x1b\[31mred\\x1b\]0;pwned\\x07"), ("val_loss 0.5", "val_loss 0.5"),
])
def test_markdown_text_escapes_every_construct(text, want):
    assert markdown_text(text) == want


@pytest.mark.parametrize("text, want", [
    (ESC, r"\x1b[31mred\x1b]0;pwned\x07"), ("a\rb\nc\td", r"a\x0db\x0ac\x09d"),
    ("\x9b31m", r"\x9b31m"), ("del\x7f", r"del\x7f"), ("abc\u202edcba", r"abc\u202edcba"),
    ("line\u2028sep", r"line\u2028sep"), ("données [ok]", "données [ok]"),
])
def test_terminal_text_shows_control_characters_as_escapes(text, want):
    assert terminal_text(text) == want


# -- a real experiment whose data names attack the report ----------------------------------------
def _csv(path: Path, columns: list[str], classes: list[str]) -> Path:
    quote = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    rows = [",".join(quote(c) for c in [*columns, "label"])]
    rows += [",".join([*(str(i * (j + 1) + j) for j in range(len(columns))),
                       quote(classes[i % 2])]) for i in range(40)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def evil(tmp_path_factory):
    root = tmp_path_factory.mktemp("evil")
    data = _csv(root / "evil.csv", [IMAGE, "a|b\r\nc"], [LINK, ESC + "`x`"])
    code, _, err = run_cli(["compare", "--data", str(data), "--target", "label", *CHEAP,
                            "--out", str(root / "runs"), "--name", "e"])
    assert code == 0, err
    return root, root / "runs" / "e"


def test_report_md_holds_no_link_image_control_character_or_broken_table(evil):
    _, exp = evil
    md = (exp / "report.md").read_text(encoding="utf-8")
    images = re.findall(r"(?<!\\)!\[[^\]]*\]\(([^)]+)\)", md)
    assert images == ["figures/forest.png", "figures/learning_curves.png", "figures/gap.png",
                      "figures/weights.png"]
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", md)  # no ESC, BEL, CR: only "\n" lines
    assert "\\x1b" in md and r"\!" not in md  # shown as text
    for line in md.splitlines():  # every table row keeps its number of cells
        if line.startswith("| data: columns"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 3, line
    assert r"a\|b\\x0d\\x0ac" in md and r"\[click\](javascript:alert(1))" in md


def test_target_error_shows_a_header_s_escape_sequences_as_text(evil, tmp_path):
    root, _ = evil
    code, out, err = run_cli(["compare", "--data", str(root / "evil.csv"), "--target", "nosuch",
                              *CHEAP, "--out", str(tmp_path)])
    assert_rejected(code, out, err, r"Unknown target column 'nosuch' in file '.*evil\.csv'; "
                    r"available columns: .+, label\.")
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", err)
    code, out, err = run_cli(["compare", "--data", str(_csv(tmp_path / "h.csv", [ESC], ["x", "y"])),
                              "--target", "nosuch", *CHEAP, "--out", str(tmp_path)])
    assert code == 2 and "\x1b" not in err and "\x07" not in err
    assert r"available columns: \x1b[31mred\x1b]0;pwned\x07, label." in err


# -- paths: names, file URIs, symlinks, rich markup ----------------------------------------------
@pytest.mark.parametrize("name", ["abc\n", "abc\r", "a\nb", "abc\x00", " abc", "abc "])
def test_a_name_with_a_final_newline_or_control_character_is_refused(name):
    with pytest.raises(ValueError, match="The 'name' parameter of the experiment"):
        check_name(name)


@pytest.mark.parametrize("out", ["h#x", "p%41", "q?mode=rw", "o[/x]", "sp ace"])
def test_out_folders_with_uri_and_markup_characters_hold_the_experiment(out, tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--data", "wine", *CHEAP[:-1], "--out", out, "--name", "e"]
    code, stdout, err = run_cli(argv)
    assert code == 0, err
    # no ./h, no ./pA ("o[/x]" is the folder "x]" in "o[")
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.split("/")[0]]
    exp = tmp_path / out / "e"
    assert (exp / "report.md").is_file() and (exp / "results.csv").is_file()
    assert f"{out}/e" in stdout  # the path is printed as given, not parsed as markup
    conn = Store.read_only(out, "e")
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    conn.close()
    code, stdout, err = run_cli(["runs", "--out", out])
    assert code == 0 and "e" in stdout, err


def test_data_path_with_rich_markup_is_printed_as_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _csv(tmp_path / "m[/x].csv", ["a", "b"], ["x", "y"])
    code, stdout, err = run_cli(["compare", "--data", str(data), "--target", "label",
                                 *CHEAP[:-1], "--out", "runs", "--name", "m"])
    assert code == 0, err
    assert "m[/x].csv" in stdout and (tmp_path / "runs" / "m" / "report.html").is_file()
    code, _, err = run_cli(["compare", "--data", str(data), "--target", "label", *CHEAP[:-1],
                            "--out", "runs", "--name", "m"])  # the rerun prints "resuming"
    assert code == 0, err


@pytest.mark.parametrize("entry", ["models", "figures"])
def test_a_symlinked_folder_inside_an_experiment_is_refused_not_followed(entry, tmp_path):
    assert run_cli(wine(tmp_path))[0] == 0
    exp, outside = tmp_path / "e", tmp_path / "outside"
    outside.mkdir()
    target = exp / entry
    os.rename(target, outside / entry)
    target.symlink_to(outside / entry)
    before = snapshot(outside)
    code, out, err = run_cli(wine(tmp_path, "none,l2,l1"))
    assert_rejected(code, out, err, re.escape(f"The experiment entry '{target}' is a symbolic "
                    "link; reglab writes only inside the experiment folder. Replace it with a "
                    "real folder or file."))
    code, out, err = run_cli(["report", str(exp)])
    assert code == 2 and err.startswith("reglab: error: The experiment entry"), err
    assert snapshot(outside) == before


def test_report_of_the_current_folder(tmp_path, monkeypatch):
    assert run_cli(["compare", "--data", "wine", *CHEAP, "--out", str(tmp_path), "--name",
                    "e"])[0] == 0
    monkeypatch.chdir(tmp_path / "e")
    code, out, err = run_cli(["report", "."])
    assert code == 0, err
    assert "Wrote report.html" in out


def test_a_non_ascii_data_file_gets_an_ascii_experiment_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _csv(tmp_path / "données.csv", ["a", "b"], ["x", "y"])
    assert folder_stem(str(data)) == "donn-es"
    code, _, err = run_cli(["compare", "--data", str(data), "--target", "label", *CHEAP,
                            "--out", "runs"])
    assert code == 0, err
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["compare-donn-es"]


# -- files follow the umask; a full disk is one line and leaves no temp file --------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(umask, mode, tmp_path):
    old = os.umask(umask)
    try:
        code, _, err = run_cli(["compare", "--data", "wine", *CHEAP, "--out", str(tmp_path),
                                "--name", "e"])
    finally:
        os.umask(old)
    assert code == 0, err
    exp = tmp_path / "e"
    files = [exp / "results.csv", exp / "report.html", exp / "report.md",
             exp / "figures" / "gap.png", *(exp / "models").glob("*.safetensors")]
    assert len(files) == 6
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: mode
                                                                        for f in files}


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch):
    assert run_cli(wine(tmp_path))[0] == 0
    monkeypatch.setattr("reglab._files.os.fsync", _no_space)
    code, out, err = run_cli(wine(tmp_path, "none,l2,l1"))
    assert_rejected(code, out, err, r"Cannot write '.*/e/(results\.csv|models/l1-s0\."
                    r"safetensors)': No space left on device; free space or choose a writable "
                    r"--out folder\.")
    assert [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")] == []


def test_an_unwritable_existing_experiment_is_one_line(tmp_path, monkeypatch):
    argv = wine(tmp_path)
    assert run_cli(argv)[0] == 0
    real_open = os.open

    def read_only(path, flags, *a, **k):  # root ignores chmod: refuse writes by hand
        if flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr("reglab.lab.store.os.open", read_only)
    before = snapshot(tmp_path)
    code, out, err = run_cli(argv)
    assert_rejected(code, out, err, re.escape(
        f"The 'out' parameter of the experiment must be a folder that can be created and "
        f"written. Got '{tmp_path}' instead."))
    assert snapshot(tmp_path) == before
