"""Clinician records: clients, administrations, scores, alerts, links and an audit log.

The record store is SQLAlchemy 2 with Alembic migrations (:mod:`surveytool.clinic.store`); a SQLite
file in the user's data folder by default, PostgreSQL by URL. Scores are always re-computable from
the stored answers through :func:`surveytool.scoring.score_responses`, the only scoring path.

One module per act, each working inside the caller's transaction and appending its audit row in
it: :mod:`~surveytool.clinic.clients`, :mod:`~surveytool.clinic.administrations` (record,
history, change), :mod:`~surveytool.clinic.scores` (scoring stored answers),
:mod:`~surveytool.clinic.rescore`, :mod:`~surveytool.clinic.alerts`,
:mod:`~surveytool.clinic.notes`, :mod:`~surveytool.clinic.links`, :mod:`~surveytool.clinic.export`;
with :mod:`~surveytool.clinic.clinicians` and :mod:`~surveytool.clinic.instruments` (what the acts
look up). The CLI and the web pages both call these.
"""
