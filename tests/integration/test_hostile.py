"""Hostile byte streams: seeded random mixes of commands, junk, stray CR/LF, NULs, BDAT with odd sizes and abrupt
disconnects. Whatever arrives, the server must keep running, never deliver a partial message and still serve a
normal transaction afterwards. Bounded: a fixed number of connections, each with a socket timeout."""

import random
import socket

from conftest import HOST

FRAGMENTS = [
    b"EHLO x\r\n", b"HELO y\r\n", b"MAIL FROM:<a@b.test>\r\n", b"MAIL FROM:<>\r\n", b"RCPT TO:<alice@example.test>\r\n",
    b"RCPT TO:<team@example.test>\r\n", b"RCPT TO:<x@elsewhere.test>\r\n", b"DATA\r\n", b"BDAT 5\r\n",
    b"BDAT 0 LAST\r\n", b"BDAT 99999999999999999999\r\n", b"RSET\r\n", b"NOOP\r\n", b"VRFY alice\r\n",
    b"EXPN team\r\n", b"TURN\r\n", b"HELP\r\n", b"STARTTLS\r\n", b"AUTH PLAIN AAAA\r\n", b".\r\n", b"\r\n.\r\n",
    b"\n.\n", b"\r.\r\n", b"\x00\x00", b"\xff\xfe\xc3\x28", b"\r", b"\n", b"MAIL FROM:<\"q\\\"x\"@b>\r\n",
    b"RCPT TO:<@r1,@r2:alice@example.test>\r\n", b"MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n",
    b"RCPT TO:<alice@example.test> NOTIFY=SUCCESS,NEVER\r\n", b"x" * 700, b"Subject: s\r\n\r\nbody\r\n",
]


def hostile_stream(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 40)):
        choice = rng.random()
        if choice < 0.7:
            parts.append(rng.choice(FRAGMENTS))
        elif choice < 0.9:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
        else:
            parts.append(bytes(rng.choice(b"\r\n.\x00 ") for _ in range(rng.randint(1, 16))))
    return b"".join(parts)


def test_random_hostile_streams_leave_server_healthy(server):
    rng = random.Random(5321)
    for _ in range(150):
        stream = hostile_stream(rng)
        with socket.create_connection((HOST, server.port), timeout=5) as sock:
            sock.settimeout(2)
            try:
                sock.recv(4096)
                if rng.random() < 0.75:
                    # Most streams come after a proper EHLO, so that they reach the whole state machine rather
                    # than being cut short as pipelining before the EHLO reply (554 5.5.0).
                    sock.sendall(b"EHLO hostile.test\r\n")
                    reply = b""
                    while not reply.endswith(b"250 HELP\r\n"):
                        chunk = sock.recv(4096)
                        assert chunk, f"closed after EHLO: {reply!r}"
                        reply += chunk
                for start in range(0, len(stream), 512):
                    sock.sendall(stream[start:start + 512])
                if rng.random() < 0.5:
                    sock.recv(65536)  # sometimes read replies, sometimes vanish mid-stream
            except OSError:
                pass  # the server may close on us (error limit); that is fine
    assert server.alive(), server.logs()

    # Still a working mail server: a fresh connection gets a normal message delivered.
    server.assert_healthy()
    server.assert_no_tmp(timeout=10)
