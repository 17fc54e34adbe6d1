"""Delivery through Python's smtplib: what an ordinary client does."""

import email.generator
import email.policy
import io
import smtplib
import urllib.parse
from email.message import EmailMessage

import pytest

from conftest import MAX_SIZE, check_trace, make_message, split_stored


def test_ehlo_advertises_extensions(server):
    with server.smtp() as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        features = s.esmtp_features
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking", "binarymime",
                    "dsn", "help"):
            assert ext in features, f"EHLO does not advertise {ext.upper()}: {s.ehlo_resp!r}"
        assert features["size"].strip() == str(MAX_SIZE), f"SIZE should be {MAX_SIZE}: {s.ehlo_resp!r}"
        assert s.ehlo_resp.decode().splitlines()[0].startswith("mx.example.test"), s.ehlo_resp


def test_single_message_stored_byte_for_byte(server):
    msg = make_message(subject="single", body="Line one.\r\nLine two.\r\n\r\nLast line.")
    with server.smtp() as s:
        refused = s.sendmail("sender@client.test", ["alice@example.test"], msg)
        assert refused == {}
    files = server.wait_delivered("alice", 1)
    check_trace(files[0].read_bytes(), "sender@client.test", msg, protocol="ESMTP")
    assert server.maildir("bob") == []
    server.assert_no_tmp()


def test_helo_session_is_marked_smtp(server):
    msg = make_message(subject="helo")
    with server.smtp() as s:
        code, _ = s.helo("client.test")
        assert code == 250
        s.sendmail("sender@client.test", ["bob@example.test"], msg)
    files = server.wait_delivered("bob", 1)
    check_trace(files[0].read_bytes(), "sender@client.test", msg, protocol="SMTP")


def test_null_sender(server):
    msg = make_message(subject="bounce")
    with server.smtp() as s:
        s.sendmail("", ["alice@example.test"], msg)
    files = server.wait_delivered("alice", 1)
    check_trace(files[0].read_bytes(), "", msg)


def test_multiple_recipients_one_copy_per_mailbox(server):
    """alice directly, bob directly and team (= alice + bob): each mailbox gets exactly one copy."""
    msg = make_message(subject="team and more")
    with server.smtp() as s:
        refused = s.sendmail("sender@client.test", ["alice@example.test", "bob@example.test", "team@example.test"], msg)
        assert refused == {}
    alice = server.wait_delivered("alice", 1)
    bob = server.wait_delivered("bob", 1)
    check_trace(alice[0].read_bytes(), "sender@client.test", msg)
    check_trace(bob[0].read_bytes(), "sender@client.test", msg)
    assert server.maildir("team") == [], "an alias must not get a mailbox of its own"
    server.assert_no_tmp()


def test_alias_expands_to_members(server):
    msg = make_message(subject="to team only")
    with server.smtp() as s:
        s.sendmail("sender@client.test", ["team@example.test"], msg)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "sender@client.test", msg)
    check_trace(server.wait_delivered("bob", 1)[0].read_bytes(), "sender@client.test", msg)


def test_recipient_case_of_domain_is_ignored(server):
    msg = make_message(subject="case")
    with server.smtp() as s:
        s.sendmail("sender@client.test", ["alice@EXAMPLE.Test"], msg)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "sender@client.test", msg)


def test_some_recipients_refused(server):
    msg = make_message(subject="partial")
    with server.smtp() as s:
        refused = s.sendmail("sender@client.test", ["alice@example.test", "nobody@example.test"], msg)
        assert set(refused) == {"nobody@example.test"}
        assert refused["nobody@example.test"][0] == 550
        assert refused["nobody@example.test"][1].startswith(b"5.1.1"), refused
    server.wait_delivered("alice", 1)


def test_all_recipients_refused(server):
    with server.smtp() as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            s.sendmail("sender@client.test", ["nobody@example.test", "x@elsewhere.test"], make_message())
        codes = {k: v[0] for k, v in exc.value.recipients.items()}
        assert codes == {"nobody@example.test": 550, "x@elsewhere.test": 550}
        assert exc.value.recipients["x@elsewhere.test"][1].startswith(b"5.7.1")
        assert s.noop()[0] == 250
    assert server.all_files() == []


def test_send_message_8bitmime(server):
    msg = EmailMessage()
    msg["From"] = "Sender <sender@client.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Grüße 8bit"
    msg["Message-ID"] = "<8bit-test@client.test>"
    msg["Date"] = "Sun, 29 Nov 2026 22:09:00 +0000"
    msg.set_content("Grüße aus Köln — naïve café ☕\nzweite Zeile\n", charset="utf-8", cte="8bit")
    with server.smtp() as s:
        s.ehlo("client.test")
        assert s.has_extn("8bitmime")
        s.send_message(msg, mail_options=["BODY=8BITMIME"])
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf, policy=msg.policy).flatten(msg, linesep="\r\n")
    sent = buf.getvalue()
    assert "Grüße aus Köln".encode("utf-8") in sent  # really 8-bit
    files = server.wait_delivered("alice", 1)
    check_trace(files[0].read_bytes(), "sender@client.test", sent)


