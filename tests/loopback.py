"""Test HTTP servers on loopback, served from a daemon thread."""

from __future__ import annotations

import socketserver
import threading

# socketserver polls for shutdown every 0.5 s by default: half a second added to every test that stops one.
POLL_SECONDS = 0.02


def serve_in_background(server: socketserver.BaseServer) -> threading.Thread:
    """Start serving ``server`` from a daemon thread; ``server.shutdown()`` then returns within 20 ms."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    return thread
