"""An embedded replica against a real sqld: local reads, writes on the server, kept in sync."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from memvault import MemoryStore
from memvault.db import connect, parse_url

pytest.importorskip("libsql_experimental", reason="the libsql-experimental client is not installed")


def test_the_store_serves_reads_from_the_replica_and_writes_to_the_server(
    libsql_url: str, tmp_path: Path
) -> None:
    with MemoryStore.open(libsql_url) as primary:  # migrated on the server itself
        ada, _ = primary.users.create("ada@example.com")
    replica_file = tmp_path / "replica.db"
    replica_url = f"{libsql_url}?replica={replica_file}&sync=0.2"
    with MemoryStore.open(replica_url, migrate=False) as local:
        assert replica_file.exists()
        assert [u.email for u in local.users.list()] == ["ada@example.com"]  # synced at open
        note = local.memories.create(
            ada.id, title="Tea", content="green tea", memory_type="preference"
        )
        assert local.memories.get(ada.id, note.id) is not None  # its own write, at once
        with MemoryStore.open(libsql_url) as primary:
            assert primary.memories.get(ada.id, note.id) is not None  # it went to the server
            primary.users.create("bob@example.com")
        deadline = time.monotonic() + 5
        while len(local.users.list()) < 2:  # others' writes arrive with the next sync
            assert time.monotonic() < deadline, "the replica did not sync within 5 s"
            time.sleep(0.1)
        assert [h.memory.id for h in local.memories.search(ada.id, "green tea")] == [note.id]


def test_a_failed_transaction_through_the_replica_changes_nothing_on_the_server(
    libsql_url: str, tmp_path: Path
) -> None:
    with connect(libsql_url) as server, server.atomic():
        server.execute("CREATE TABLE t (x INTEGER NOT NULL)")
    local = connect(f"{libsql_url}?replica={tmp_path / 'r.db'}")
    try:
        with pytest.raises(Exception, match="NOT NULL"), local.atomic():
            local.execute("INSERT INTO t VALUES (1)")
            local.execute("INSERT INTO t VALUES (NULL)")
    finally:
        local.close()
    with connect(libsql_url) as server:
        assert server.scalar("SELECT count(*) FROM t") == 0


def test_replica_parameters_are_checked() -> None:
    url = parse_url("libsql://db.turso.io?replica=/tmp/r.db&sync=2")
    assert url.remote is not None and url.remote.replica == Path("/tmp/r.db")
    assert url.remote.sync_seconds == 2 and "replica /tmp/r.db" in url.display
    with pytest.raises(ValueError, match="'sync'"):
        parse_url("libsql://db.turso.io?replica=/tmp/r.db&sync=never")
