"""`accessgraph serve` runs uvicorn with the httptools parser (its protocol sending a response's
head with its body); one worker on asyncio's event loop, several on uvloop, either when asked
(issue 8: chosen from numbers, bench/README.md "The event loop"); both are installed with the
project."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.config import HTTP_PROTOCOLS, LOOP_FACTORIES
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from accessgraph import serving
from accessgraph.cli import cli
from accessgraph.http_writes import HttpProtocol


def test_one_worker_runs_on_asyncio_with_httptools() -> None:
    config = uvicorn.Config(serving.APP, **serving.options())  # type: ignore[arg-type]
    assert config.loop == "asyncio"
    # What uvicorn imports for the name (an ImportError here is a missing dependency):
    # httptools' protocol, sending a response's head with its body.
    protocol = import_from_string(HTTP_PROTOCOLS.get(str(config.http), str(config.http)))
    assert protocol is HttpProtocol and issubclass(protocol, HttpToolsProtocol)


def test_several_workers_run_on_uvloop_and_either_loop_when_asked() -> None:
    assert serving.options("auto", 2)["loop"] == "uvloop"
    assert serving.options("asyncio", 2)["loop"] == "asyncio"
    config = uvicorn.Config(serving.APP, **serving.options("uvloop"))  # type: ignore[arg-type]
    assert config.loop == "uvloop"
    loop_factory = import_from_string(str(LOOP_FACTORIES["uvloop"]))
    assert "uvloop" in loop_factory.__module__


def test_serve_passes_the_chosen_loop_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACCESSGRAPH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("ACCESSGRAPH_SECRET_KEY", "k" * 40)
    served: list[object] = []
    monkeypatch.setattr(serving, "serve", lambda *args: served.append(args))
    for extra, loop in (([], "auto"), (["--loop", "uvloop"], "uvloop")):
        result = CliRunner().invoke(cli, ["serve", "--port", "8123", *extra])
        assert result.exit_code == 0, result.output
        assert served.pop() == ("127.0.0.1", 8123, 1, loop)


def test_an_unknown_loop_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[object] = []
    monkeypatch.setattr(serving, "serve", lambda *args: served.append(args))
    result = CliRunner().invoke(cli, ["serve", "--loop", "trio"])
    assert result.exit_code == 2 and "--loop" in result.output
    assert served == []
    with pytest.raises(ValueError, match="unknown event loop"):
        serving.options("trio")
