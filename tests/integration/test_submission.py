"""The submission listeners (RFC 6409 on `submission`, RFC 8314 implicit TLS on `submissions`): AUTH before
MAIL, sender ownership and [auth.senders], relaying for authenticated users versus anonymous MX sessions, and
real clients (smtplib SMTP_SSL, swaks --tls-on-connect)."""

import re
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import (
    ALICE,
    BOB,
    HOST,
    PASSWORDS,
    SMTPConn,
    check_trace,
    client_tls_context,
    ehlo_keywords,
    expect,
    make_message,
)

ALICE_PW = PASSWORDS[ALICE]


def submission_session(srv, user=None, password=None) -> SMTPConn:
    """The plaintext submission port with STARTTLS, EHLO inside TLS and, given a user, AUTH PLAIN."""
    c = srv.connect_submission()
    try:
        c.start_tls()
        if user:
            c.login(user, password)
    except BaseException:
        c.close()
        raise
    return c


def submissions_session(srv, user=None, password=None) -> SMTPConn:
    """The implicit-TLS port: handshake, greeting, EHLO and, given a user, AUTH PLAIN."""
    c = srv.connect_submissions()
    try:
        c.start()
        if user:
            c.login(user, password)
    except BaseException:
        c.close()
        raise
    return c


# ---------------------------------------------------------------------------------------------------------------
# AUTH before MAIL


def test_submission_plaintext_requires_tls_and_auth(auth_server_factory):
    srv = auth_server_factory()
    with srv.connect_submission() as c:
        ehlo = c.start()
        keywords = ehlo_keywords(ehlo)
        assert "STARTTLS" in keywords, ehlo
        assert "AUTH" not in keywords, f"AUTH offered without TLS on the submission port: {ehlo!r}"
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0")
        expect(c.auth_plain(ALICE, ALICE_PW), 538, "5.7.11")
        expect(c.cmd("QUIT"), 221)


@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_mail_requires_auth(auth_server_factory, listener):
    srv = auth_server_factory()
    session = submission_session if listener == "submission" else submissions_session
    with session(srv) as c:
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0")
        expect(c.cmd("MAIL FROM:<>"), 530, "5.7.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 503)
        expect(c.cmd("DATA"), 503)
        expect(c.cmd("TURN"), 530, "5.7.0")
        ehlo = c.ehlo()
        keywords = ehlo_keywords(ehlo)
        assert "STARTTLS" not in keywords, ehlo
        assert set(m.upper() for m in keywords.get("AUTH", [])) == {"PLAIN", "LOGIN", "SCRAM-SHA-256"}, ehlo
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)


@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_submit_to_local_user(auth_server_factory, listener):
    srv = auth_server_factory()
    session = submission_session if listener == "submission" else submissions_session
    msg = make_message(subject=f"submitted via {listener}")
    with session(srv, ALICE, ALICE_PW) as c:
        c.transaction(ALICE, [BOB, "team@example.test"], msg)
        expect(c.cmd("QUIT"), 221)
    received = check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPSA")
    assert re.search(rb"\(using TLSv1\.[23]", re.sub(rb"\r\n[ \t]", b" ", received)), received
    check_trace(srv.wait_delivered("alice", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPSA")


# ---------------------------------------------------------------------------------------------------------------
# Whose sender addresses


def test_sender_must_belong_to_the_user(auth_server_factory):
    srv = auth_server_factory()
    with submission_session(srv, ALICE, ALICE_PW) as c:
        expect(c.cmd("MAIL FROM:<bob@example.test>"), 553, "5.7.1")
        expect(c.cmd("MAIL FROM:<someone@elsewhere.test>"), 553, "5.7.1")
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    with submission_session(srv, BOB, PASSWORDS[BOB]) as c:
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 553, "5.7.1")
        expect(c.cmd("MAIL FROM:<bob@example.test>"), 250)


def test_auth_senders_extend_the_allowed_addresses(auth_server_factory):
    srv = auth_server_factory({"auth": {"senders": {ALICE: ["@example.test", "carol@other.test"]}}})
    msg = make_message(subject="as bob")
    with submission_session(srv, ALICE, ALICE_PW) as c:
        expect(c.cmd("MAIL FROM:<carol@other.test>"), 250)
        expect(c.cmd("RSET"), 250)
        expect(c.cmd("MAIL FROM:<dave@other.test>"), 553, "5.7.1")
        expect(c.cmd("MAIL FROM:<anyone@sub.example.test>"), 553, "5.7.1")
        c.transaction(BOB, [BOB], msg)
    check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), BOB, msg, protocol="ESMTPSA")
    with submission_session(srv, BOB, PASSWORDS[BOB]) as c:  # the list is alice's, not bob's
        expect(c.cmd("MAIL FROM:<carol@other.test>"), 553, "5.7.1")


# ---------------------------------------------------------------------------------------------------------------
# Relaying


