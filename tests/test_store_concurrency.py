"""Writers in separate processes: create_many's ids stay right while others insert too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memvault import MemoryStore

WRITER = """
import json, sys
from memvault import MemoryStore
path, user_id, tag = sys.argv[1], sys.argv[2], sys.argv[3]
report = []
with MemoryStore.open(path, migrate=False) as store:
    for batch in range(8):
        items = [{"title": f"{tag}-{batch}-{i}", "content": tag, "memory_type": "MEMORY"}
                 for i in range(60)]
        ids = store.memories.create_many(user_id, items)
        single = store.memories.create(user_id, title=f"{tag}-{batch}-single", content=tag,
                                       memory_type="MEMORY")
        report += list(zip(ids, [item["title"] for item in items])) + [(single.id, single.title)]
print(json.dumps(report))
"""


@pytest.mark.slow
def test_concurrent_writers_get_their_own_ids(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with MemoryStore.open(path) as store:
        users = [store.users.create(f"w{i}@example.com")[0].id for i in range(3)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), user_id, f"w{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, user_id in enumerate(users)
    ]
    reports = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        reports.append(json.loads(out))
    with MemoryStore.open(path, migrate=False) as store:
        for user_id, report in zip(users, reports, strict=True):
            assert len(report) == 8 * 61
            for memory_id, title in report:
                memory = store.memories.get(user_id, memory_id)
                assert memory is not None and memory.title == title
            assert len(store.memories.list(user_id, limit=1000)) == 8 * 61
