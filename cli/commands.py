"""Further sub-commands register themselves on the Typer app when imported."""

from cli import calendar_cmd, decision_cmd, demo_cmd  # noqa: F401
