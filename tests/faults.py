"""A loopback TCP proxy that can freeze, to make a real server look hung to its clients.

Frozen, it keeps every connection open but forwards nothing either way, which is what a
stopped process or a silent network partition looks like from the client: connects and
writes succeed, answers never come. A client closing its side still closes the upstream side,
so the server sees the disconnect (and rolls back what that session had open).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FreezableProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._forwarding.clear()

    def thaw(self) -> None:
        self._forwarding.set()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked in recv; close() alone may not
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self._forwarding.is_set():
                    sink.sendall(data)
                # frozen: the bytes vanish, as into a process that will never read them
        except OSError:
            pass
        for sock in (source, sink):  # one side closed: close the other, as TCP would
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
