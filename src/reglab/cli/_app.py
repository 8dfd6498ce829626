"""The Typer ``app`` with every command registered, and :func:`main`, the entry point that maps
errors to exit codes with one line on stderr."""

from __future__ import annotations

import signal
import sys
import warnings

import typer

from reglab._escape import terminal_text
from reglab._validation import InvalidParameterError
from reglab.data import DataWarning
from reglab.cli import (check_augment, compare, datasets, explain, export, path, predict, report,
                        run, runs, tune)
from reglab.cli._shared import (EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_USAGE,
                                MissingDependency, RunFailed)

__all__ = ["app", "main", "COMMANDS"]

app = typer.Typer(
    name="reglab",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain text: "[space]" and "[0, 1)" print as written
    context_settings={"help_option_names": ["-h", "--help"]},
)

# One module per command, each with ``register(app)``; this order is the order of --help.
COMMANDS = (compare, run, runs, predict, datasets, check_augment, report, export, explain, path,
            tune)
for _command in COMMANDS:
    _command.register(app)


def _version_line() -> str:
    """``reglab 0.1.0 (torch 2.13.0+cpu, Python 3.11.7)``: what a bug report needs, from the
    installed metadata (importing torch for its version would cost a second)."""
    from importlib import metadata
    import platform

    from reglab import __version__
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    return f"reglab {__version__} (torch {torch_version}, Python {platform.python_version()})"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(_version_line())
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", is_eager=True,
                                       callback=_show_version,
                                       help="Print reglab's, torch's and Python's versions "
                                            "and exit.")) -> None:
    """Regularization for PyTorch, measured: compare L1, L2, dropout, early stopping and
    augmentation on real data, over seeds, with honest statistics."""  # the app's --help


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map errors to exit codes with one line on stderr."""
    # Ctrl-C and `kill` stop the same way, once: the first signal raises KeyboardInterrupt,
    # any further one during the clean-up is ignored (a second Ctrl-C 1 ms later used to land
    # inside the clean-up: "Exception ignored ... KeyboardInterrupt", exit 0, or 16 lines)
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    shown = warnings.showwarning
    warnings.showwarning = _warning
    _WARNED.clear()
    try:
        code = app(args=argv, standalone_mode=False)
    except (InvalidParameterError, MissingDependency) as e:  # InvalidParameterError includes
        _error(str(e))                                        # DataError and ExperimentLocked
        code = EXIT_USAGE
    except RunFailed as e:
        _error(str(e))
        code = EXIT_RUN_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        code = EXIT_INTERRUPTED
    except Exception as e:  # Typer's (vendored click's) usage errors carry exit_code
        if not hasattr(e, "format_message") or not hasattr(e, "exit_code"):
            if type(e).__name__ == "Abort":
                _error("aborted")
                code = EXIT_INTERRUPTED
            else:
                raise
        elif type(e).__name__ == "NoArgsIsHelpError":  # bare `reglab`: the help, as --help
            sys.stderr.write(e.format_message().rstrip("\n") + "\n")  # lays it out; exit 2
            code = e.exit_code
        else:
            _error(e.format_message())
            code = e.exit_code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        warnings.showwarning = shown
    code = code if isinstance(code, int) else 0
    if argv is None:
        sys.exit(code)
    return code


_WARNED: set[str] = set()


def _warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A DataWarning (the data layer announcing an encoding step, a doubtful column, an
    unshuffled split) as one line ``reglab: warning: ...`` on stderr; others as Python does."""
    if issubclass(category, DataWarning):
        text = terminal_text(" ".join(str(message).split()))
        if text not in _WARNED:  # the same data loaded again (each seed's split) says it once
            _WARNED.add(text)
            sys.stderr.write(f"reglab: warning: {text}\n")
        return
    warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, filename, lineno,
                                                       file, line))


def _interrupt(signum, frame) -> None:
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)  # the clean-up runs to its end; one line, exit 130
    raise KeyboardInterrupt


def _error(message: str) -> None:
    # one line, whatever the message held; a user's file's control characters as escapes
    line = terminal_text(" ".join(str(message).split()))
    sys.stderr.write(f"reglab: error: {line}\n")
