"""Message content: DATA transparency, SMTP smuggling, bare line endings, BDAT, and interrupted transfers."""

import time

import pytest

from conftest import MAX_SIZE, check_trace, dot_stuff, make_message


def expect(reply, code, enhanced=None):
    assert reply.code == code, f"expected {code}{' ' + enhanced if enhanced else ''}, got {reply!r}"
    if enhanced is not None:
        assert reply.enhanced == enhanced, f"expected enhanced code {enhanced}, got {reply!r}"
    return reply


def open_data(c, sender="s@client.test", rcpts=("alice@example.test",)):
    expect(c.cmd(f"MAIL FROM:<{sender}>"), 250)
    for r in rcpts:
        expect(c.cmd(f"RCPT TO:<{r}>"), 250)
    expect(c.cmd("DATA"), 354)


# ---------------------------------------------------------------------------------------------------------------
# Transparency


def test_dot_stuffing_round_trip(server):
    body = (
        ".\r\n"
        "..\r\n"
        "...\r\n"
        ".leading dot\r\n"
        "..two leading dots\r\n"
        " .space then dot\r\n"
        "middle . dot\r\n"
        ".\r\n"
        "end ."
    )
    msg = make_message(subject="dots", body=body)
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(dot_stuff(msg) + b".\r\n")
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_dot_stuffing_at_start_of_body(server):
    """The first line of the body follows the CRLF of the DATA command: a leading '..' there is unstuffed too."""
    msg = b".Subject-less body starting with a dot\r\n..\r\n"
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(dot_stuff(msg) + b".\r\n")
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_empty_message(server):
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(b".\r\n")
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", b"")


def test_body_split_across_many_writes(server):
    """The end marker and stuffed dots straddle TCP segment boundaries."""
    msg = make_message(subject="dribble", body=".a\r\n..b\r\nc.\r\n.")
    wire = dot_stuff(msg) + b".\r\n"
    with server.connect() as c:
        c.start()
        open_data(c)
        for i in range(len(wire)):
            c.send(wire[i : i + 1])
            if i % 16 == 0 or i > len(wire) - 8:
                time.sleep(0.002)
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_long_body_lines_accepted(server):
    """The 512-octet limit is for command lines; a 5000-octet body line is stored as sent."""
    msg = make_message(subject="long line", body="x" * 5000)
    with server.connect() as c:
        c.start()
        c.transaction("s@client.test", ["alice@example.test"], msg)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_binary_8bit_and_nul_free_content_preserved(server):
    body = bytes(range(0x20, 0x7F)) + b"\r\n" + bytes(range(0x80, 0x100)) + b"\r\n\t tab and spaces  \r\n"
    msg = make_message(subject="bytes", body="") + body
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test> BODY=8BITMIME"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(dot_stuff(msg) + b".\r\n")
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


# ---------------------------------------------------------------------------------------------------------------
# SMTP smuggling (CVE-2023-51764 family): only <CRLF>.<CRLF> ends DATA

SMUGGLE_VARIANTS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "CRLF.LF": b"\r\n.\n",
    "CR.LF": b"\r.\n",
    "CR.CR": b"\r.\r",
}


def smuggling_payload(separator: bytes) -> bytes:
    return (
        b"From: attacker@client.test\r\nTo: alice@example.test\r\nSubject: outer\r\n\r\nouter body"
        + separator
        + b"MAIL FROM:<admin@example.test>\r\n"
        b"RCPT TO:<bob@example.test>\r\n"
        b"DATA\r\n"
        b"From: admin@example.test\r\nSubject: SMUGGLED\r\n\r\ninjected\r\n"
        b"\r\n.\r\n"
    )


@pytest.mark.parametrize("name", list(SMUGGLE_VARIANTS))
def test_smuggling_rejected(server, name):
    with server.connect() as c:
        c.start()
        open_data(c, sender="attacker@client.test")
        c.send(smuggling_payload(SMUGGLE_VARIANTS[name]) + b"QUIT\r\n")
        replies = c.read_until_closed()
    codes = [r.code for r in replies]
    assert codes == [550, 221], (
        f"{name}: expected exactly [550 5.6.0, 221], got {replies!r}; any extra 250/354 means the body was cut "
        "early and the rest executed as commands")
    assert replies[0].enhanced == "5.6.0", replies
    time.sleep(0.2)
    assert server.all_files() == [], f"{name}: something was delivered: {server.all_files()}"
    server.assert_no_tmp()


