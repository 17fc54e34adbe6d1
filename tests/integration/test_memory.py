"""Memory given back: after a burst of idle connections has closed, the daemon returns the freed heap to the
system (glibc keeps it otherwise) instead of staying at its peak."""

import resource
import socket
import time

import pytest

from conftest import HOST

CONNECTIONS = 4000


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_greeted(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection((HOST, port), timeout=10)
        socks.append(s)
    for s in socks:
        assert s.recv(512).startswith(b"220"), "no greeting"
    return socks


def test_freed_heap_goes_back_after_a_burst_of_connections(server_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = CONNECTIONS + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    srv = server_factory({"limits": {"max_connections": CONNECTIONS + 100,
                                     "max_connections_per_client": CONNECTIONS + 100}})
    pid = srv.proc.pid
    idle = rss_kb(pid)
    socks = open_greeted(srv.port, CONNECTIONS)
    peak = rss_kb(pid)
    grown = peak - idle
    assert grown > 8 * 1024, f"{CONNECTIONS} connections grew RSS by only {grown} KB; the test needs more"
    for s in socks:
        s.close()
    # The trimmer looks every 5 s; give it three looks.
    deadline = time.monotonic() + 16
    now = peak
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_kb(pid)
        if now < idle + grown * 0.4:
            break
    assert now < idle + grown * 0.4, (
        f"RSS idle {idle} KB, with {CONNECTIONS} connections {peak} KB, 16 s after closing them {now} KB")
    # And the server still serves.
    with srv.smtp() as s:
        assert s.noop()[0] == 250


IDLE_AFTER_MESSAGE = 300


def test_an_idle_connection_does_not_keep_its_message_buffers(server_factory):
    """A 100 KB body is read in large reads; a connection that then stays open must not keep those buffers (it
    kept about 90 KB each: the handler's input buffer and NIO's pooled receive buffer, both grown to 64 KiB)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE_AFTER_MESSAGE + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    srv = server_factory({"limits": {"max_connections": IDLE_AFTER_MESSAGE + 100,
                                     "max_connections_per_client": IDLE_AFTER_MESSAGE + 100}})
    pid = srv.proc.pid
    conns = [srv.connect() for _ in range(IDLE_AFTER_MESSAGE)]
    for c in conns:
        c.start()
    before = rss_kb(pid)
    body = b"Subject: idle after this\r\n\r\n" + (b"x" * 998 + b"\r\n") * 100 + b".\r\n"
    for c in conns:
        assert c.cmd("MAIL FROM:<a@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(body)
        assert c.read_reply().code == 250
    # Freed buffers count until the heap trimmer (every 5 s) gives them back; kept ones never leave.
    deadline = time.monotonic() + 12
    per_connection = None
    while time.monotonic() < deadline:
        per_connection = (rss_kb(pid) - before) / IDLE_AFTER_MESSAGE
        if per_connection < 40:
            break
        time.sleep(0.5)
    assert per_connection < 40, f"each idle connection keeps {per_connection:.1f} KB after one 100 KB message"
    for c in conns:
        c.close()
