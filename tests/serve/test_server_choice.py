"""`accessgraph serve` runs uvicorn on uvloop with the httptools parser (issue 8: chosen from
numbers, bench/README.md), and both are installed with the project."""

from __future__ import annotations

import uvicorn
from uvicorn.config import HTTP_PROTOCOLS, LOOP_FACTORIES
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from accessgraph import serving


def test_serve_asks_uvicorn_for_uvloop_and_httptools() -> None:
    config = uvicorn.Config(serving.APP, **serving.UVICORN_OPTIONS)  # type: ignore[arg-type]
    assert (config.loop, config.http) == ("uvloop", "httptools")
    # What uvicorn imports for those names (an ImportError here is a missing dependency).
    assert import_from_string(HTTP_PROTOCOLS["httptools"]) is HttpToolsProtocol
    loop_factory = import_from_string(str(LOOP_FACTORIES["uvloop"]))
    assert "uvloop" in loop_factory.__module__
