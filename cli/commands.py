"""Further sub-commands register themselves on the Typer app when imported."""

import cli.serve_cmd  # noqa: F401  (imports cli.notify_cmd: sweep, deadlines, inbox, outbox, serve)
from cli import (  # noqa: F401
    account_cmd,
    admin_cmd,
    archive_cmd,
    calendar_cmd,
    catalogue_cmd,
    decision_cmd,
    demo_cmd,
    dispatch_cmd,
    keys_cmd,
    report_cmd,
)
