"""The CLI's output helpers and connection resolution."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from argosy.cli import output
from argosy.cli.client import CliError, Conn, base_url, load_config, save_config


def test_progress_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with output.Progress("application web") as p:
        p.update("sync=OutOfSync")
        p.update("sync=OutOfSync")  # unchanged: not repeated
        p.update("sync=Synced")
    assert capsys.readouterr().out.splitlines() == [
        "application web sync=OutOfSync",
        "application web sync=Synced",
    ]


def test_progress_live_view_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stdout", fake)
    with output.Progress("application web") as p:
        assert p.tty
        p.update("sync=Synced health=Healthy")
    assert "sync=Synced health=Healthy" in fake.getvalue()


def test_emit_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert output.emit({"a": 1}, "json")
    assert json.loads(capsys.readouterr().out) == {"a": 1}
    assert not output.emit({"a": 1}, "wide")
    output.table(["NAME", "X"], [["long-name", "1"], ["b", None]])
    assert capsys.readouterr().out.splitlines() == ["NAME       X", "long-name  1", "b"]


def test_connection_resolution(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    save_config(
        {
            "contexts": [{"name": "c", "server": "h:1", "auth-token": "T", "plaintext": True}],
            "current-context": "c",
        },
        cfg,
    )
    assert load_config(cfg)["current-context"] == "c"
    client = Conn(config=cfg).client()
    assert client.base == "http://h:1"
    client.close()
    # another server than the context's: its token is not sent there
    with pytest.raises(CliError, match="no auth token"):
        Conn(server="other:2", config=cfg).client()
    with pytest.raises(CliError, match="no server"):
        Conn(config=tmp_path / "missing").client()
    assert base_url("x:443", plaintext=False) == "https://x:443"
    assert base_url("http://x", plaintext=False) == "http://x"
