"""A loopback TCP proxy that can freeze, to make a real server look hung to its clients.

Frozen, it keeps every connection open but forwards nothing either way, which is what a
stopped process or a silent network partition looks like from the client: connects and
writes succeed, answers never come. With only the answers frozen, requests still reach the
server (a COMMIT lands) but the client never learns the outcome. `on_request` sees every
chunk a client sends before it is forwarded, so a test can freeze at an exact statement.
A client closing its side still closes the upstream side, so the server sees the
disconnect (and rolls back what that session had open).

It counts connections and the bytes clients sent (forwarded or not), so a test can assert
"that call never reached the server" as "no byte arrived", not as a timing; `counts()`
waits until they settle.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class FreezableProxy:
    def __init__(self, upstream_host: str, upstream_port: int, on_request=None, frozen: bool = False):
        self.upstream = (upstream_host, upstream_port)
        self.on_request = on_request
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._requests = threading.Event()
        self._answers = threading.Event()
        if not frozen:
            self.thaw()
        self.connections = 0
        self.bytes_received = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._requests.clear()
        self._answers.clear()

    def freeze_answers(self) -> None:
        self._answers.clear()

    def thaw(self) -> None:
        self._requests.set()
        self._answers.set()

    def counts(self) -> tuple[int, int]:
        """(connections, bytes clients sent) once nothing more has arrived for 0.1 s."""
        last = None
        while True:
            with self._lock:
                now = (self.connections, self.bytes_received)
            if now == last:
                return now
            last = now
            time.sleep(0.1)

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
                self.connections += 1
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, self._requests), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self._answers), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, forwarding: threading.Event) -> None:
        try:
            while data := source.recv(65536):
                if forwarding is self._requests:
                    with self._lock:
                        self.bytes_received += len(data)
                    if self.on_request:
                        self.on_request(data)
                if forwarding.is_set():
                    sink.sendall(data)
                # frozen: the bytes vanish, as into a process that will never read them
        except OSError:
            pass
        for sock in (source, sink):  # one side closed: close the other, as TCP would
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
