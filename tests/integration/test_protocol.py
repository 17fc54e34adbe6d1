"""The command dialogue on a raw socket: exact reply codes, sequencing, limits, hostile command lines."""

import threading
import time

import pytest

from conftest import MAX_SIZE, ConnectionClosed, check_trace, dot_stuff, make_message


def expect(reply, code, enhanced=None):
    assert reply.code == code, f"expected {code}{' ' + enhanced if enhanced else ''}, got {reply!r}"
    if enhanced is not None:
        assert reply.enhanced == enhanced, f"expected enhanced code {enhanced}, got {reply!r}"
    return reply


# ---------------------------------------------------------------------------------------------------------------
# Greeting, EHLO, the basics


def test_greeting_and_ehlo(server):
    with server.connect() as c:
        greeting = c.read_reply()
        expect(greeting, 220)
        assert greeting.texts[0].startswith("mx.example.test"), greeting
        ehlo = expect(c.cmd("EHLO client.test"), 250)
        keywords = [t.split()[0].upper() for t in ehlo.texts[1:] if t]
        for ext in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME",
                    "DSN", "HELP"):
            assert ext in keywords, f"{ext} missing from {ehlo!r}"
        assert f"SIZE {MAX_SIZE}" in ehlo.texts, ehlo
        expect(c.cmd("QUIT"), 221, "2.0.0")
        assert c.is_closed(), "server must close the connection after QUIT"


def test_noop_rset_and_enhanced_codes(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("NOOP"), 250, "2.0.0")
        expect(c.cmd("RSET"), 250, "2.0.0")
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")


