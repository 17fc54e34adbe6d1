"""The real Exim (Debian's exim4-daemon-light 4.96) delivering to Swallow: plaintext (BDAT and DATA), STARTTLS
with the server's certificate verified, implicit TLS on the `submissions` listener and AUTH PLAIN on the
`submission` listener.

Exim is fetched with `apt-get download` and unpacked beside the tests (see exim_peer.py; `.ci/run` does it up
front); these tests are skipped only when it cannot be obtained at all. Each message is injected with
`exim4 -C CONFIG -odi -v`, so Exim has tried to deliver it when the command returns. A test passes only when the
message (found by its Message-ID) is in Swallow's Maildir, Exim logged `=>` for it to Swallow's port and
`Completed`, and Exim's queue is empty.

Without TLS Exim pipelines MAIL, RCPT, `BDAT <n> LAST` with the body and QUIT, then half-closes its side before it
reads the replies (issue 16); with CHUNKING off it sends the body, `.` and QUIT after the 354, then half-closes.
"""

from __future__ import annotations

import re
import time

import pytest

import exim_peer
from conftest import ALICE, BOB, PASSWORDS, make_message, split_stored

SENDER = "sender@client.test"
VERIFIED_TLS = ["tls_verify_certificates = CERT", "tls_verify_hosts = *"]
NO_CHUNKING = ["hosts_try_chunking ="]


@pytest.fixture(scope="session")
def exim_binary():
    try:
        return exim_peer.obtain()
    except exim_peer.EximUnavailable as e:
        pytest.skip(f"Exim cannot be obtained on this machine: {e}")


@pytest.fixture
def exim(exim_binary, request):
    """`exim(port, transport=[...], auth=None, cert=None)` → an EximPeer routing everything to 127.0.0.1:port."""
    peers: list[exim_peer.EximPeer] = []

    def make(port: int, transport: list[str] | None = None, auth: tuple[str, str] | None = None,
             cert=None) -> exim_peer.EximPeer:
        peer = exim_peer.EximPeer(exim_binary, port, transport, auth, cert)
        peers.append(peer)
        return peer

    yield make
    failed = getattr(request.node, "rep_call", None)
    for peer in peers:
        if failed is not None and failed.failed:
            print(f"\n=== exim ({peer.config_path}) ===\n{peer.config_path.read_text()}\n{peer.logs()}")
        peer.cleanup()


def stored_with(srv, user: str, msgid: str, timeout: float = 5.0) -> bytes | None:
    """The stored file of `user` that has the Message-ID, waiting up to `timeout` seconds."""
    needle = f"Message-ID: {msgid}".encode()
    deadline = time.monotonic() + timeout
    while True:
        for path in srv.maildir(user):
            data = path.read_bytes()
            if needle in data:
                return data
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def deliver(srv, peer: exim_peer.EximPeer, port: int, sender: str = SENDER, user: str = "bob",
            subject: str = "via exim") -> tuple[bytes, str]:
    """Injects one message into Exim for user@example.test and asserts Swallow stored it and Exim says so.

    Returns (the stored file, Exim's `=>` log line)."""
    msgid = f"<exim-{time.time_ns()}@client.test>"
    rcpt = f"{user}@example.test"
    # local submission: LF line endings, as any program piping into sendmail would
    message = make_message(subject=subject, msgid=msgid, body="Hello from Exim.\r\n.a line with a dot\r\nbye.")
    message = message.replace(b"To: Alice <alice@example.test>", f"To: <{rcpt}>".encode()).replace(b"\r\n", b"\n")
    proc = peer.send(sender, [rcpt], message)
    dialogue = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    stored = stored_with(srv, user, msgid)
    log = peer.mainlog()
    context = (f"exim exit {proc.returncode}; exim -v output:\n{dialogue[-5000:]}\n{peer.logs()}\n"
               f"exim queue:\n{peer.queue()}\n{srv.logs()}")
    assert stored is not None, f"Exim's message {msgid} never arrived in {rcpt}'s Maildir\n{context}"
    m = re.search(rf"^.* => {re.escape(rcpt)} .*$", log, re.M)
    assert m, f"Exim did not log a delivery (=>) to {rcpt}\n{context}"
    line = m.group(0)
    assert f"H=127.0.0.1 [127.0.0.1]:{port}" in line, f"Exim delivered somewhere else: {line}\n{context}"
    assert re.search(r"^.* Completed$", log, re.M), f"Exim did not log Completed\n{context}"
    assert not re.search(r" (==|\*\*) ", log), f"Exim logged a deferral or bounce\n{context}"
    assert peer.queue().strip() == "", f"Exim's queue is not empty\n{context}"
    assert stored.count(b"Message-ID: ") == 1, stored[:2000]
    assert b"Hello from Exim.\r\n..a line with a dot\r\n" not in stored, "dot-stuffing left in the stored message"
    assert b"Hello from Exim.\r\n.a line with a dot\r\nbye.\r\n" in stored, stored[-500:]
    return stored, line


