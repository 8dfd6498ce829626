"""The ``reglab`` command line, one module per command.

Exit codes: 0 success (and ``--version``); 2 bad usage, bad input or a missing optional
dependency (one line on stderr, no traceback, naming the flag or the TOML file, line and key; a
bare ``reglab`` prints the help there instead); 1 a failure inside a run, or
``check-augment`` flagged a transform; 130 interrupted (Ctrl-C; rerun the same command to
resume).

Layout: ``_app`` (the Typer app, the registration of every command, :func:`main`),
``_shared`` (exit codes, errors, the preflight and the experiment runner), ``options`` (the
run-spec flags that ``compare`` and ``run`` share), and one module per command, each with
``register(app)``: compare, run, runs (and ``ls``), predict, datasets, check_augment, report,
export, explain, path, tune.
"""

from reglab.cli._app import COMMANDS, app, main

__all__ = ["app", "main", "COMMANDS"]
