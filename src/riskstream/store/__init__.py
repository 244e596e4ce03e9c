"""Persistence: the reference database (SQLAlchemy), history tables (Delta Lake) and the cache."""