def received_with(stored: bytes) -> str:
    """The `with` word of the Received header Swallow wrote."""
    _, received, _ = split_stored(stored)
    unfolded = re.sub(rb"\r\n[ \t]", b" ", received).decode("utf-8", "replace")
    m = re.search(r"\bwith (\S+)", unfolded)
    assert m, unfolded
    return m.group(1).rstrip(";")


def tls_cert(srv):
    path = srv.data_dir / "tls" / "cert.pem"
    assert path.is_file(), f"no self-signed certificate at {path}"
    return path


# --------------------------------------------------------------------------------------------------------------
# Anonymous relay to the mail exchange listener


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_exim_plaintext(server, exim, chunking):
    """hosts_avoid_tls: the exact dialogue of issue 16 (pipelined end of data, QUIT, then half-close)."""
    peer = exim(server.port, ["hosts_avoid_tls = *", *([] if chunking else NO_CHUNKING)])
    stored, line = deliver(server, peer, server.port, subject=f"exim plaintext {'bdat' if chunking else 'data'}")
    assert (" K " in line) == chunking, f"CHUNKING {'not ' if chunking else ''}used: {line}"
    assert " X=" not in line, f"TLS used despite hosts_avoid_tls: {line}"
    assert received_with(stored) == "ESMTP", stored[:600]
    server.assert_no_tmp()


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_exim_starttls(server, exim, chunking):
    """hosts_require_tls with Swallow's self-signed certificate verified (its names include 127.0.0.1)."""
    peer = exim(server.port, ["hosts_require_tls = *", *VERIFIED_TLS, *([] if chunking else NO_CHUNKING)],
                cert=tls_cert(server))
    stored, line = deliver(server, peer, server.port, subject=f"exim starttls {'bdat' if chunking else 'data'}")
    assert re.search(r" X=TLS1\.[23]", line), f"not delivered over TLS 1.2/1.3: {line}"
    assert " CV=yes" in line, f"certificate not verified: {line}"
    assert (" K " in line) == chunking, line
    assert received_with(stored) == "ESMTPS", stored[:600]


# --------------------------------------------------------------------------------------------------------------
# Exim as an authenticated client on the submission listeners


