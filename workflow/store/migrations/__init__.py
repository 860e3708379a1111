"""Alembic environment and revisions for the engine's schema."""
