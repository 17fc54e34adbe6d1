"""Outbound delivery end to end, on loopback only: an authenticated user submits mail for `remote.test`, whose MX
(served by a dnslib server the test starts) is an aiosmtpd peer; Swallow queues it, routes it and delivers it.
Permanent failures come back as RFC 3464 bounces in the sender's Maildir; temporary ones are retried."""

import email
import email.policy
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ALICE, BOB, PASSWORDS, expect, make_message
from outbound_peers import LoopbackDNS, LoopbackPeer, SmtpSink

ALICE_PW = PASSWORDS[ALICE]

ZONE = [
    "remote.test. 60 IN MX 10 mx.remote.test.",
    "mx.remote.test. 60 IN A 127.0.0.1",
    "nullmx.test. 60 IN MX 0 .",
    "alias.test. 60 IN CNAME remote.test.",
    "implicit.test. 60 IN A 127.0.0.1",
]


@pytest.fixture
def peers():
    with LoopbackDNS(ZONE, {"servfail.test": "SERVFAIL"}) as dns, LoopbackPeer() as peer:
        yield dns, peer


def relay_server(auth_server_factory, dns, peer, **delivery):
    """A Swallow with alice and bob that delivers other domains through `dns` to `peer` (anything with a
    `port`)."""
    settings = {"nameservers": [dns.address], "port": peer.port, "retry_initial": 1, "retry_maximum": 2,
                "dns_timeout": 2, "greeting_timeout": 10, "command_timeout": 10}
    settings.update(delivery)
    return auth_server_factory({"delivery": settings})


def submit(srv, recipients: list[str], message: bytes, sender: str = ALICE):
    with srv.connect_submission() as c:
        c.start_tls()
        c.login(ALICE, ALICE_PW)
        expect(c.transaction(sender, recipients, message), 250)


def wait_log(srv, text: str, timeout: float = 10.0):
    """Waits for `text` in the server's logs: the worker logs after the session ends, which the peer cannot see."""
    deadline = time.monotonic() + timeout
    while text not in srv.logs(50000):
        assert time.monotonic() < deadline, f"{text!r} not logged"
        time.sleep(0.05)


def wait_bounce(srv, timeout: float = 15.0) -> email.message.EmailMessage:
    files = srv.wait_delivered("alice", 1, timeout=timeout)
    return email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)


def delivery_status(bounce) -> list[dict[str, str]]:
    """The per-recipient groups of the message/delivery-status part, as dicts of field → value."""
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    part = next(p for p in bounce.walk() if p.get_content_type() == "message/delivery-status")
    groups = part.get_payload()
    return [{k.lower(): str(v) for k, v in group.items()} for group in groups[1:]]


def test_mail_for_another_domain_goes_to_its_mx(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer)
    message = make_message(subject="outbound", body=".a line with a leading dot\r\nsecond line")
    submit(srv, ["carol@remote.test", BOB, "dave@REMOTE.test"], message)
    received = peer.wait_messages(1)
    sender, recipients, content = received[0]
    assert sender == ALICE
    assert sorted(recipients) == ["carol@remote.test", "dave@REMOTE.test"]
    # The message arrives as submitted, below Swallow's trace header; the local copy went to bob's Maildir.
    assert content.endswith(message)
    assert content.startswith(b"Received: ")
    assert len(srv.wait_delivered("bob", 1)) == 1
    assert ("remote.test", "MX") in dns.resolver.queries
    time.sleep(0.5)
    assert len(peer.handler.messages) == 1, "delivered once"
    wait_log(srv, "to=<carol@remote.test> relay=mx.remote.test[127.0.0.1]")
    wait_log(srv, "status=sent")


def test_one_swallow_delivers_to_another(auth_server_factory, server_factory, peers):
    dns, _ = peers
    receiver = server_factory({"hostname": "mx.remote.test", "domains": {"remote.test": {"mailboxes": ["carol"]}}})
    sender = relay_server(auth_server_factory, dns, receiver)
    message = make_message(subject="swallow to swallow", body="caf\u00e9 \u2014 8-bit body\r\n.dot")
    submit(sender, ["carol@remote.test"], message)
    stored = receiver.wait_delivered("carol", 1, domain="remote.test", timeout=15)[0].read_bytes()
    # Byte-exact below the trace headers: the receiver's Return-Path and Received, then the sender's Received.
    assert stored.endswith(b"\r\n" + message)
    head = stored[: len(stored) - len(message)]
    assert head.startswith(b"Return-Path: <alice@example.test>\r\nReceived: from mx.example.test")
    assert b"with ESMTPS" in head, "opportunistic STARTTLS was used"
    assert head.count(b"Received: ") == 2
    wait_log(sender, "tls=yes")