def test_smtputf8_sender(server):
    msg = "From: jörg@absender.test\r\nTo: alice@example.test\r\nSubject: UTF-8 Absender\r\n\r\nHallo\r\n".encode()
    with server.smtp() as s:
        s.ehlo("client.test")
        assert s.has_extn("smtputf8")
        s.sendmail("jörg@absender.test", ["alice@example.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    files = server.wait_delivered("alice", 1)
    check_trace(files[0].read_bytes(), "jörg@absender.test", msg, protocol="UTF8SMTP")


def test_smtputf8_recipient_catch_all(server_factory):
    srv = server_factory({"policy": {"catch_all": True}})
    msg = "From: sender@client.test\r\nTo: jörg@example.test\r\nSubject: Umlaut\r\n\r\nHallo Jörg\r\n".encode()
    with srv.smtp() as s:
        refused = s.sendmail("sender@client.test", ["jörg@example.test"], msg, mail_options=["SMTPUTF8"])
        assert refused == {}
    files = srv.wait_all_delivered(1)
    # the Maildir of jörg: named by the local part (percent-escaping of non-plain names is allowed)
    assert urllib.parse.unquote(files[0].parent.parent.name) == "jörg", f"expected the Maildir of jörg: {files[0]}"
    check_trace(files[0].read_bytes(), "sender@client.test", msg, protocol="UTF8SMTP")


def test_non_ascii_address_without_smtputf8_refused(server):
    with server.smtp() as s:
        s.command_encoding = "utf-8"
        s.ehlo("client.test")
        code, text = s.docmd("MAIL FROM:<jörg@absender.test>")
        assert (code, text[:5]) == (553, b"5.6.7"), (code, text)
        code, text = s.docmd("MAIL FROM:<sender@client.test>")
        assert code == 250, (code, text)
        code, text = s.docmd("RCPT TO:<jörg@example.test>")
        assert (code, text[:5]) == (553, b"5.6.7"), (code, text)
        assert s.noop()[0] == 250


def test_several_transactions_on_one_connection(server):
    msgs = [make_message(subject=f"number {i}", msgid=f"<seq-{i}@client.test>") for i in range(5)]
    with server.smtp() as s:
        for i, m in enumerate(msgs):
            s.sendmail("sender@client.test", ["alice@example.test" if i % 2 == 0 else "bob@example.test"], m)
    alice = server.wait_delivered("alice", 3)
    bob = server.wait_delivered("bob", 2)
    stored = sorted(split_stored(p.read_bytes())[2] for p in alice + bob)
    assert stored == sorted(msgs)


def test_rset_discards_transaction(server):
    with server.smtp() as s:
        s.ehlo("client.test")
        assert s.mail("sender@client.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, text = s.rset()
        assert code == 250 and text.startswith(b"2.0.0"), (code, text)
        code, text = s.docmd("DATA")
        assert (code, text[:5]) == (503, b"5.5.1"), (code, text)
        s.sendmail("sender@client.test", ["bob@example.test"], make_message())
    server.wait_delivered("bob", 1)
    assert server.maildir("alice") == []


def test_size_parameter_via_smtplib(server):
    big = MAX_SIZE + 1
    with server.smtp() as s:
        s.ehlo("client.test")
        code, text = s.mail("sender@client.test", [f"SIZE={big}"])
        assert (code, text[:5]) == (552, b"5.3.4"), (code, text)
        code, text = s.mail("sender@client.test", ["SIZE=1000"])
        assert code == 250, (code, text)


def test_quit(server):
    s = server.smtp()
    code, text = s.quit()
    assert code == 221 and text.startswith(b"2.0.0"), (code, text)


def test_same_recipient_twice_one_copy(server):
    msg = make_message(subject="twice")
    with server.smtp() as s:
        refused = s.sendmail("sender@client.test", ["bob@example.test", "BOB@example.test", "bob@example.test"], msg)
        assert refused == {}
    check_trace(server.wait_delivered("bob", 1)[0].read_bytes(), "sender@client.test", msg)
    assert len(server.all_files()) == 1, server.all_files()


def test_local_part_case_is_ignored(server):
    msg = make_message(subject="upper case")
    with server.smtp() as s:
        s.sendmail("sender@client.test", ["ALICE@example.test"], msg)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "sender@client.test", msg)
    assert len(server.all_files()) == 1, server.all_files()


def test_postmaster_is_delivered(server):
    msg = make_message(subject="for the postmaster")
    with server.smtp() as s:
        s.sendmail("sender@client.test", ["postmaster"], msg)
        s.sendmail("sender@client.test", ["postmaster@example.test"], msg)
    files = server.wait_all_delivered(2)
    for f in files:
        assert f.parent.parent.name == "postmaster" and f.parent.parent.parent.name == "example.test", f
        check_trace(f.read_bytes(), "sender@client.test", msg)


def test_one_log_line_per_transaction(server):
    """The daemon logs each transaction's outcome on one line, in swift-log's stream format, with the id the 250
    reply gave the client; and one line when the connection closes."""
    import re
    import time

    with server.smtp() as s:
        s.ehlo("client.test")
        s.mail("sender@client.test")
        s.rcpt("alice@example.test")
        code, text = s.data(make_message(subject="logged"))
        assert code == 250, text
    queued = re.search(rb"queued as (\w+)", text).group(1)
    pattern = re.compile(
        rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info swallow: client=127\.0\.0\.1 conn=(\w+) "
        rb"from=<sender@client\.test> id=(\w+) result=250 2\.0\.0 size=\d+ to=<alice@example\.test> "
        rb"\[SMTPServer\] message accepted$",
        re.M,
    )
    deadline = time.monotonic() + 5
    while True:
        logs = server.full_logs()
        lines = pattern.findall(logs)
        closed = re.findall(rb"^.* conn=(\w+) .*\[SMTPServer\] connection closed$", logs, re.M)
        if lines and lines[0][0] in closed or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1, logs.decode(errors="replace")[-3000:]
    conn, logged_id = lines[0]
    assert logged_id == queued
    assert closed.count(conn) == 1, logs.decode(errors="replace")[-3000:]
