"""The body every service's Alembic ``env.py`` shares: online migrations on a given connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine


def run_migrations(target_metadata: MetaData) -> None:
    config = context.config
    conn = config.attributes.get("connection")
    if conn is None:  # invoked from the alembic CLI: open our own connection
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as own:
            _run(own, target_metadata)
        return
    _run(conn, target_metadata)


def _run(conn, target_metadata: MetaData) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        version_table=context.config.attributes.get("version_table", "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()