def test_smarthost_with_auth(auth_server_factory, peers, tmp_path):
    dns, _ = peers
    # The smarthost is another Swallow's submission port: STARTTLS, then AUTH (SCRAM-SHA-256 there), as carol,
    # who may send as anyone at example.test.
    relay = auth_server_factory(
        {"hostname": "relay.remote.test", "domains": {"remote.test": {"mailboxes": ["carol"]}},
         "auth": {"senders": {"carol@remote.test": ["@example.test"]}}},
        users={"carol@remote.test": "Carol-pw-3vq!"})
    password = tmp_path / "relay-password"
    password.write_text("Carol-pw-3vq!\n")
    srv = relay_server(auth_server_factory, dns, relay, smarthost=f"127.0.0.1:{relay.submission_port}",
                       smarthost_user="carol@remote.test", smarthost_password_file=str(password))
    message = make_message(subject="via the smarthost")
    submit(srv, ["carol@remote.test"], message)
    stored = relay.wait_delivered("carol", 1, domain="remote.test", timeout=15)[0].read_bytes()
    assert stored.endswith(message)
    assert b"with ESMTPSA" in stored[: len(stored) - len(message)], "authenticated inside TLS"
    assert ("remote.test", "MX") not in dns.resolver.queries, "no MX lookup with a smarthost"


def test_one_session_carries_consecutive_messages(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer, concurrency=1, connection_cache_time=5)
    for n in range(3):
        submit(srv, [f"r{n}@remote.test"], make_message(subject=f"message {n}"))
    peer.wait_messages(3)
    assert len(set(peer.handler.sessions)) == 1, "the kept session carried every message"


def test_implicit_mx_and_cname(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer)
    submit(srv, ["x@implicit.test"], make_message(subject="implicit"))
    submit(srv, ["y@alias.test"], make_message(subject="cname"))
    received = peer.wait_messages(2)
    assert sorted(r for _, rs, _ in received for r in rs) == ["x@implicit.test", "y@alias.test"]


def test_permanent_failure_bounces_to_the_sender(auth_server_factory, peers):
    dns, peer = peers
    peer.handler.replies["nobody"] = "550 5.1.1 No such user here"
    srv = relay_server(auth_server_factory, dns, peer)
    message = make_message(subject="will bounce", msgid="<bounce-me@client.test>")
    submit(srv, ["nobody@remote.test", "carol@remote.test"], message)
    peer.wait_messages(1)
    bounce = wait_bounce(srv)
    assert bounce["To"].addresses[0].addr_spec == "alice@example.test"
    groups = delivery_status(bounce)
    assert len(groups) == 1
    assert groups[0]["final-recipient"] == "rfc822; nobody@remote.test"
    assert groups[0]["action"] == "failed"
    assert groups[0]["status"] == "5.1.1"
    assert "550 5.1.1 No such user here" in groups[0]["diagnostic-code"]
    returned = next(p for p in bounce.walk() if p.get_content_type() == "message/rfc822")
    assert returned.get_payload()[0]["Message-ID"] == "<bounce-me@client.test>"
    stored = srv.maildir("alice")[0].read_bytes()
    assert stored.startswith(b"Return-Path: <>\r\n")
    wait_log(srv, "status=bounced")


