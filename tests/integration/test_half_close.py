"""A client that pipelines its last commands and then shuts down its sending side (TCP half-close, or TLS
close_notify) still gets every reply, and its complete message is stored (issue 16: Exim 4.96 does exactly this).
An incomplete command or message at the end of input is dropped."""

from __future__ import annotations

import socket
import ssl
import time

import pytest

from conftest import BOB, IO_TIMEOUT, client_tls_context, dot_stuff, make_message

SENDER = "sender@client.test"


class RawSession:
    """A byte-level SMTP client on a socket, optionally inside TLS through memory BIOs, so that the test decides
    exactly when close_notify and the TCP FIN are sent."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.tls: ssl.SSLObject | None = None
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.buf = b""
        self.eof = False

    def close(self):
        self.sock.close()

    def _flush_tls(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def send(self, data: bytes):
        if self.tls is None:
            self.sock.sendall(data)
        else:
            self.tls.write(data)
            self._flush_tls()

    def _fill(self, deadline: float) -> bool:
        """Reads more plaintext into `buf`; False at end of stream."""
        while True:
            if self.tls is not None:
                try:
                    chunk = self.tls.read(65536)
                    if chunk:
                        self.buf += chunk
                        return True
                    return False
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    return False
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no reply within the time allowed; have {self.buf!r}"
            self.sock.settimeout(remaining)
            try:
                raw = self.sock.recv(65536)
            except ConnectionResetError:
                raw = b""
            if self.tls is None:
                if not raw:
                    return False
                self.buf += raw
                return True
            if not raw:
                self.incoming.write_eof()
            else:
                self.incoming.write(raw)

    def reply(self, timeout: float = IO_TIMEOUT) -> tuple[int, bytes] | None:
        """The next reply as (code, last line), or None when the server closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line, self.buf = self.buf[:idx], self.buf[idx + 2:]
                if line[3:4] == b"-":
                    continue
                return int(line[:3]), line
            if not self._fill(deadline):
                assert self.buf == b"", f"server closed after a partial reply: {self.buf!r}"
                return None

    def replies_until_closed(self, timeout: float = IO_TIMEOUT) -> list[int]:
        codes = []
        deadline = time.monotonic() + timeout
        while (r := self.reply(max(deadline - time.monotonic(), 0.01))) is not None:
            codes.append(r[0])
        return codes

    def expect(self, code: int):
        r = self.reply()
        assert r is not None and r[0] == code, f"expected {code}, got {r!r}"

    def start_tls(self):
        self.send(b"STARTTLS\r\n")
        self.expect(220)
        self.tls = client_tls_context().wrap_bio(self.incoming, self.outgoing)
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush_tls()
                remaining = deadline - time.monotonic()
                assert remaining > 0, "TLS handshake timed out"
                self.sock.settimeout(remaining)
                raw = self.sock.recv(65536)
                assert raw, "server closed during the TLS handshake"
                self.incoming.write(raw)
        self._flush_tls()

    def end_input(self, close_notify: bool):
        """Ends the client's sending side: close_notify (inside TLS, if asked) and then the TCP FIN."""
        if self.tls is not None and close_notify:
            try:
                self.tls.unwrap()
            except ssl.SSLWantReadError:
                pass
            self._flush_tls()
        self.sock.shutdown(socket.SHUT_WR)


def open_session(server, tls: bool) -> RawSession:
    s = RawSession(server.port)
    s.expect(220)
    s.send(b"EHLO client.test\r\n")
    s.expect(250)
    if tls:
        s.start_tls()
        s.send(b"EHLO client.test\r\n")
        s.expect(250)
    return s


MODES = [
    pytest.param(False, False, id="plaintext"),
    pytest.param(True, True, id="tls-close-notify"),
    pytest.param(True, False, id="tls-fin-only"),
]


def stored_with(server, msgid: str, count: int = 1) -> list[bytes]:
    server.wait_delivered("bob", count)
    return [m for m in server.messages("bob") if msgid.encode() in m]


@pytest.mark.parametrize("tls,close_notify", MODES)
def test_data_body_and_quit_then_half_close(server, tls, close_notify):
    """Exim's DATA path: after the 354, body + "." + QUIT and the end of input, then it reads the replies."""
    msgid = f"<half-close-data-{tls}-{close_notify}@client.test>"
    s = open_session(server, tls)
    s.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode())
    s.expect(250)
    s.expect(250)
    s.expect(354)
    s.send(dot_stuff(make_message(msgid=msgid)) + b".\r\nQUIT\r\n")
    s.end_input(close_notify)
    assert s.replies_until_closed() == [250, 221]
    s.close()
    assert len(stored_with(server, msgid)) == 1
    server.assert_healthy()


@pytest.mark.parametrize("tls,close_notify", MODES)
def test_pipelined_bdat_last_and_quit_then_half_close(server, tls, close_notify):
    """Exim's CHUNKING path: MAIL, RCPT, BDAT <n> LAST with the body and QUIT in one go, then the end of input."""
    msgid = f"<half-close-bdat-{tls}-{close_notify}@client.test>"
    body = make_message(msgid=msgid)
    s = open_session(server, tls)
    s.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nBDAT {len(body)} LAST\r\n".encode() + body + b"QUIT\r\n")
    s.end_input(close_notify)
    assert s.replies_until_closed() == [250, 250, 250, 221]
    s.close()
    assert len(stored_with(server, msgid)) == 1
    server.assert_healthy()


def test_two_messages_pipelined_before_half_close(server):
    """Everything complete that arrived before the end of input is processed in order."""
    s = open_session(server, False)
    first, second = make_message(msgid="<hc-1@client.test>"), make_message(msgid="<hc-2@client.test>")
    s.send(
        f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nBDAT {len(first)} LAST\r\n".encode() + first
        + f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nBDAT {len(second)} LAST\r\n".encode() + second)
    s.end_input(False)
    assert s.replies_until_closed() == [250] * 6
    s.close()
    server.wait_delivered("bob", 2)


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_incomplete_message_at_end_of_input_is_dropped(server, tls):
    s = open_session(server, tls)
    s.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode())
    s.expect(250)
    s.expect(250)
    s.expect(354)
    s.send(b"Subject: cut short\r\n\r\nno end of data here\r\n")
    s.end_input(True)
    assert s.replies_until_closed() == []
    s.close()
    server.assert_no_tmp()
    assert server.maildir("bob") == []
    server.assert_healthy()


def test_incomplete_bdat_chunk_and_command_are_dropped(server):
    s = open_session(server, False)
    s.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nBDAT 1000 LAST\r\nonly a few bytes".encode())
    s.end_input(False)
    assert s.replies_until_closed() == [250, 250]
    s.close()
    server.assert_no_tmp()
    assert server.maildir("bob") == []
    # A command without its CRLF gets no reply either.
    s = open_session(server, False)
    s.send(b"NOOP")
    s.end_input(False)
    assert s.replies_until_closed() == []
    s.close()
    server.assert_healthy()


def test_half_closed_client_with_nothing_pending_is_closed_at_once(server):
    s = open_session(server, False)
    s.end_input(False)
    started = time.monotonic()
    assert s.replies_until_closed(timeout=5) == []
    assert time.monotonic() - started < 3
    s.close()
