"""Operations on a database file: maintenance, size and migration statistics, benchmarks,
backups and checks. Plain functions that return results; only the CLI prints."""
