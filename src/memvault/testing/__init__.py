"""Build databases in the shapes found in the field, for tests, benchmarks and demos."""

from memvault.testing.legacy import LegacyShape, build_legacy_database, snapshot_rows

__all__ = ["LegacyShape", "build_legacy_database", "snapshot_rows"]
