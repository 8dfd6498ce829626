"""Registers `reglab explain` with the CLI (see reglab.cli._register_optional_commands)."""

from reglab.report.explain import register

__all__ = ["register"]
