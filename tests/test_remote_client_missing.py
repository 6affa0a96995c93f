"""Without the libsql client installed, a libSQL URL is one line naming what to install."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from memvault.cli.app import cli


def test_a_server_url_without_the_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libsql", None)  # import libsql -> ImportError
    monkeypatch.delitem(sys.modules, "memvault.db.libsql", raising=False)
    result = CliRunner().invoke(cli, ["-d", "http://127.0.0.1:9", "migrate", "status"])
    assert result.exit_code == 1, result.output
    assert "pip install 'memvault[libsql]'" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
