"""The service layer: the only writer of state. Importing it registers every action."""

from flows.service import (  # noqa: F401  (each module registers its actions)
    admin,
    calendar_admin,
    catalogue,
    discussion,
    execution,
    hearing,
    issuance,
    legality,
    lifecycle,
    participation,
    review,
    time_limits,
)
from flows.service.clock import Backdate
from flows.service.framework import (
    REGISTRY,
    ActionResult,
    Actor,
    ServiceContext,
    run_action,
    run_system_action,
)
from flows.service.setup import setup_jurisdiction
from flows.service.sweep import fire_due_deadlines

__all__ = [
    "REGISTRY",
    "ActionResult",
    "Actor",
    "Backdate",
    "ServiceContext",
    "fire_due_deadlines",
    "run_action",
    "run_system_action",
    "setup_jurisdiction",
]
