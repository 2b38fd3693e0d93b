"""All SQL of Misiva: the engine, the tables, migrations and named functions per table group."""

from misiva.storage.engine import Database, Tx

__all__ = ["Database", "Tx"]
