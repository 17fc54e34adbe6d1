"""Many clients at once: every accepted message is stored exactly once, intact."""

import collections
import concurrent.futures
import re
import smtplib
import time

import pytest

from conftest import check_trace, make_message, split_stored

THREADS = 50
PER_THREAD = 20


def _client(server, worker: int) -> list[str]:
    sent = []
    with server.smtp(timeout=30) as s:
        for i in range(PER_THREAD):
            msgid = f"<w{worker}-m{i}@client.test>"
            rcpt = "alice@example.test" if (worker + i) % 2 == 0 else "bob@example.test"
            body = f"worker {worker} message {i}\r\n" + ("filler line\r\n" * (i * 7))
            refused = s.sendmail(f"w{worker}@client.test", [rcpt], make_message(subject=f"w{worker} m{i}",
                                                                               body=body, msgid=msgid))
            assert refused == {}
            sent.append(msgid)
        s.quit()
    return sent


def test_fifty_clients_twenty_messages_each(server):
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(_client, server, w) for w in range(THREADS)]
        errors = []
        sent = []
        for f in futures:
            try:
                sent.extend(f.result(timeout=180))
            except Exception as e:  # noqa: BLE001 - collect every failure
                errors.append(repr(e))
    assert not errors, f"{len(errors)} clients failed, e.g. {errors[:5]}"
    assert len(sent) == THREADS * PER_THREAD

    files = server.wait_all_delivered(THREADS * PER_THREAD, timeout=60)
    counts = collections.Counter()
    for p in files:
        data = p.read_bytes()
        _, _, content = split_stored(data)
        m = re.search(rb"^Message-ID: (<[^>]+>)\r$", content, re.M)
        assert m, f"no Message-ID in {p}"
        msgid = m.group(1).decode()
        counts[msgid] += 1
        worker, i = map(int, re.match(r"<w(\d+)-m(\d+)@", msgid).groups())
        expected_box = "alice" if (worker + i) % 2 == 0 else "bob"
        assert p.parent.parent.name == expected_box, f"{msgid} delivered to {p}"
        body = f"worker {worker} message {i}\r\n" + ("filler line\r\n" * (i * 7))
        check_trace(data, f"w{worker}@client.test",
                    make_message(subject=f"w{worker} m{i}", body=body, msgid=msgid))
    duplicates = {k: v for k, v in counts.items() if v != 1}
    assert not duplicates, f"Message-IDs stored more than once: {list(duplicates.items())[:10]}"
    assert set(counts) == set(sent)
    assert len(set(p.name for p in files)) == len(files), "two deliveries share a Maildir file name"
    server.assert_no_tmp()
    assert server.alive()
    print(f"1000 messages in {time.monotonic() - started:.1f}s")


def _greeted(srv, deadline_s: float = 5.0, ehlo: bool = True):
    """A connection that got 220 and said EHLO (retrying briefly while earlier connections are still being torn
    down)."""
    deadline = time.monotonic() + deadline_s
    while True:
        c = srv.connect()
        r = c.read_reply()
        if r.code == 220:
            if ehlo:
                c.ehlo()
            return c
        c.close()
        assert time.monotonic() < deadline, f"no 220 greeting: {r!r}"
        time.sleep(0.1)


@pytest.mark.parametrize("limits", [{"max_connections_per_client": 3, "max_connections": 200},
                                    {"max_connections_per_client": 50, "max_connections": 3}],
                         ids=["per-client", "global"])
def test_connection_limits(server_factory, limits):
    srv = server_factory({"limits": limits})
    conns = []
    try:
        for _ in range(3):
            conns.append(_greeted(srv))
        extra = srv.connect()
        conns.append(extra)
        replies = extra.read_until_closed()
        assert replies and replies[0].code == 421, f"a 4th connection should get 421 and be closed: {replies!r}"
        for c in conns[:3]:
            assert c.cmd("NOOP").code == 250  # the others are unaffected
    finally:
        for c in conns:
            c.close()
    _greeted(srv).close()  # once the others are gone, new connections are welcome again
    srv.assert_healthy()


def test_a_full_server_closes_the_longest_idle_silent_connection_for_a_newcomer(server_factory):
    """Connections that never said HELO or EHLO hold a place for nothing: when every place is taken, the one of
    them idle longest gets 421 4.7.0 and is closed, and the newcomer is served."""
    srv = server_factory({"limits": {"max_connections": 3, "max_connections_per_client": 50}})
    silent = [_greeted(srv, ehlo=False)]
    time.sleep(0.2)
    silent.append(_greeted(srv, ehlo=False))
    working = _greeted(srv)
    try:
        newcomer = srv.connect()
        newcomer.start()
        replies = silent[0].read_until_closed()
        assert [(r.code, r.enhanced) for r in replies] == [(421, "4.7.0")], replies
        assert silent[1].cmd("NOOP").code == 250
        assert working.cmd("NOOP").code == 250
        newcomer.transaction("s@client.test", ["bob@example.test"], make_message())
        newcomer.cmd("QUIT")
        newcomer.close()
    finally:
        for c in silent + [working]:
            c.close()
    assert b"evicted to make room" in srv.full_logs()
    srv.assert_healthy()


def test_smtplib_parallel_sessions_interleaved(server):
    """Two sessions whose commands interleave do not see each other's transactions."""
    a = server.smtp()
    b = server.smtp()
    try:
        a.ehlo("a.test")
        b.ehlo("b.test")
        assert a.mail("a@client.test")[0] == 250
        assert b.mail("b@client.test")[0] == 250
        assert a.rcpt("alice@example.test")[0] == 250
        assert b.rcpt("bob@example.test")[0] == 250
        ma = make_message(subject="from a")
        mb = make_message(subject="from b")
        assert b.data(mb)[0] == 250
        assert a.data(ma)[0] == 250
    finally:
        for s in (a, b):
            try:
                s.quit()
            except smtplib.SMTPException:
                pass
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "a@client.test", ma)
    check_trace(server.wait_delivered("bob", 1)[0].read_bytes(), "b@client.test", mb)
