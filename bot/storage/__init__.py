"""Persistence: SQLAlchemy 2 typed ORM models, engine/session set-up and Alembic migrations."""
