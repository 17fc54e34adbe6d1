"""Floods and hostile clients (issue 5): early talkers, HTTP on the SMTP port, pipelining before EHLO, command
floods, slow message bodies, the session deadline and bytes per session. Each limit is configured small so the
tests run in seconds; each checks the reply with its enhanced code, that the connection is closed, the log line,
and that nothing half-received is stored."""

from __future__ import annotations

import select
import socket
import time

import pytest

from conftest import HOST, ConnectionClosed, SMTPConn, expect, make_message, run_swallow


def wait_for_log(srv, needle: bytes, timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        logs = srv.full_logs()
        if needle in logs:
            return logs
        if time.monotonic() > deadline:
            pytest.fail(f"{needle!r} not in the server's log after {timeout}s:\n{logs[-3000:].decode(errors='replace')}")
        time.sleep(0.05)


def read_all_until_closed(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Every byte the server sends until it closes; fails if it stays open longer than `timeout`."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"server did not close the connection within {timeout}s; got {data!r}"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"server did not close the connection within {timeout}s; got {data!r}")
        if not chunk:
            return data
        data += chunk


# ---------------------------------------------------------------------------------------------------------------
# Early talkers (postscreen's pregreet test)


def test_greeting_is_immediate_and_single_line_by_default(server):
    with socket.create_connection((HOST, server.port), timeout=5) as s:
        start = time.monotonic()
        data = b""
        while not data.endswith(b"\r\n"):
            data += s.recv(4096)
        assert time.monotonic() - start < 0.5
        assert data.startswith(b"220 mx.example.test "), data


def test_greeting_delay_holds_back_the_last_line(server_factory):
    srv = server_factory({"limits": {"greeting_delay": 1}})
    with srv.connect() as c:
        start = time.monotonic()
        first = c.read_line()
        assert first == b"220-mx.example.test ESMTP", first
        assert time.monotonic() - start < 0.5, "the first greeting line should come at once"
        last = c.read_line()
        waited = time.monotonic() - start
        assert last.startswith(b"220 mx.example.test "), last
        assert 0.9 <= waited < 3, f"last greeting line after {waited:.2f}s with greeting_delay = 1"
        # A patient client is served normally.
        c.ehlo()
        c.transaction("s@client.test", ["alice@example.test"], make_message(subject="patient"))
    srv.wait_delivered("alice", 1)


@pytest.mark.parametrize("after_first_line", [True, False], ids=["after-220-", "at-connect"])
def test_early_talker_is_refused(server_factory, after_first_line):
    srv = server_factory({"limits": {"greeting_delay": 2}})
    with socket.create_connection((HOST, srv.port), timeout=5) as s:
        start = time.monotonic()
        received = b""
        if after_first_line:
            while not received.endswith(b"\r\n"):
                received += s.recv(4096)
            assert received == b"220-mx.example.test ESMTP\r\n", received
        s.sendall(b"EHLO bot.test\r\nMAIL FROM:<spam@bot.test>\r\n")
        received += read_all_until_closed(s)
        elapsed = time.monotonic() - start
    lines = received.split(b"\r\n")
    assert lines[-2].startswith(b"554 5.7.1 "), received
    assert b"220 " not in received and b"250" not in received, f"the early talker was served: {received!r}"
    assert elapsed < 1.5, f"refused only after {elapsed:.2f}s, not at once"
    wait_for_log(srv, b"closing connection: pregreet")
    assert srv.alive()


def test_greeting_delay_does_not_apply_to_submission(server_factory):
    srv = server_factory({"limits": {"greeting_delay": 3}, "submission": ["auto"]})
    with srv.connect_submission() as c:
        start = time.monotonic()
        expect(c.read_reply(), 220)
        assert time.monotonic() - start < 1, "submission clients are not delayed"


# ---------------------------------------------------------------------------------------------------------------
# HTTP on the SMTP port (ALPACA, cross-protocol)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: mx.example.test\r\n\r\n",
        b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n\r\nEHLO x\r\nMAIL FROM:<a@b.test>\r\n",
        b"CONNECT mx.example.test:25 HTTP/1.1\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
        b"PROPFIND /dav HTTP/1.1\r\n\r\n",
    ],
    ids=["GET", "POST", "CONNECT", "OPTIONS", "PROPFIND"],
)
def test_http_request_is_closed_without_reply(server, request_bytes):
    with server.connect() as c:
        c.greeting()
        start = time.monotonic()
        c.send(request_bytes)
        replies = c.read_until_closed(timeout=3)
        assert replies == [], f"the server answered an HTTP client: {replies!r}"
        assert time.monotonic() - start < 2
    wait_for_log(server, b"closing connection: http_request")
    server.assert_healthy()


