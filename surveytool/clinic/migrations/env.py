"""Alembic environment of the clinic database.

Migrations run programmatically (:func:`surveytool.clinic.store.ClinicStore.upgrade`), which hands
over an open connection in ``config.attributes["connection"]``; the whole upgrade then runs in
that connection's transaction, so it either completes or changes nothing. Running ``alembic``
by hand with ``sqlalchemy.url`` set also works (for writing new revisions).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from surveytool.clinic.models import Base

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        transaction_per_migration=False,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # pragma: no cover - developer use from the alembic command line
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