@pytest.mark.parametrize("name", list(SMUGGLE_VARIANTS))
def test_smuggling_normalized_is_one_message(server_factory, name):
    srv = server_factory({"policy": {"bare_line_endings": "normalize"}})
    with srv.connect() as c:
        c.start()
        open_data(c, sender="attacker@client.test")
        c.send(smuggling_payload(SMUGGLE_VARIANTS[name]) + b"QUIT\r\n")
        replies = c.read_until_closed()
    assert [r.code for r in replies] == [250, 221], f"{name}: expected [250, 221], got {replies!r}"
    files = srv.wait_delivered("alice", 1)
    time.sleep(0.2)
    assert srv.maildir("bob") == [], f"{name}: a smuggled second message reached bob"
    assert len(srv.all_files()) == 1, srv.all_files()
    stored = files[0].read_bytes()
    assert b"MAIL FROM:<admin@example.test>" in stored and b"SMUGGLED" in stored, stored
    body = stored.split(b"\r\n\r\n", 1)[1]
    assert b"\r" not in body.replace(b"\r\n", b"") and b"\n" not in body.replace(b"\r\n", b""), (
        f"{name}: bare CR/LF left in a normalized message: {body!r}")


def test_crlf_dot_crlf_inside_body_is_the_end(server):
    """Sanity check for the smuggling tests: a real <CRLF>.<CRLF> does end the message."""
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(b"Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<t@client.test>\r\nRCPT TO:<bob@example.test>\r\n"
               b"DATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n")
        replies = [c.read_reply() for _ in range(5)]
    assert [r.code for r in replies] == [250, 250, 250, 354, 250], replies
    server.wait_delivered("alice", 1)
    server.wait_delivered("bob", 1)


# ---------------------------------------------------------------------------------------------------------------
# Bare CR / bare LF


@pytest.mark.parametrize("body", [b"bare LF\nhere\r\n", b"bare CR\rhere\r\n", b"ends with bare LF\n",
                                  b"trailing CR\r\r\n"], ids=["LF", "CR", "LF-at-end", "CR-CRLF"])
