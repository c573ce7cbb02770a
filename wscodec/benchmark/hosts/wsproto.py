"""The wsproto rows of ``python -m wscodec bench --integrations``.

What is timed: a wsproto client and server connected in memory.

Timed by :mod:`wscodec.benchmark.integrations` with the host alone and with
:mod:`wscodec.integrations.wsproto` installed; the host is imported only when measured.
"""

from __future__ import annotations

import importlib
import time

__all__ = ["KINDS", "echo_roundtrip"]

#: message kinds the integration benchmark measures for this host (text: UTF-8 handling is replaced too; deflate text:
#: JSON-like text with wsproto's PerMessageDeflate negotiated, at its defaults)
KINDS = ("binary", "text", "deflate text")


def echo_roundtrip(size: int, count: int, *, text: bool = False, deflate: bool = False) -> float:
    """Messages per second echoed between a wsproto client and server connected in memory.

    wsproto is sans-I/O: its two ``Connection`` objects (the ones its
    ``WSConnection`` hands over to after the HTTP upgrade) pass each other
    their bytes directly, so the figure is wsproto's own cost, with no socket
    in it. One message of ``size`` bytes (``text``: that many ASCII
    characters) at a time, sent and echoed back, ``count`` times after a
    short warm-up. ``deflate``: JSON-like text messages (distinct ones, in
    turn) with wsproto's ``PerMessageDeflate`` negotiated at its defaults.
    """
    connection = importlib.import_module("wsproto.connection")
    events = importlib.import_module("wsproto.events")
    CLIENT, SERVER = connection.ConnectionType.CLIENT, connection.ConnectionType.SERVER
    if deflate:
        from ..integrations import json_text_messages

        extension = importlib.import_module("wsproto.extensions").PerMessageDeflate
        client_ext, server_ext = extension(), extension()
        client_ext.finalize(f"permessage-deflate; {server_ext.accept(f'permessage-deflate; {client_ext.offer()}')}")
        client, server = connection.Connection(CLIENT, [client_ext]), connection.Connection(SERVER, [server_ext])
        messages = [events.TextMessage(data=text) for text in json_text_messages(size)]
    else:
        client, server = connection.Connection(CLIENT), connection.Connection(SERVER)
        messages = [events.TextMessage(data="x" * size) if text else events.BytesMessage(data=bytes(size))]

    def run(rounds: int) -> None:
        for i in range(rounds):
            message = messages[i % len(messages)]
            kind = type(message)
            server.receive_data(client.send(message))
            for event in server.events():
                client.receive_data(server.send(kind(data=event.data)))
            for event in client.events():
                if len(event.data) != size:
                    raise RuntimeError(f"wsproto echo returned {event!r}")

    run(min(count, 10))
    start = time.perf_counter()
    run(count)
    return count / (time.perf_counter() - start)
