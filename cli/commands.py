"""Further sub-commands register themselves on the Typer app when imported."""

import cli.serve_cmd  # noqa: F401  (imports cli.notify_cmd: sweep, deadlines, inbox, outbox, serve)
from cli import admin_cmd, calendar_cmd, decision_cmd, demo_cmd, dispatch_cmd, keys_cmd  # noqa: F401
