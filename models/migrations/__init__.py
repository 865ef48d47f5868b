"""The Alembic migrations, shipped inside the package so that `decisionflow db upgrade` finds them
from any directory (models.db.MIGRATIONS). `alembic.ini` at the repository root points here too."""
