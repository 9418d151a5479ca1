"""Storage layer shared by the gateway and the cloud: engines, transactions, migrations."""

from berth.storage.engine import Database, is_sqlite, make_engine, normalize_url

__all__ = ["Database", "is_sqlite", "make_engine", "normalize_url"]
