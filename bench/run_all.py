"""Run every benchmark in one session and rewrite bench/RESULTS.md as one consistent table.

Each script has ``main(argv)`` and writes its own markdown section with ``--markdown PATH``;
this script runs each in a fresh interpreter (so one benchmark's threads, caches and worker
processes cannot slow the next), one after another (never in parallel: they time things), and
joins the sections under a header that records the machine and versions.

    make bench        # or: .venv/bin/python bench/run_all.py [--only penalty_overhead ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

import torch

HERE = pathlib.Path(__file__).resolve().parent
SCRIPTS = ["penalty_overhead", "augment_throughput", "dropout_mask", "report_figures", "sweep", "gemm_shapes",
           "trainer_overhead", "compare_wall", "tune_parallel", "tune_mnist1d"]


def header() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        "# Benchmark results\n\n"
        "Written by `make bench` (bench/run_all.py). Each section is one benchmark run: its\n"
        "figures are measured side by side in that run (medians over repetitions), under its own\n"
        "machine and date line; `bench/run_all.py --only NAME` reruns one and replaces its\n"
        "section, keeping the others (and hand-written sections) as they are.\n\n"
        f"- last written: {dt.datetime.now().isoformat(timespec='seconds')}\n"
        f"- machine: {platform.machine()}, {cpus} CPU cores available, {platform.processor() or 'cpu'}\n"
        f"- Python {platform.python_version()}, torch {torch.__version__}, "
        f"threads per process: 1\n\n"
    )


def run_one(name: str, out: pathlib.Path) -> str:
    md = out / f"{name}.md"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(HERE / f"{name}.py"), "--markdown", str(md)],
                   env=env, check=True)
    return md.read_text()


def merge(previous: str, fresh: dict[str, str]) -> list[str]:
    """The sections of ``previous`` (each starts with "## "), in their order, with each fresh
    section in the place of the previous section of the same title line, or appended.

    A section whose title no script writes (a run with other flags, a hand-written one) and
    a second section of the same script under another title are kept as they are."""
    sections = ["## " + chunk for chunk in previous.split("\n## ")[1:]]
    titles = [section.splitlines()[0].strip() for section in sections]
    for name in SCRIPTS:
        if name not in fresh:
            continue
        title = fresh[name].strip().splitlines()[0].strip()
        if title in titles:
            sections[titles.index(title)] = fresh[name]
        else:
            sections.append(fresh[name])
            titles.append(title)
    return sections


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=SCRIPTS,
                    help="run only these benchmarks and replace their sections in --output")
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or SCRIPTS:
            print(f"== {name}", flush=True)
            sections.append(run_one(name, pathlib.Path(tmp)))
    target = pathlib.Path(args.output)
    if args.only and target.exists():  # rerun some: replace their sections, keep the others
        sections = merge(target.read_text(), dict(zip(args.only, sections)))
    tmp_target = target.with_suffix(".tmp")
    tmp_target.write_text(header() + "\n\n".join(s.strip() + "\n" for s in sections))
    os.replace(tmp_target, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
