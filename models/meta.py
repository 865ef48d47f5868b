"""What kind of database this is: the mark written when the schema is created.

Keys (one row each): `kind` (`production`, `demo` or `scenario`), `created_at` (ISO 8601,
UTC) and `created_by_command` (e.g. `decisionflow demo`). `models.db.database_kind` reads it;
databases made by `scenario run` and `demo` are simulated, and only they accept a chosen time."""

from sqlmodel import Field, SQLModel


class DatabaseMark(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
