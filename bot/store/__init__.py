"""Persistence: SQLAlchemy models, the database handle, migrations, content-addressed files."""