def test_exim_implicit_tls_auth(auth_server_factory, exim):
    """`protocol = smtps` to the `submissions` listener (which requires AUTH before MAIL)."""
    srv = auth_server_factory()
    port = srv.submissions_port
    peer = exim(port, ["protocol = smtps", *VERIFIED_TLS], auth=(ALICE, PASSWORDS[ALICE]), cert=tls_cert(srv))
    stored, line = deliver(srv, peer, port, sender=ALICE, subject="exim implicit TLS")
    assert re.search(r" X=TLS1\.[23]", line), f"not delivered over TLS: {line}"
    assert " A=plain_client" in line, f"not authenticated: {line}"
    assert received_with(stored) == "ESMTPSA", stored[:600]


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_exim_starttls_auth(auth_server_factory, exim, chunking):
    """STARTTLS then AUTH PLAIN on the `submission` listener, as alice sending to bob."""
    srv = auth_server_factory()
    port = srv.submission_port
    peer = exim(port, ["hosts_require_tls = *", *VERIFIED_TLS, *([] if chunking else NO_CHUNKING)],
                auth=(ALICE, PASSWORDS[ALICE]), cert=tls_cert(srv))
    stored, line = deliver(srv, peer, port, sender=ALICE, subject="exim AUTH")
    assert " A=plain_client" in line, f"not authenticated: {line}"
    assert re.search(r" X=TLS1\.[23]", line), line
    assert (" K " in line) == chunking, line
    assert received_with(stored) == "ESMTPSA", stored[:600]
    assert stored.startswith(f"Return-Path: <{ALICE}>\r\n".encode()), stored[:200]


def test_exim_auth_wrong_password_is_not_delivered(auth_server_factory, exim):
    """The control: with a wrong password Swallow refuses and Exim keeps the message (deferred), nothing stored."""
    srv = auth_server_factory()
    port = srv.submission_port
    peer = exim(port, ["hosts_require_tls = *", *VERIFIED_TLS], auth=(ALICE, "wrong-password"), cert=tls_cert(srv))
    msgid = f"<exim-bad-{time.time_ns()}@client.test>"
    message = make_message(subject="wrong password", msgid=msgid).replace(b"\r\n", b"\n")
    proc = peer.send(ALICE, [BOB], message)
    assert peer.wait_log(r" == bob@example\.test ", timeout=10), (
        f"Exim did not defer after 535\n{(proc.stdout + proc.stderr).decode('utf-8', 'replace')}\n{peer.logs()}")
    assert stored_with(srv, "bob", msgid, timeout=1.0) is None
    assert srv.maildir("bob") == []


def test_exim_queue_run_reuses_connection(server, exim):
    """Three queued messages delivered by one queue run (`-qqf`) over one connection (Exim marks the reused one
    with `*` after the port), the last one ending with the pipelined QUIT and the half-close."""
    peer = exim(server.port, ["hosts_avoid_tls = *"])
    ids = [f"<exim-q{i}-{time.time_ns()}@client.test>" for i in range(3)]
    for i, msgid in enumerate(ids):
        message = make_message(subject=f"queued {i}", msgid=msgid).replace(b"\r\n", b"\n")
        proc = peer.run(["-odq", "-oi", "-f", SENDER, "--", BOB], input=message)
        assert proc.returncode == 0, f"exim -odq exited {proc.returncode}: {proc.stderr!r}\n{peer.logs()}"
    proc = peer.run(["-qqf", "-v"])
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    context = (f"exim -qqf exit {proc.returncode}; output:\n{output[-5000:]}\n{peer.logs()}\n"
               f"exim queue:\n{peer.queue()}\n{server.logs()}")
    for msgid in ids:
        assert stored_with(server, "bob", msgid) is not None, f"{msgid} never arrived\n{context}"
    log = peer.mainlog()
    assert not re.search(r" (==|\*\*) ", log), f"Exim logged a deferral or bounce\n{context}"
    deliveries = re.findall(rf"^.* => {re.escape(BOB)} .*H=127\.0\.0\.1 \[127\.0\.0\.1\]:{server.port}(\*?) .*$", log,
                            re.M)
    assert len(deliveries) == 3, f"expected 3 deliveries (=>) to Swallow\n{context}"
    assert deliveries.count("*") == 2, f"Exim did not reuse its connection for the 2nd and 3rd message\n{context}"
    assert log.count(" Completed") == 3, context
    assert peer.queue().strip() == "", f"Exim's queue is not empty\n{context}"
    server.wait_delivered("bob", 3)
