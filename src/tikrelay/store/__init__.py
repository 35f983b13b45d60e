"""Database engine, tables, migrations, repositories and the job queue's SQL."""