def test_commands_are_case_insensitive(server):
    with server.connect() as c:
        c.greeting()
        expect(c.cmd("ehlo client.test"), 250)
        expect(c.cmd("mail from:<s@client.test>"), 250)
        expect(c.cmd("rcpt to:<alice@example.test>"), 250)
        expect(c.cmd("data"), 354)
        msg = make_message(subject="lowercase")
        c.send(msg + b".\r\n")
        expect(c.read_reply(), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_unknown_command(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("FOOBAR baz"), 500, "5.5.2")
        expect(c.cmd("NOOP"), 250)


def test_syntax_errors(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL alice@example.test"), 501, "5.5.4")
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT alice@example.test"), 501, "5.5.4")
        r = c.cmd("RCPT TO:<alice@example.test")
        assert r.code == 501, r
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("DATA now please"), 501, "5.5.4")
        expect(c.cmd("NOOP"), 250)


def test_helo_without_name(server):
    with server.connect() as c:
        c.greeting()
        expect(c.cmd("EHLO"), 501)
        expect(c.cmd("HELO"), 501)
        expect(c.cmd("EHLO client.test"), 250)


def test_unknown_mail_and_rcpt_parameters(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test> FROBNICATE=yes"), 555, "5.5.4")
        expect(c.cmd("MAIL FROM:<s@client.test> BODY=8BITMIME"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test> XYZZY"), 555, "5.5.4")
        expect(c.cmd("RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE"), 250)


# ---------------------------------------------------------------------------------------------------------------
# Sequencing


def test_sequence_errors(server):
    with server.connect() as c:
        c.greeting()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 503)  # no EHLO yet
        c.ehlo()
        expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        expect(c.cmd("DATA"), 503, "5.5.1")
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("DATA"), 503, "5.5.1")  # no recipient yet
        expect(c.cmd("MAIL FROM:<other@client.test>"), 503, "5.5.1")  # nested MAIL
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        msg = make_message(subject="after errors")
        c.send(dot_stuff(msg) + b".\r\n")
        expect(c.read_reply(), 250)
        # the transaction is over: RCPT needs a new MAIL
        expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_data_after_all_recipients_refused(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        expect(c.cmd("DATA"), 503, "5.5.1")
        expect(c.cmd("NOOP"), 250)
    assert server.all_files() == []


def test_ehlo_resets_transaction(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        c.ehlo()
        expect(c.cmd("DATA"), 503, "5.5.1")
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)


# ---------------------------------------------------------------------------------------------------------------
# Recipients


def test_unknown_user_relay_and_postmaster(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        expect(c.cmd("RCPT TO:<someone@elsewhere.test>"), 550, "5.7.1")
        expect(c.cmd("RCPT TO:<alice@sub.example.test>"), 550, "5.7.1")
        expect(c.cmd("RCPT TO:<postmaster>"), 250)
        expect(c.cmd("RCPT TO:<Postmaster>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(make_message(subject="to postmaster") + b".\r\n")
        expect(c.read_reply(), 250)


def test_postmaster_without_domain_in_fresh_session(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<>"), 250)
        expect(c.cmd("RCPT TO:<postmaster>"), 250)


def test_max_recipients(server_factory):
    users = ["u1", "u2", "u3", "u4", "u5", "u6"]
    srv = server_factory({
        "limits": {"max_recipients": 5},
        "domains": {"example.test": {"mailboxes": ["alice", "bob", *users], "aliases": {"team": ["alice", "bob"]}}},
    })
    msg = make_message(subject="five")
    with srv.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        for u in users[:5]:
            expect(c.cmd(f"RCPT TO:<{u}@example.test>"), 250)
        expect(c.cmd("RCPT TO:<u6@example.test>"), 452, "4.5.3")
        expect(c.cmd("RCPT TO:<u6@example.test>"), 452, "4.5.3")
        expect(c.cmd("DATA"), 354)
        c.send(msg + b".\r\n")
        expect(c.read_reply(), 250)
    for u in users[:5]:
        check_trace(srv.wait_delivered(u, 1)[0].read_bytes(), "s@client.test", msg)
    assert srv.maildir("u6") == []


# ---------------------------------------------------------------------------------------------------------------
# HELP, VRFY, EXPN, TURN


def test_help(server):
    with server.connect() as c:
        c.start()
        r = expect(c.cmd("HELP"), 214)
        assert r.enhanced is not None, f"HELP after EHLO should carry an enhanced status code: {r!r}"
        r = expect(c.cmd("HELP MAIL"), 214)
        assert "MAIL" in r.text.upper(), r
        expect(c.cmd("HELP RCPT"), 214)
        expect(c.cmd("NOOP"), 250)


def test_help_before_ehlo(server):
    with server.connect() as c:
        c.greeting()
        expect(c.cmd("HELP"), 214)


def test_vrfy_disabled(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("VRFY alice"), 252)
        expect(c.cmd("VRFY nobody"), 252)  # no user enumeration
        expect(c.cmd("NOOP"), 250)


def test_expn_disabled(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("EXPN team"), 502, "5.5.1")
        expect(c.cmd("NOOP"), 250)


def test_vrfy_and_expn_enabled(server_factory):
    srv = server_factory({"policy": {"vrfy": "enabled", "expn": "enabled"}})
    with srv.connect() as c:
        c.start()
        r = expect(c.cmd("VRFY alice"), 250)
        assert "alice@example.test" in r.text, r
        r = expect(c.cmd("VRFY <bob@example.test>"), 250)
        assert "bob@example.test" in r.text, r
        expect(c.cmd("VRFY nobody"), 550, "5.1.1")
        r = expect(c.cmd("EXPN team"), 250)
        assert len(r.lines) >= 2, f"EXPN of a two-member list should be a multi-line reply: {r!r}"
        assert r.lines[0].startswith(b"250-"), r
        members = " ".join(r.texts)
        assert "alice@example.test" in members and "bob@example.test" in members, r
        expect(c.cmd("EXPN nosuchlist"), 550)
        expect(c.cmd("NOOP"), 250)


def test_turn_refused(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("TURN"), 530, "5.7.0")
        expect(c.cmd("NOOP"), 250)


# ---------------------------------------------------------------------------------------------------------------
# Pipelining on the wire


def test_raw_pipelining_replies_in_order(server):
    msg = make_message(subject="pipelined")
    with server.connect() as c:
        c.start()
        c.send(b"MAIL FROM:<s@client.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        expect(c.read_reply(), 250, "2.1.0")
        expect(c.read_reply(), 250, "2.1.5")
        expect(c.read_reply(), 550, "5.1.1")
        expect(c.read_reply(), 250, "2.1.5")
        expect(c.read_reply(), 354)
        # the body, the end, and a whole second transaction in one write
        msg2 = make_message(subject="pipelined 2")
        c.send(msg + b".\r\n"
               b"MAIL FROM:<t@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        expect(c.read_reply(), 250)
        expect(c.read_reply(), 250)
        expect(c.read_reply(), 250)
        expect(c.read_reply(), 354)
        c.send(msg2 + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        expect(c.read_reply(), 250)
        expect(c.read_reply(), 250, "2.0.0")
        expect(c.read_reply(), 250, "2.0.0")
        expect(c.read_reply(), 221)
        assert c.is_closed()
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)
    bob = sorted(p.read_bytes() for p in server.wait_delivered("bob", 2))
    bodies = {b[b.index(b"From: Sender"):] for b in bob}
    assert bodies == {msg, msg2}


def test_pipelined_commands_after_failed_transaction(server):
    with server.connect() as c:
        c.start()
        c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\nNOOP\r\n")
        expect(c.read_reply(), 250)
        expect(c.read_reply(), 550)
        expect(c.read_reply(), 503)
        expect(c.read_reply(), 250)


# ---------------------------------------------------------------------------------------------------------------
# SIZE


def test_size_parameter(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd(f"MAIL FROM:<s@client.test> SIZE={MAX_SIZE + 1}"), 552, "5.3.4")
        expect(c.cmd(f"MAIL FROM:<s@client.test> SIZE={10 ** 19}"), 552, "5.3.4")
        expect(c.cmd(f"MAIL FROM:<s@client.test> SIZE={MAX_SIZE}"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("RSET"), 250)
        expect(c.cmd("MAIL FROM:<s@client.test> SIZE=abc"), 501)


def test_oversize_body_rejected_and_session_continues(server):
    big = make_message(subject="big", body=("x" * 998 + "\r\n") * (MAX_SIZE // 1000 + 50))
    assert len(big) > MAX_SIZE
    with server.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(big + b".\r\n")
        expect(c.read_reply(), 552, "5.3.4")
        expect(c.cmd("NOOP"), 250)
        small = make_message(subject="small after big")
        c.transaction("s@client.test", ["alice@example.test"], small)
    files = server.wait_delivered("alice", 1)
    check_trace(files[0].read_bytes(), "s@client.test", small)
    server.assert_no_tmp()


def test_message_of_exactly_max_size_accepted(server):
    head = make_message(subject="exact", body="")
    lines, rest = divmod(MAX_SIZE - len(head), 100)
    if rest == 1:
        lines, rest = lines - 1, rest + 100
    msg = head + (b"y" * 98 + b"\r\n") * lines + (b"z" * (rest - 2) + b"\r\n" if rest else b"")
    assert len(msg) == MAX_SIZE, len(msg)
    with server.connect() as c:
        c.start()
        c.transaction("s@client.test", ["alice@example.test"], msg)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_message_one_octet_over_max_size_refused(server):
    head = make_message(subject="one too many", body="")
    lines, rest = divmod(MAX_SIZE + 1 - len(head), 100)
    if rest == 1:
        lines, rest = lines - 1, rest + 100
    msg = head + (b"y" * 98 + b"\r\n") * lines + (b"z" * (rest - 2) + b"\r\n" if rest else b"")
    assert len(msg) == MAX_SIZE + 1, len(msg)
    with server.connect() as c:
        c.start()
        r = c.transaction("s@client.test", ["alice@example.test"], msg, expect_ok=False)
        expect(r, 552, "5.3.4")
    assert server.all_files() == []
    server.assert_no_tmp()


# ---------------------------------------------------------------------------------------------------------------
# Hostile command lines


def test_line_of_600_octets(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("NOOP " + "x" * 595), 500, "5.5.2")
        expect(c.cmd("NOOP"), 250)
        expect(c.cmd("MAIL FROM:<" + "a" * 600 + "@client.test>"), 500, "5.5.2")
        c.transaction("s@client.test", ["alice@example.test"], make_message(subject="after long line"))
    server.wait_delivered("alice", 1)


def test_line_of_exactly_512_octets_accepted(server):
    with server.connect() as c:
        c.start()
        line = "NOOP " + "x" * (512 - 2 - 5)
        assert len(line) + 2 == 512
        expect(c.cmd(line), 250)


def test_one_megabyte_without_crlf(server):
    """1 MiB with no CRLF: the server answers 500 5.5.2 (then continues or closes) and stays healthy."""
    c = server.connect(timeout=15)
    try:
        c.start()
        received = []
        stop = threading.Event()
        c.sock.settimeout(1.0)

        def reader():
            # collect whatever the server says while we write, so that a close + RST cannot swallow the reply
            for _ in range(100):
                if stop.is_set():
                    return
                try:
                    data = c.sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                received.append(data)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        write_error = None
        try:
            for _ in range(16):
                c.sock.sendall(b"A" * 65536)
            c.sock.sendall(b"\r\nNOOP\r\n")
        except OSError as e:  # the server may close on us; that is allowed
            write_error = e
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and t.is_alive():
            if b"".join(received).count(b"\r\n") >= 2:
                break
            time.sleep(0.05)
        stop.set()
        t.join(5)
        data = b"".join(received)
        assert data.startswith(b"500 5.5.2"), (
            f"expected 500 5.5.2 for a 1 MB line, got {data[:300]!r} (write error: {write_error!r})")
        rest = data.split(b"\r\n")[1:]
        if rest and rest[0]:
            assert rest[0][:3] in (b"250", b"421"), f"after the long line: {data!r}"
    finally:
        c.close()
    server.assert_healthy()


def test_nul_and_non_utf8_in_commands(server):
    with server.connect() as c:
        c.start()
        r = c.cmd(b"NO\x00OP")
        assert 500 <= r.code < 600, r
        expect(c.cmd("NOOP"), 250)
        r = c.cmd(b"\xff\xfe\xfd")
        assert 500 <= r.code < 600, r
        expect(c.cmd("NOOP"), 250)
        r = c.cmd(b"MAIL FROM:<s\xff@client.test>")
        assert 500 <= r.code < 600, r
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        r = c.cmd(b"RCPT TO:<al\x00ice@example.test>")
        assert 500 <= r.code < 600, r
        r = c.cmd(b"RCPT TO:<alice\xc3\x28@example.test>")
        assert 500 <= r.code < 600, r
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(c.cmd("DATA"), 354)
        msg = make_message(subject="after garbage")
        c.send(msg + b".\r\n")
        expect(c.read_reply(), 250)
        r = c.cmd(b"EHLO bad\x01name")
        assert 500 <= r.code < 600, r
        r = c.cmd(b"EHLO caf\xc3\xa9\xff.test")
        assert 500 <= r.code < 600, r
        expect(c.cmd("NOOP"), 250)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)


def test_bare_lf_command_terminator_not_a_command(server):
    """A command ended by a bare LF is not a complete command line; it must not be executed as one."""
    with server.connect() as c:
        c.start()
        c.send(b"NOOP\nNOOP\r\n")
        r = c.read_reply()
        # one reply for the whole line (an error, or 250 for a lenient NOOP-with-argument); never two replies
        assert r.code in (250, 500, 501), r
        expect(c.cmd("HELP"), 214)


# ---------------------------------------------------------------------------------------------------------------
# Error limit


def test_error_limit_closes_connection(server_factory):
    srv = server_factory({"limits": {"max_errors": 3}})
    with srv.connect() as c:
        c.start()
        expect(c.cmd("BOGUS1"), 500, "5.5.2")
        expect(c.cmd("BOGUS2"), 500, "5.5.2")
        c.send(b"BOGUS3\r\n")
        replies = c.read_until_closed()
        assert [r.code for r in replies] == [500, 421], replies
        assert replies[1].enhanced == "4.7.0", replies
    srv.assert_healthy()


def test_error_limit_counts_sequence_errors(server_factory):
    srv = server_factory({"limits": {"max_errors": 3}})
    with srv.connect() as c:
        c.start()
        expect(c.cmd("RCPT TO:<alice@example.test>"), 503)
        expect(c.cmd("DATA"), 503)
        c.send(b"DATA\r\n")
        replies = c.read_until_closed()
        assert [r.code for r in replies] == [503, 421], replies


def test_successful_commands_do_not_count_as_errors(server_factory):
    srv = server_factory({"limits": {"max_errors": 3}})
    with srv.connect() as c:
        c.start()
        expect(c.cmd("BOGUS"), 500)
        expect(c.cmd("BOGUS"), 500)
        for _ in range(10):
            expect(c.cmd("NOOP"), 250)
        c.transaction("s@client.test", ["alice@example.test"], make_message())
        c.send(b"BOGUS\r\n")
        assert [r.code for r in c.read_until_closed()] == [500, 421]


def test_quit_closes_even_with_pending_input(server):
    with server.connect() as c:
        c.start()
        c.send(b"QUIT\r\nNOOP\r\n")
        replies = c.read_until_closed()
        assert [r.code for r in replies] == [221], replies


def test_connection_closed_without_quit_is_harmless(server):
    for _ in range(5):
        c = server.connect()
        c.start()
        c.send(b"MAIL FROM:<s@client.test>\r\n")
        c.close()
    server.assert_healthy()
    assert server.maildir("alice") == []


def test_greeting_wait_client_talks_first(server):
    """A client that sends before the greeting gets replies in order and nothing is lost or duplicated."""
    with server.connect() as c:
        c.send(b"EHLO early.test\r\nNOOP\r\n")
        expect(c.read_reply(), 220)
        r = c.read_reply()
        assert r.code in (250, 554, 503), r
        if r.code == 250:
            expect(c.read_reply(), 250)


# ---------------------------------------------------------------------------------------------------------------
# Hostile local parts must not escape the mail directory


@pytest.mark.parametrize("local", ['"../../../escape"', '"../x"', "a/../../b", ".hidden", "..", '"."', "a/b",
                                   '"x\\\\/y"', "con%2Fx"], ids=lambda x: x)
def test_local_part_cannot_escape_mail_dir(server_factory, local):
    srv = server_factory({"policy": {"catch_all": True}})
    with srv.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        r = c.cmd(f"RCPT TO:<{local}@example.test>")
        if r.code != 250:
            assert 500 <= r.code < 600, r  # refusing such a name is fine
            return
        expect(c.cmd("DATA"), 354)
        c.send(make_message(subject="escape") + b".\r\n")
        r = c.read_reply()
    if r.code != 250:
        return
    domain_dir = (srv.data_dir / "mail" / "example.test").resolve()
    everything = [p for p in srv.workdir.rglob("*") if p.is_file() and p.parent.name == "new"]
    assert len(everything) == 1, everything
    stored = everything[0].resolve()
    assert stored.parent.parent.parent == domain_dir, f"{local!r} was delivered to {stored}, outside {domain_dir}"
    assert not stored.parent.parent.name.startswith("."), f"{local!r} created a hidden mailbox {stored}"
    assert stored.parent.parent.name not in ("", ".", ".."), stored
