"""Persistence: the reference database (SQLAlchemy), history tables (Delta Lake) and the cache."""

# Tables defined outside refdb.py register themselves on refdb.METADATA when imported, so
# the schema the migrations build and the one the code declares are compared whole.
from riskstream.store import limits_repo  # noqa: F401