def test_http_request_after_ehlo_is_closed(server):
    with server.connect() as c:
        c.start()
        c.send(b"GET /index.html HTTP/1.0\r\n\r\n")
        assert c.read_until_closed(timeout=3) == []


def test_http_over_implicit_tls_is_closed(server_factory):
    """The ALPACA scenario: a browser's TLS connection redirected to the implicit-TLS port."""
    srv = server_factory({"submissions": ["auto"]})
    with srv.connect_submissions() as c:
        expect(c.read_reply(), 220)
        c.send(b"GET / HTTP/1.1\r\nHost: mx.example.test\r\n\r\n")
        assert c.read_until_closed(timeout=3) == []
    wait_for_log(srv, b"closing connection: http_request")


def test_smtp_lines_mentioning_http_are_not_refused(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("NOOP HTTP/1.1"), 250)
        expect(c.cmd("GET"), 500)  # a bare word is an unknown command, not a request line
        expect(c.cmd("NOOP"), 250)


# ---------------------------------------------------------------------------------------------------------------
# Pipelining before PIPELINING was offered (RFC 2920)


def test_pipelining_after_ehlo_greeting_is_refused(server):
    with server.connect() as c:
        c.greeting()
        c.send(b"EHLO bot.test\r\nMAIL FROM:<spam@bot.test>\r\nRCPT TO:<alice@example.test>\r\n")
        replies = c.read_until_closed(timeout=3)
    assert len(replies) == 1, replies
    expect(replies[0], 554, "5.5.0")
    wait_for_log(server, b"closing connection: early_pipelining")
    assert server.maildir("alice") == []


def test_pipelining_in_a_helo_session_is_refused(server):
    with server.connect() as c:
        c.greeting()
        expect(c.cmd("HELO client.test"), 250)
        c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\n")
        replies = c.read_until_closed(timeout=3)
    assert [r.code for r in replies] == [554], replies
    expect(replies[0], 554, "5.5.0")


def test_commands_before_the_greeting_are_refused(server):
    """Without a greeting delay: input sent before the 220 was read, more than one line of it."""
    with server.connect() as c:
        c.send(b"EHLO bot.test\r\nNOOP\r\n")
        replies = c.read_until_closed(timeout=3)
    assert [r.code for r in replies] == [220, 554], replies


def test_early_pipelining_can_be_allowed(server_factory):
    srv = server_factory({"policy": {"early_pipelining": "allow"}})
    with srv.connect() as c:
        c.greeting()
        c.send(b"EHLO client.test\r\nNOOP\r\n")
        expect(c.read_reply(), 250)
        expect(c.read_reply(), 250, "2.0.0")
        expect(c.cmd("NOOP"), 250)


