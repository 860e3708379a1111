"""Persistence on SQLAlchemy Core: tables, connection set-up, migrations and case storage."""
