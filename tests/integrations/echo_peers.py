"""Echo servers of the host libraries, run in a separate process as an independent peer.

A shim patches module globals, so both ends of an in-process connection share
it; a peer in another process lets one end run the host's own code while the
other runs the shim. Usage::

    python echo_peers.py HOST KIND SHIM [--pure-host]

HOST is websockets, aiohttp or tornado; KIND is asyncio or sync (websockets
only has a sync server); SHIM is none, python or cython (the wscodec
implementation the shim is installed with); ``--pure-host`` runs the host
without its compiled speedups. The server echoes every message with its type
and prints ``PORT <n>`` once it listens; it stops when stdin closes. The
websockets and aiohttp servers accept permessage-deflate (their default):
the client decides whether a connection compresses.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
from collections.abc import Callable

#: environment switches that make a host import without its compiled speedups
PURE_HOST_ENV = {"aiohttp": "AIOHTTP_NO_EXTENSIONS", "tornado": "TORNADO_NO_EXTENSION"}


def simulate_pure_host(host: str) -> Callable[[], None]:
    """Rebind the host's masking to its pure-Python fallback, as a build without speedups has it.

    Returns a function that puts the compiled one back. (In a fresh process the
    environment switches of :data:`PURE_HOST_ENV`, or a blocked import of
    ``websockets.speedups``, do the real thing; this is for hosts already imported.)
    """
    if host == "websockets":
        import websockets.frames
        import websockets.utils

        targets = [(websockets.frames, "apply_mask")]
        fallback: object = websockets.utils.apply_mask
    elif host == "aiohttp":
        from wscodec.integrations.aiohttp import _layout

        layout = _layout()  # (aiohttp 3.10 keeps it all in one module)
        modules = [importlib.import_module(name) for name in (layout.mask_module, *layout.mask_followers)]
        targets = [(m, layout.mask_name) for m in modules]
        fallback = modules[0]._websocket_mask_python
    elif host == "tornado":
        import tornado.util
        import tornado.web
        import tornado.websocket

        targets = [(m, "_websocket_mask") for m in (tornado.util, tornado.websocket, tornado.web)]
        fallback = tornado.util._websocket_mask_python
    else:
        raise ValueError(host)
    saved = [(module, name, getattr(module, name)) for module, name in targets]
    for module, name in targets:
        setattr(module, name, fallback)

    def restore() -> None:
        for module, name, value in saved:
            setattr(module, name, value)

    return restore


def _announce(port: int) -> None:
    print(f"PORT {port}", flush=True)


def _wait_for_stdin_eof(stop: Callable[[], None]) -> None:
    def watch() -> None:
        sys.stdin.read()
        stop()

    threading.Thread(target=watch, daemon=True).start()


async def _serve_websockets_asyncio() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    async with serve(handler, "127.0.0.1", 0, compression="deflate", max_size=None) as server:
        _announce(server.sockets[0].getsockname()[1])
        _wait_for_stdin_eof(lambda: loop.call_soon_threadsafe(done.set))
        await done.wait()


def _serve_websockets_sync() -> None:
    from websockets.sync.server import ServerConnection, serve

    def handler(ws: ServerConnection) -> None:
        for message in ws:
            ws.send(message)

    with serve(handler, "127.0.0.1", 0, compression="deflate", max_size=None) as server:
        _announce(server.socket.getsockname()[1])
        _wait_for_stdin_eof(server.shutdown)
        server.serve_forever()


async def _serve_aiohttp() -> None:
    from aiohttp import WSMsgType, web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
            else:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    _announce(runner.addresses[0][1])
    _wait_for_stdin_eof(lambda: loop.call_soon_threadsafe(done.set))
    await done.wait()
    await runner.cleanup()


async def _serve_tornado() -> None:
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import Application
    from tornado.websocket import WebSocketHandler

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(Application([("/", Echo)], websocket_max_message_size=2**31))
    server.add_sockets(sockets)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    _announce(sockets[0].getsockname()[1])
    _wait_for_stdin_eof(lambda: loop.call_soon_threadsafe(done.set))
    await done.wait()
    server.stop()


def main(argv: list[str]) -> None:
    """Start the echo server described by ``argv`` (see the module docstring)."""
    host, kind, shim = argv[:3]
    if "--pure-host" in argv:
        if host in PURE_HOST_ENV:
            os.environ[PURE_HOST_ENV[host]] = "1"
        else:
            sys.modules["websockets.speedups"] = None  # type: ignore[assignment]  # import fails: the fallback
    if shim != "none":
        from wscodec.integrations import shim_module

        shim_module(host).install(shim)
    if host == "websockets" and kind == "sync":
        _serve_websockets_sync()
    elif host == "websockets":
        asyncio.run(_serve_websockets_asyncio())
    elif host == "aiohttp":
        asyncio.run(_serve_aiohttp())
    else:
        asyncio.run(_serve_tornado())


if __name__ == "__main__":
    main(sys.argv[1:])