def test_relay_for_authenticated_users_is_queued_but_never_open(auth_server_factory):
    srv = auth_server_factory()
    with submission_session(srv, ALICE, ALICE_PW) as c:
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)
        expect(c.cmd("RCPT TO:<x@elsewhere.test>"), 250)  # into the outbound queue (test_outbound.py)
        expect(c.cmd("RCPT TO:<nosuchuser@example.test>"), 550)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
    with srv.connect() as c:  # anonymous, MX, plaintext
        c.start()
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)
        expect(c.cmd("RCPT TO:<x@elsewhere.test>"), 550, "5.7.1")
    with srv.connect() as c:  # anonymous, MX, inside TLS
        c.start_tls()
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)
        expect(c.cmd("RCPT TO:<x@elsewhere.test>"), 550, "5.7.1")
    with srv.connect() as c:  # a failed AUTH does not open the relay
        c.start_tls()
        expect(c.auth_plain(ALICE, "wrong-password"), 535)
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.cmd("RCPT TO:<x@elsewhere.test>"), 550, "5.7.1")


# ---------------------------------------------------------------------------------------------------------------
# Implicit TLS


def test_smtplib_smtp_ssl(auth_server_factory):
    srv = auth_server_factory()
    msg = make_message(subject="SMTP_SSL")
    with smtplib.SMTP_SSL(HOST, srv.submissions_port, local_hostname="client.test", timeout=10,
                          context=client_tls_context()) as s:
        code, _ = s.ehlo()
        assert code == 250
        assert not s.has_extn("starttls"), s.esmtp_features
        assert s.has_extn("auth"), s.esmtp_features
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            s.sendmail(ALICE, [BOB], msg)
        assert info.value.smtp_code == 530
        s.login(ALICE, ALICE_PW)
        assert s.sendmail(ALICE, [BOB], msg) == {}
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
    check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPSA")


def test_starttls_on_implicit_tls_port(auth_server_factory):
    """TLS is already on, as after STARTTLS on the MX port: 503 5.5.1, and the session goes on."""
    srv = auth_server_factory()
    with submissions_session(srv) as c:
        expect(c.cmd("STARTTLS"), 503, "5.5.1")
        expect(c.cmd("NOOP"), 250)


def test_plaintext_client_on_implicit_tls_port(auth_server_factory):
    srv = auth_server_factory()
    with socket.create_connection((HOST, srv.submissions_port), timeout=10) as s:
        s.settimeout(1.5)
        try:
            early = s.recv(4096)
        except (socket.timeout, TimeoutError):
            early = None
        assert early is None, f"the implicit-TLS port spoke first in plaintext: {early!r}"
        s.sendall(b"EHLO client.test\r\nMAIL FROM:<alice@example.test>\r\n")
        data = b""
        deadline = time.monotonic() + 10
        for _ in range(1000):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"connection still open 10 s after a plaintext EHLO; got {data!r}"
            s.settimeout(remaining)
            try:
                chunk = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                break
            except (socket.timeout, TimeoutError):
                raise AssertionError(f"connection still open 10 s after a plaintext EHLO; got {data!r}")
            if not chunk:
                break
            data += chunk
        assert not re.search(rb"(^|\n)[2-5]\d\d[ -]", data), f"SMTP replies in plaintext: {data!r}"
    assert srv.alive()
    with submissions_session(srv, ALICE, ALICE_PW) as c:
        expect(c.cmd("NOOP"), 250)
    srv.assert_healthy()


@pytest.mark.parametrize("mode", ["tls-on-connect", "starttls"])
def test_swaks_submission(auth_server_factory, mode):
    srv = auth_server_factory()
    if mode == "tls-on-connect":
        args = ["--port", str(srv.submissions_port), "--tls-on-connect"]
    else:
        args = ["--port", str(srv.submission_port), "--tls"]
    proc = subprocess.run(
        ["swaks", "--server", HOST, *args, "--auth", "LOGIN", "--auth-user", ALICE, "--auth-password", ALICE_PW,
         "--from", ALICE, "--to", BOB, "--ehlo", "client.test", "--header", f"Subject: swaks {mode}",
         "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"swaks exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    data = srv.wait_delivered("bob", 1)[0].read_bytes()
    assert f"swaks {mode}".encode() in data
    assert re.search(rb"with ESMTPSA\b", data), data[:600]


def test_swaks_submission_without_auth_is_refused(auth_server_factory):
    srv = auth_server_factory()
    proc = subprocess.run(
        ["swaks", "--server", HOST, "--port", str(srv.submissions_port), "--tls-on-connect", "--from", ALICE,
         "--to", BOB, "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 23, f"expected swaks to fail at MAIL (23), got {proc.returncode}\n{proc.stdout}"
    assert "530 5.7.0" in proc.stdout, proc.stdout
    assert srv.maildir("bob") == []
