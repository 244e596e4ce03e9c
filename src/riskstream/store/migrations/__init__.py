"""Alembic migrations of the reference database, run programmatically by
:meth:`riskstream.store.refdb.RefDB.migrate`. Each revision is one file in ``versions/``
named ``NNNN_<what>.py`` with ``revision = "NNNN"``; later issues add their own."""
