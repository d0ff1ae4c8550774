"""Clinician records: clients, administrations, scores, alerts, links and an audit log.

The record store is SQLAlchemy 2 with Alembic migrations (:mod:`surveytool.clinic.store`); a SQLite
file in the user's data folder by default, PostgreSQL by URL. Scores are always re-computable from
the stored answers through :func:`surveytool.scoring.score_responses`, the only scoring path.
"""
