"""Graceful shutdown on SIGTERM / SIGINT."""

import signal
import socket
import subprocess
import time

import pytest

from conftest import check_trace, make_message


def signal_and_wait(srv, sig, timeout: float) -> float:
    started = time.monotonic()
    srv.signal(sig)
    try:
        srv.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        srv.stop()
        pytest.fail(f"swallow did not exit within {timeout}s of {sig.name}\n{srv.logs()}")
    srv.stop()  # records the exit code, closes the logs
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_server_exits_zero(server, sig):
    elapsed = signal_and_wait(server, sig, timeout=5)
    assert server.exit_code == 0, f"exit status {server.exit_code} after {sig.name}\n{server.logs()}"
    assert elapsed < 5
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).close()


def test_idle_client_gets_421(server_factory):
    srv = server_factory({"timeouts": {"shutdown_grace": 2}})
    c = srv.connect()
    c.start()
    c2 = srv.connect()
    c2.greeting()  # never said EHLO
    srv.signal(signal.SIGTERM)
    for conn in (c, c2):
        replies = conn.read_until_closed(timeout=8)
        assert [r.code for r in replies] == [421], f"idle client should get exactly one 421 and a close: {replies!r}"
        conn.close()
    try:
        srv.proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("swallow still running 8 s after SIGTERM with a 2 s grace period")
    srv.stop()
    assert srv.exit_code == 0, srv.logs()


def test_transaction_in_progress_can_finish(server_factory):
    """A client in the middle of DATA when SIGTERM arrives may finish within the grace period."""
    srv = server_factory({"timeouts": {"shutdown_grace": 5}})
    msg = make_message(subject="during shutdown")
    with srv.connect() as c:
        c.start()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(msg[:20])
        srv.signal(signal.SIGTERM)
        time.sleep(0.5)
        c.send(msg[20:] + b".\r\n")
        r = c.read_reply()
        assert r.code == 250, f"the message in flight should be accepted during the grace period: {r!r}"
        # now idle: the server says goodbye with 421 and closes
        replies = c.read_until_closed(timeout=8)
        assert [x.code for x in replies] == [421], replies
    check_trace(srv.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg)
    try:
        srv.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("swallow still running after the grace period")
    srv.stop()
    assert srv.exit_code == 0, srv.logs()
    srv.assert_no_tmp()


def test_stuck_client_does_not_block_exit(server_factory):
    """A client that never finishes its DATA is cut off after shutdown_grace; nothing partial is stored."""
    srv = server_factory({"timeouts": {"shutdown_grace": 2}})
    c = srv.connect()
    try:
        c.start()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: never ends\r\n\r\npartial")
        elapsed = signal_and_wait(srv, signal.SIGTERM, timeout=10)
        assert srv.exit_code == 0, srv.logs()
        assert elapsed < 8, f"took {elapsed:.1f}s with a 2 s grace period"
    finally:
        c.close()
    assert srv.all_files() == []
    srv.assert_no_tmp(timeout=0)
