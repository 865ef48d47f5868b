"""Column helpers shared by the table modules."""

from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.ext.mutable import MutableDict, MutableList


def json_dict() -> Any:
    """A JSON object column that tracks in-place changes."""
    return Column(MutableDict.as_mutable(JSON), nullable=False, default=dict)


def json_list() -> Any:
    """A JSON array column that tracks in-place changes."""
    return Column(MutableList.as_mutable(JSON), nullable=False, default=list)
