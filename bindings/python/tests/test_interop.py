"""Raw mode against the plain `socket` module, as in the textbook socket tutorial."""

from __future__ import annotations

import socket
import unittest

from _support import T, Background, arsock, pattern, recv_exact, sock_recv_exact


class TextbookSocketServer(unittest.TestCase):
    """A `socket` echo server; arsock.connect is the client."""

    def test_echo(self) -> None:
        data = pattern(300_000, seed=9)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(T)
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]

            def serve() -> bytes:
                conn, _addr = s.accept()
                with conn:
                    conn.settimeout(T)
                    got = sock_recv_exact(conn, len(data))
                    conn.sendall(got[::-1])
                    return got

            server = Background(serve)
            with arsock.connect("127.0.0.1", port, timeout=T) as client:
                client.send_timeout = T
                client.send(data)
                self.assertEqual(recv_exact(client, len(data)), data[::-1])
                # The server closed after replying: like recv() returning b"" in `socket`.
                with self.assertRaises(arsock.ConnectionClosed):
                    client.recv(1, timeout=T)
            self.assertEqual(server.result(), data)

    def test_ipv6_loopback(self) -> None:
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
        except OSError as e:
            self.skipTest(f"no IPv6 loopback: {e}")
        with s:
            s.settimeout(T)
            s.listen()
            port = s.getsockname()[1]

            def serve() -> None:
                conn, _ = s.accept()
                with conn:
                    conn.settimeout(T)
                    conn.sendall(b"v6:" + sock_recv_exact(conn, 2))

            server = Background(serve)
            with arsock.connect("::1", port, timeout=T) as client:
                client.send(b"ok")
                self.assertEqual(recv_exact(client, 5), b"v6:ok")
            server.result()


class TextbookSocketClient(unittest.TestCase):
    """A `socket` client; arsock.Server accepts."""

    def test_echo(self) -> None:
        data = pattern(1024 * 1024, seed=5)
        with arsock.Server("127.0.0.1", 0) as server:

            def client() -> bytes:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
                    c.settimeout(T)
                    c.connect(("127.0.0.1", server.port))
                    c.sendall(data)
                    c.shutdown(socket.SHUT_WR)  # end of request
                    return sock_recv_exact(c, len(data))

            peer = Background(client)
            with server.accept(timeout=T) as conn:
                conn.send_timeout = T
                got = recv_exact(conn, len(data))
                self.assertEqual(got, data)
                with self.assertRaises(arsock.ConnectionClosed):  # the client's SHUT_WR
                    conn.recv(1, timeout=T)
                conn.send(got.upper())
            self.assertEqual(peer.result(), data.upper())

    def test_many_clients_in_turn(self) -> None:
        with arsock.Server("127.0.0.1", 0, backlog=8) as server:
            for i in range(5):
                with socket.create_connection(("127.0.0.1", server.port), timeout=T) as c:
                    with server.accept(timeout=T) as conn:
                        c.sendall(b"ping %d" % i)
                        self.assertEqual(recv_exact(conn, 6), b"ping %d" % i)
                        conn.send(b"pong")
                        self.assertEqual(sock_recv_exact(c, 4), b"pong")

    def test_close_is_seen_by_the_socket_peer(self) -> None:
        with arsock.Server("127.0.0.1", 0) as server:
            with socket.create_connection(("127.0.0.1", server.port), timeout=T) as c:
                conn = server.accept(timeout=T)
                conn.send(b"bye")
                conn.close()  # queued bytes still reach the peer, then EOF
                self.assertEqual(sock_recv_exact(c, 3), b"bye")
                self.assertEqual(c.recv(1), b"")


if __name__ == "__main__":
    unittest.main()