def test_bare_line_endings_rejected(server, body):
    msg = b"Subject: bare\r\n\r\n" + body
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(msg + (b"" if msg.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        expect(c.read_reply(), 550, "5.6.0")
        expect(c.cmd("NOOP"), 250)  # session continues
        ok = make_message(subject="clean")
        c.transaction("s@client.test", ["alice@example.test"], ok)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", ok)
    server.assert_no_tmp()


def test_bare_line_endings_normalized(server_factory):
    srv = server_factory({"policy": {"bare_line_endings": "normalize"}})
    sent = b"Subject: bare\nX-Other: y\r\n\nline one\rline two\r\n..stuffed\nlast\r\n"
    expected = b"Subject: bare\r\nX-Other: y\r\n\r\nline one\r\nline two\r\n.stuffed\r\nlast\r\n"
    with srv.connect() as c:
        c.start()
        open_data(c)
        c.send(sent + b".\r\n")
        expect(c.read_reply(), 250)
    check_trace(srv.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", expected)


# ---------------------------------------------------------------------------------------------------------------
# BDAT (CHUNKING)


def test_bdat_two_chunks(server):
    part1 = b"From: s@client.test\r\nTo: alice@example.test\r\nSubject: chunked\r\n\r\nfirst half, "
    part2 = b"second half\r\n.\r\n..not stuffed in BDAT\r\n"
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        expect(c.read_reply(), 250)
        c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        expect(c.read_reply(), 250)
        expect(c.cmd("NOOP"), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", part1 + part2)


def test_bdat_pipelined_with_empty_last(server):
    part1 = make_message(subject="pipelined bdat")
    with server.connect() as c:
        c.start()
        c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
               + b"BDAT %d\r\n" % len(part1) + part1 + b"BDAT 0 LAST\r\nQUIT\r\n")
        replies = c.read_until_closed()
    assert [r.code for r in replies] == [250, 250, 250, 250, 250, 221], replies
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", part1)
    check_trace(server.wait_delivered("bob", 1)[0].read_bytes(), "s@client.test", part1)


def test_bdat_binarymime(server):
    content = b"Subject: binary\r\nContent-Type: application/octet-stream\r\n\r\n" + bytes(range(256)) * 4 + b"\n\r"
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test> BODY=BINARYMIME"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("DATA"), 503, "5.5.1")  # BINARYMIME needs BDAT
        c.send(b"BDAT %d LAST\r\n" % len(content) + content)
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", content)


def test_bdat_without_transaction(server):
    with server.connect() as c:
        c.start()
        c.send(b"BDAT 5 LAST\r\nHELLO")
        expect(c.read_reply(), 503, "5.5.1")
        expect(c.cmd("NOOP"), 250)  # the 5 octets were read as data, not as a command
    assert server.all_files() == []


def test_data_after_bdat_refused(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT 3\r\nabc")
        expect(c.read_reply(), 250)
        expect(c.cmd("DATA"), 503, "5.5.1")
        c.send(b"BDAT 3 LAST\r\ndef")
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", b"abcdef")


def test_bdat_oversize(server):
    chunk = b"x" * (MAX_SIZE // 2 + 10)
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        expect(c.read_reply(), 250)
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        expect(c.read_reply(), 552, "5.3.4")
        expect(c.cmd("NOOP"), 250)
        msg = make_message(subject="after big bdat")
        c.transaction("s@client.test", ["alice@example.test"], msg)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)
    server.assert_no_tmp()


# ---------------------------------------------------------------------------------------------------------------
# Interrupted transfers leave nothing behind


def _disconnect_then_check(server):
    # a complete message to bob on a new connection proves the server is alive and has moved on
    server.assert_healthy()
    time.sleep(0.3)
    assert server.maildir("alice") == [], f"a partial message was delivered: {server.maildir('alice')}"
    assert server.maildir("alice", sub="cur") == []
    server.assert_no_tmp()


@pytest.mark.parametrize("size", [100, 300_000], ids=["small", "large"])
def test_disconnect_mid_data(server, size):
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(make_message(subject="cut", body="z" * size))  # no terminating dot
        time.sleep(0.3)
    _disconnect_then_check(server)


def test_disconnect_after_crlf_dot_without_final_crlf(server):
    with server.connect() as c:
        c.start()
        open_data(c)
        c.send(make_message(subject="almost") + b".")
        time.sleep(0.3)
    _disconnect_then_check(server)


@pytest.mark.parametrize("size", [100, 300_000], ids=["small", "large"])
def test_disconnect_mid_bdat_chunk(server, size):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT %d LAST\r\n" % (size * 2) + b"y" * size)
        time.sleep(0.3)
    _disconnect_then_check(server)


def test_disconnect_between_bdat_chunks(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT 10\r\n0123456789")
        expect(c.read_reply(), 250)
        time.sleep(0.2)
    _disconnect_then_check(server)


def test_reset_connection_mid_data(server):
    """An abortive close (RST) rather than FIN."""
    import socket
    import struct
    c = server.connect()
    c.start()
    open_data(c)
    c.send(make_message(subject="rst", body="q" * 50_000))
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    _disconnect_then_check(server)


@pytest.mark.parametrize("command", ["RSET", "EHLO client.test"])
def test_bdat_transaction_abandoned(server, command):
    """RSET (or a new EHLO) after a non-LAST chunk throws the partial message away."""
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.send(b"BDAT 2000\r\n" + b"p" * 2000)
        expect(c.read_reply(), 250)
        expect(c.cmd(command), 250)
        c.send(b"BDAT 4 LAST\r\ntail")
        expect(c.read_reply(), 503, "5.5.1")  # no transaction any more
        msg = make_message(subject="after abandoned bdat")
        c.transaction("s@client.test", ["alice@example.test"], msg)
    files = server.wait_delivered("alice", 1)
    check_trace(files[0].read_bytes(), "s@client.test", msg)
    server.assert_no_tmp()