def test_success_report_when_the_next_hop_offers_no_dsn(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer)
    with srv.connect_submission() as c:
        c.start_tls()
        c.login(ALICE, ALICE_PW)
        expect(c.cmd("MAIL FROM:<alice@example.test> RET=HDRS ENVID=env+2D7"), 250)
        expect(c.cmd("RCPT TO:<carol@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;carol@remote.test"), 250)
        expect(c.cmd("RCPT TO:<dave@remote.test> NOTIFY=NEVER"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(make_message(subject="tell me") + b".\r\n")
        expect(c.read_reply(), 250)
    peer.wait_messages(1)
    report = wait_bounce(srv)
    assert report["Subject"] == "Successful Mail Delivery Report"
    part = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    assert part.get_payload()[0]["Original-Envelope-Id"] == "env-7"
    groups = delivery_status(report)
    assert [g["final-recipient"] for g in groups] == ["rfc822; carol@remote.test"]
    assert groups[0]["action"] == "relayed"
    assert groups[0]["status"] == "2.0.0"
    assert groups[0]["original-recipient"] == "rfc822; carol@remote.test"
    assert any(p.get_content_type() == "text/rfc822-headers" for p in report.walk()), "RET=HDRS"


def test_temporary_failure_is_retried(auth_server_factory, peers):
    dns, peer = peers
    peer.handler.temporary["later"] = 2
    srv = relay_server(auth_server_factory, dns, peer)
    submit(srv, ["later@remote.test"], make_message(subject="retry"))
    received = peer.wait_messages(1, timeout=20)
    assert received[0][1] == ["later@remote.test"]
    assert peer.handler.rcpt_attempts["later"] == 3
    wait_log(srv, "status=deferred")
    time.sleep(2.5)
    assert len(peer.handler.messages) == 1
    assert srv.maildir("alice") == [], "no bounce for mail that was delivered"


def test_delay_warning_then_delivery(auth_server_factory, peers):
    dns, peer = peers
    peer.handler.temporary["slow"] = 3
    srv = relay_server(auth_server_factory, dns, peer, delay_warning=1)
    submit(srv, ["slow@remote.test"], make_message(subject="slow one"))
    warning = wait_bounce(srv, timeout=20)
    assert warning["Subject"] == "Delayed Mail (still being retried)"
    groups = delivery_status(warning)
    assert groups[0]["action"] == "delayed"
    assert groups[0]["status"] == "4.3.0"
    assert peer.wait_messages(1, timeout=30)[0][1] == ["slow@remote.test"]
    time.sleep(1.5)
    assert len(srv.maildir("alice")) == 1, "one warning per message"


@pytest.mark.parametrize("domain, status", [("nullmx.test", "5.1.10"), ("nowhere.test", "5.1.2")])
def test_domains_that_take_no_mail_bounce_at_once(auth_server_factory, peers, domain, status):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer)
    submit(srv, [f"x@{domain}"], make_message(subject=domain))
    groups = delivery_status(wait_bounce(srv))
    assert groups[0]["status"] == status
    assert peer.handler.messages == []


def test_dns_failure_defers_and_expiry_bounces(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer, lifetime=3)
    submit(srv, ["x@servfail.test"], make_message(subject="servfail"))
    bounce = wait_bounce(srv, timeout=20)
    groups = delivery_status(bounce)
    assert groups[0]["action"] == "failed"
    assert groups[0]["status"].startswith("4.")
    assert "expired" in bounce.get_body(("plain",)).get_content()
    wait_log(srv, "status=deferred")


def test_null_sender_gets_no_bounce(auth_server_factory, peers):
    dns, peer = peers
    peer.handler.replies["nobody"] = "550 5.1.1 No such user here"
    srv = relay_server(auth_server_factory, dns, peer)
    with srv.connect_submission() as c:
        c.start_tls()
        c.login(ALICE, ALICE_PW)
        expect(c.cmd("MAIL FROM:<>"), 553)  # an authenticated user may not send as <>: nothing to bounce to
    submit(srv, ["nobody@remote.test"], make_message(subject="x"))
    wait_bounce(srv)  # the bounce of alice's message, from <>, is not bounced again
    time.sleep(1.5)
    assert len(srv.maildir("alice")) == 1


def test_queued_mail_survives_a_restart(auth_server_factory, peers):
    dns, peer = peers
    # The peer refuses for now; the first retry comes after the restart.
    peer.handler.temporary["carol"] = 1
    srv = relay_server(auth_server_factory, dns, peer, retry_initial=3, retry_maximum=3)
    submit(srv, ["carol@remote.test"], make_message(subject="restart"))
    deadline = time.monotonic() + 10
    while peer.handler.rcpt_attempts.get("carol", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill()
    srv.start()
    received = peer.wait_messages(1, timeout=20)
    assert received[0][1] == ["carol@remote.test"]


def test_shutdown_does_not_wait_for_a_silent_peer(auth_server_factory, peers):
    dns, _ = peers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the kernel; nobody ever greets

    class Silent:
        port = silent.getsockname()[1]

    try:
        srv = relay_server(auth_server_factory, dns, Silent, greeting_timeout=300)
        submit(srv, ["carol@remote.test"], make_message(subject="silent"))
        time.sleep(1.5)  # the worker is now waiting for a greeting
        started = time.monotonic()
        assert srv.stop() == 0
        assert time.monotonic() - started < 10, "the delivery in flight held up the shutdown"
        queued = [p for p in (srv.data_dir / "queue").iterdir() if p.suffix == ".env"]
        assert len(queued) == 1, "the message stays queued for the next start"
    finally:
        silent.close()


def test_binarymime_is_not_relayed(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer)
    body = make_message(subject="binary")
    with srv.connect_submission() as c:
        c.start_tls()
        c.login(ALICE, ALICE_PW)
        expect(c.cmd("MAIL FROM:<alice@example.test> BODY=BINARYMIME"), 250)
        expect(c.cmd("RCPT TO:<carol@remote.test>"), 250)
        c.send(f"BDAT {len(body)} LAST\r\n".encode() + body)
        expect(c.read_reply(), 554, "5.6.3")


def test_a_bounce_that_fails_goes_to_the_postmaster(auth_server_factory, peers):
    dns, peer = peers
    peer.handler.replies["nobody"] = "550 5.1.1 No such user here"
    srv = relay_server(auth_server_factory, dns, peer, trusted_networks=["127.0.0.0/8"])
    with srv.connect() as c:  # a trusted client whose sender domain does not exist
        c.start()
        expect(c.transaction("app@nowhere.test", ["nobody@remote.test"], make_message(subject="doomed")), 250)
    # The bounce to app@nowhere.test (from <>) fails with NXDOMAIN: the postmaster gets a double bounce.
    files = srv.wait_delivered("postmaster", 1, timeout=20)
    report = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    groups = delivery_status(report)
    assert groups[0]["final-recipient"] == "rfc822; app@nowhere.test"
    assert groups[0]["status"] == "5.1.2"
    time.sleep(1.5)
    assert len(srv.maildir("postmaster")) == 1, "a double bounce is never bounced again"


needs_smtp_sink = pytest.mark.skipif(not SmtpSink.available(), reason="Postfix's smtp-sink is not installed")


@needs_smtp_sink
def test_delivery_into_postfix_smtp_sink(auth_server_factory, peers, tmp_path):
    dns, _ = peers
    with SmtpSink() as sink:
        srv = relay_server(auth_server_factory, dns, sink)
        message = make_message(subject="to postfix", body="caf\u00e9")
        submit(srv, ["carol@remote.test", "dave@remote.test"], message)
        dump = sink.wait_dumps(1)[0]
        assert b"X-Mail-Args: <alice@example.test> BODY=8BITMIME" in dump
        assert dump.count(b"X-Rcpt-Args:") == 2
        # smtp-sink writes its dump with LF line ends and a final empty line.
        assert message.replace(b"\r\n", b"\n") + b"\n" in dump


@needs_smtp_sink
def test_helo_only_peer_gets_no_8bit_mail(auth_server_factory, peers, tmp_path):
    dns, _ = peers
    # smtp-sink -e: no ESMTP, so no 8BITMIME: the 8-bit message is refused for good, not down-converted.
    with SmtpSink("-e") as sink:
        srv = relay_server(auth_server_factory, dns, sink)
        submit(srv, ["carol@remote.test"], make_message(subject="8 bit", body="caf\u00e9"))
        groups = delivery_status(wait_bounce(srv))
        assert groups[0]["status"] == "5.6.3"
        assert "not down-converted" in groups[0]["diagnostic-code"]
        # A 7-bit message goes through after HELO.
        submit(srv, ["carol@remote.test"], make_message(subject="7 bit"))
        assert b"X-Client-Proto: SMTP" in sink.wait_dumps(1)[0]


@needs_smtp_sink
def test_hard_bounce_from_postfix_smtp_sink(auth_server_factory, peers, tmp_path):
    dns, _ = peers
    with SmtpSink("-f", "RCPT") as sink:
        srv = relay_server(auth_server_factory, dns, sink)
        submit(srv, ["carol@remote.test"], make_message(subject="refused"))
        groups = delivery_status(wait_bounce(srv))
        assert groups[0]["action"] == "failed"
        assert groups[0]["status"].startswith("5.")
        assert list(sink.dir.iterdir()) == []


def test_anonymous_clients_still_cannot_relay(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer)
    with srv.connect() as c:
        c.start()
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)
        expect(c.cmd("RCPT TO:<carol@remote.test>"), 550, "5.7.1")


def test_trusted_networks_relay_without_auth(auth_server_factory, peers):
    dns, peer = peers
    srv = relay_server(auth_server_factory, dns, peer, trusted_networks=["127.0.0.0/8"])
    with srv.connect() as c:  # anonymous, MX port, plaintext: trusted by address
        c.start()
        expect(c.transaction("app@client.test", ["carol@remote.test"], make_message(subject="trusted")), 250)
    assert peer.wait_messages(1)[0][0] == "app@client.test"


def test_the_readme_example_sends_a_message(server):
    binary = Path(os.environ.get("SWALLOW_BIN", ".build/debug/swallow")).parent / "SendMail"
    if not binary.exists():
        pytest.skip("the SendMail example is not built")
    done = subprocess.run([str(binary), str(server.port)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "<bob@example.test>: 250 2.0.0" in done.stdout
    assert len(server.wait_delivered("bob", 1)) == 1
