"""Registers `reglab report runs/NAME` with the CLI (see reglab.cli.OPTIONAL_COMMANDS)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def register(app) -> None:
    """Add ``reglab report EXPERIMENT_DIR`` to a Typer app."""
    import typer

    @app.command("report")
    def report_command(
        experiment: Path = typer.Argument(..., help="An experiment folder, e.g. runs/compare-digits."),
    ) -> None:
        """Rebuild report.html and report.md of an experiment from its store alone."""
        from reglab.report.report import build_report
        html, md = build_report(experiment)
        typer.echo(f"Wrote {html}")
        typer.echo(f"Wrote {md}")