def test_pipelining_after_the_ehlo_reply_still_works(server):
    """RFC 2920 pipelining once EHLO has offered it: whole transactions in one write each, as bench (g) does."""
    msg1 = make_message(subject="one")
    msg2 = make_message(subject="two")
    with server.connect() as c:
        c.start()
        c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        assert [c.read_reply().code for _ in range(4)] == [250, 250, 250, 354]
        c.send(msg1 + b".\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        assert [c.read_reply().code for _ in range(4)] == [250, 250, 250, 354]
        c.send(msg2 + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        replies = c.read_until_closed()
    assert [r.code for r in replies] == [250, 250, 250, 221], replies
    server.wait_delivered("alice", 2)
    server.wait_delivered("bob", 1)


# ---------------------------------------------------------------------------------------------------------------
# Commands per second


def test_command_flood_gets_421(server_factory):
    srv = server_factory({"limits": {"commands_per_second": 20, "command_burst": 10}})
    with srv.connect() as c:
        c.start()  # EHLO is the first token of the bucket
        c.send(b"NOOP\r\n" * 200)
        replies = c.read_until_closed(timeout=5)
    codes = [r.code for r in replies]
    assert codes[-1] == 421 and set(codes[:-1]) == {250}, codes
    expect(replies[-1], 421, "4.7.0")
    assert 5 <= len(codes) - 1 <= 15, f"{len(codes) - 1} NOOPs answered with a burst of 10"
    wait_for_log(srv, b"closing connection: command_rate")


def test_commands_at_the_allowed_rate_are_served(server_factory):
    srv = server_factory({"limits": {"commands_per_second": 20, "command_burst": 5}})
    with srv.connect() as c:
        c.start()
        for _ in range(30):  # 30 commands in 1.5 s: 20 per second
            expect(c.cmd("NOOP"), 250)
            time.sleep(0.05)
        c.transaction("s@client.test", ["alice@example.test"], make_message(subject="paced"))
    srv.wait_delivered("alice", 1)


# ---------------------------------------------------------------------------------------------------------------
# Minimum data rate during DATA and BDAT


SLOW = {"limits": {"min_data_rate": 1000, "min_data_rate_grace": 1}, "timeouts": {"data": 600}}


def begin_data(c: SMTPConn):
    c.start()
    expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
    expect(c.cmd("DATA"), 354)


def trickle_until_closed(c: SMTPConn, data: bytes, interval: float, limit: float) -> tuple[list, float]:
    """Sends `data` a byte every `interval` seconds until the server closes; returns its replies and the time."""
    start = time.monotonic()
    for byte in data:
        assert time.monotonic() - start < limit, f"server still reading the trickle after {limit}s"
        try:
            c.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        readable, _, _ = select.select([c.sock], [], [], interval)
        if readable:
            break
    replies = c.read_until_closed(timeout=5)
    return replies, time.monotonic() - start


def test_slow_data_gets_421(server_factory):
    srv = server_factory(SLOW)
    with srv.connect() as c:
        begin_data(c)
        replies, elapsed = trickle_until_closed(c, make_message(subject="slow") * 10, 0.1, 10)
    assert [r.code for r in replies] == [421], replies
    expect(replies[0], 421, "4.4.2")
    assert 0.8 <= elapsed < 4, f"cut after {elapsed:.2f}s with a 1 s grace"
    wait_for_log(srv, b"closing connection: data_rate")
    time.sleep(0.2)
    assert srv.all_files() == []
    srv.assert_no_tmp()


def test_stalled_data_gets_421_before_the_data_timeout(server_factory):
    srv = server_factory(SLOW)
    with srv.connect() as c:
        begin_data(c)
        start = time.monotonic()
        c.send(b"Subject: stalled\r\n\r\n")  # then nothing: the data timeout (600 s) is far away
        replies = c.read_until_closed(timeout=5)
        elapsed = time.monotonic() - start
    assert [r.code for r in replies] == [421], replies
    expect(replies[0], 421, "4.4.2")
    assert 0.8 <= elapsed < 3, elapsed
    srv.assert_no_tmp()


def test_slow_bdat_gets_421(server_factory):
    srv = server_factory(SLOW)
    with srv.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT 100000 LAST\r\n")
        replies, elapsed = trickle_until_closed(c, b"x" * 1000, 0.1, 10)
    assert [r.code for r in replies] == [421], replies
    expect(replies[0], 421, "4.4.2")
    assert elapsed < 4, elapsed
    time.sleep(0.2)
    assert srv.all_files() == []


def test_data_at_a_good_rate_is_delivered(server_factory):
    """Well above the minimum rate but spread over twice the grace period: delivered."""
    srv = server_factory(SLOW)
    body = make_message(subject="steady", body="x" * 20000)
    with srv.connect() as c:
        begin_data(c)
        for start in range(0, len(body), 500):  # 500 octets every 0.1 s: 5000 octets/s
            c.send(body[start:start + 500])
            time.sleep(0.1)
        c.send(b".\r\n")
        expect(c.read_reply(), 250)
    srv.wait_delivered("alice", 1)


# ---------------------------------------------------------------------------------------------------------------
# Session deadline


def test_session_deadline_is_421_4_4_2_and_logged(server_factory):
    srv = server_factory({"timeouts": {"session": 2, "command": 60}})
    with srv.connect() as c:
        c.start()
        start = time.monotonic()
        replies = []
        for _ in range(40):
            try:
                replies.append(c.cmd("NOOP"))
            except ConnectionClosed:
                break
            if replies[-1].code != 250:
                break
            time.sleep(0.2)
        assert c.is_closed(wait=2)
        elapsed = time.monotonic() - start
    assert replies and replies[-1].code == 421, replies
    expect(replies[-1], 421, "4.4.2")
    assert 1.5 <= elapsed < 5, elapsed
    wait_for_log(srv, b"closing connection: session_deadline")


# ---------------------------------------------------------------------------------------------------------------
# Bytes per session


BYTES = {"limits": {"max_message_size": 10000, "max_session_bytes": 30000}}


def send_messages(c, count: int, body_size: int) -> tuple[list[int], object]:
    """Sends up to `count` messages on one connection; returns the codes of their end-of-data replies and the
    first reply that ended the session early (None when all went through)."""
    codes = []
    for i in range(count):
        try:
            r = c.cmd("MAIL FROM:<s@client.test>")
            if r.code != 250:
                return codes, r
            expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
            r = c.cmd("DATA")
            if r.code != 354:
                return codes, r
            c.send(make_message(subject=f"m{i}", body="y" * body_size) + b".\r\n")
            r = c.read_reply()
        except ConnectionClosed:
            return codes, None
        if r.code == 421:
            return codes, r
        codes.append(r.code)
    return codes, None


def test_accepted_mail_does_not_count_against_the_session_limit(server_factory):
    """A relay reusing its connection (Postfix's connection cache, Exim's batches) may carry any amount of
    accepted mail: 20 messages of 7 KB in one session with max_session_bytes = 30000."""
    srv = server_factory(BYTES)
    with srv.connect() as c:
        c.start()
        codes, ended = send_messages(c, 20, 7000)
        assert ended is None, f"session ended after {len(codes)} accepted messages: {ended!r}"
        assert codes == [250] * 20
        expect(c.cmd("QUIT"), 221)
    srv.wait_delivered("alice", 20)


def test_session_byte_limit_counts_refused_messages(server_factory):
    """Bodies refused for their size (552) still count: the third of 12 KB crosses 30000 octets and is cut."""
    srv = server_factory(BYTES)
    with srv.connect() as c:
        c.start()
        codes, ended = send_messages(c, 10, 12000)
        assert c.is_closed(wait=3)
    assert codes == [552, 552], codes
    assert ended is not None, "no 421 after refused messages over max_session_bytes"
    expect(ended, 421, "4.7.0")
    srv.assert_no_tmp()
    assert srv.maildir("alice") == []
    wait_for_log(srv, b"closing connection: session_bytes")


def test_endless_data_stream_is_cut_at_the_session_limit(server_factory):
    """Without the limit a body over max_message_size is read to its end (then 552); with it, the stream stops."""
    srv = server_factory(BYTES)
    with srv.connect() as c:
        begin_data(c)
        sent = 0
        chunk = b"z" * 998 + b"\r\n"
        while sent < 2_000_000:
            try:
                c.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            readable, _, _ = select.select([c.sock], [], [], 0.002)
            if readable:
                break
        replies = c.read_until_closed(timeout=5)
    assert sent < 100_000, f"the server read {sent} octets of one session (limit 30000)"
    assert [r.code for r in replies] == [421], replies
    expect(replies[0], 421, "4.7.0")
    time.sleep(0.2)
    assert srv.all_files() == []
    srv.assert_no_tmp()


# ---------------------------------------------------------------------------------------------------------------
# Existing limits log their hang-ups too


def test_error_limit_is_logged(server_factory):
    srv = server_factory({"limits": {"max_errors": 2}})
    with srv.connect() as c:
        c.start()
        expect(c.cmd("FOO"), 500)
        replies = [c.cmd("BAR")] + c.read_until_closed()
        assert [r.code for r in replies] == [500, 421], replies
        expect(replies[-1], 421, "4.7.0")
    wait_for_log(srv, b"closing connection: too_many_errors")


def test_connection_limit_is_logged(server_factory):
    srv = server_factory({"limits": {"max_connections_per_client": 1}})
    time.sleep(0.5)  # the start-up probe's connection is gone from the registry
    with srv.connect() as first:
        first.greeting()
        with srv.connect() as second:
            replies = second.read_until_closed()
            assert [r.code for r in replies] == [421], replies
            expect(replies[0], 421, "4.7.0")
    wait_for_log(srv, b"closing connection: too_many_connections")


def test_check_config_names_bad_limit_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[limits]\ngreeting_delay = "soon"\n')
    proc = run_swallow(["check-config", str(path)])
    assert proc.returncode != 0
    assert f"{path}: limits.greeting_delay: expected a number of seconds" in proc.stderr, proc.stderr
