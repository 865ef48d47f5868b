"""The Prefect deployments of decisionflow, as data: one deployment per flow, named after it
(so `decision-procedure/decision-procedure` is the flow and deployment the dispatcher starts).

Two set-ups run the same deployments:
- `decisionflow serve` with no PREFECT_API_URL serves them in its own process against a local
  Prefect server (flows/prefect_runtime.py);
- with PREFECT_API_URL set, `prefect deploy --all` reads `prefect.yaml`, which declares the same
  deployments, and workers of the `decisionflow` process pool run them.
A test checks that `prefect.yaml` and this table agree. Importing this module imports no Prefect."""

from __future__ import annotations

from dataclasses import dataclass

from flows import procedure as proc

TIMEZONE = "Asia/Shanghai"  # the cron schedules' time zone
WORK_POOL = "decisionflow"  # the process work pool of the workers' set-up


@dataclass(frozen=True, kw_only=True)
class DeploymentSpec:
    name: str  # the deployment's name, which is also its flow's name
    function: str  # the flow function in flows/prefect_flows.py
    description: str
    cron: str | None = None  # a schedule (in TIMEZONE); None: on demand only
    # `serve` runs the deadline sweep in its own scheduler, so it serves the sweep's deployment
    # without the schedule (on demand only); workers' set-ups keep it
    schedule_when_served: bool = True

    @property
    def entrypoint(self) -> str:
        return f"flows/prefect_flows.py:{self.function}"

    @property
    def full_name(self) -> str:
        """`<flow>/<deployment>`, as Prefect names a deployment."""
        return f"{self.name}/{self.name}"


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        name="sweep-deadlines",
        function="sweep_deadlines",
        description="Fire due deadlines (automatic transitions such as closing a comment period), "
        "create the reminders and deliver them.",
        cron="*/5 * * * *",
        schedule_when_served=False,
    ),
    DeploymentSpec(
        name=proc.DECISION_PROCEDURE,
        function="decision_procedure",
        description="The automatic work of one outbox event of a decision, started by the dispatcher: "
        "notifications to the people who wait for it, the public notice the step needs, the catalogue "
        "refresh and the archive dossier. Idempotent: a second run for the same event changes nothing.",
    ),
    DeploymentSpec(
        name=proc.CATALOGUES,
        function="catalogues",
        description="Regenerate one year's decision catalogue and hearing catalogue (HTML, DOCX, XLSX, "
        "CSV, JSON). Daily, for the current year, and on demand or after a catalogue event.",
        cron="0 2 * * *",
    ),
    DeploymentSpec(
        name="archive-dossier",
        function="archive_dossier",
        description="Build one decision's archive dossier (一事一档): the ZIP with the index, every "
        "evidence document, the audit chain and the manifest.",
    ),
    DeploymentSpec(
        name="annual-report",
        function="annual_report",
        description="Produce one year's statistics for the annual report on law-based government "
        "(HTML with charts, and JSON).",
    ),
)

BY_NAME: dict[str, DeploymentSpec] = {spec.name: spec for spec in DEPLOYMENTS}
