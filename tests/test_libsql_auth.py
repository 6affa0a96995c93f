"""Auth tokens against a sqld that requires them: every way of giving one, and none."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from memvault.cli import cli
from memvault.db import parse_url


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MEMVAULT_AUTH_TOKEN", "TURSO_AUTH_TOKEN", "TURSO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_without_a_token_the_refusal_is_one_line_naming_the_options(
    sqld_with_auth: tuple[str, str],
) -> None:
    url, _ = sqld_with_auth
    result = CliRunner().invoke(cli, ["-d", url, "migrate", "status"])
    assert result.exit_code == 1
    assert "the server refused the connection" in result.output
    assert "--auth-token, MEMVAULT_AUTH_TOKEN or TURSO_AUTH_TOKEN" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("way", ["option", "memvault-env", "turso-env", "url"])
def test_each_way_of_giving_the_token_works_and_it_is_never_shown(
    sqld_with_auth: tuple[str, str], way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token = sqld_with_auth
    argv = ["-d", url]
    if way == "option":
        argv = ["--auth-token", token, *argv]
    elif way == "memvault-env":
        monkeypatch.setenv("MEMVAULT_AUTH_TOKEN", token)
    elif way == "turso-env":
        monkeypatch.setenv("TURSO_AUTH_TOKEN", token)
    else:
        argv = ["-d", f"{url}?authToken={token}"]
    result = CliRunner().invoke(cli, [*argv, "migrate", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert token not in result.output
    assert url in result.output


def test_turso_database_url_is_the_default_database(
    sqld_with_auth: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token = sqld_with_auth
    monkeypatch.setenv("TURSO_DATABASE_URL", url)
    monkeypatch.setenv("TURSO_AUTH_TOKEN", token)
    monkeypatch.delenv("MEMVAULT_DATABASE", raising=False)
    result = CliRunner().invoke(cli, ["migrate", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert url in result.output


def test_libsql_urls_mean_tls_and_bad_parameters_are_named() -> None:
    assert parse_url("libsql://db-me.turso.io").remote.endpoint == "https://db-me.turso.io"  # type: ignore[union-attr]
    assert parse_url("libsql://127.0.0.1:8080?tls=0").remote.endpoint == "http://127.0.0.1:8080"  # type: ignore[union-attr]
    shown = parse_url("libsql://db.turso.io?authToken=secret")
    assert shown.display == "libsql://db.turso.io" and "secret" not in repr(shown)
    with pytest.raises(ValueError, match="parameter 'mode' is not supported"):
        parse_url("https://db.turso.io?mode=ro&authToken=secret")
    with pytest.raises(ValueError, match="no host"):
        parse_url("libsql://")
