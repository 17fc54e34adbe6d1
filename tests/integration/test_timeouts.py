"""[timeouts]: an idle or stalled client is cut off with 421 and leaves nothing behind."""

import time

from conftest import make_message


def test_command_timeout(server_factory):
    srv = server_factory({"timeouts": {"command": 2}})
    with srv.connect() as c:
        c.start()
        started = time.monotonic()
        replies = c.read_until_closed(timeout=8)
        elapsed = time.monotonic() - started
    assert [r.code for r in replies] == [421], replies
    assert replies[0].enhanced == "4.4.2", replies
    assert 1.5 <= elapsed < 6, f"closed after {elapsed:.1f}s with command = 2"
    srv.assert_healthy()


def test_command_timeout_before_ehlo(server_factory):
    srv = server_factory({"timeouts": {"command": 2}})
    with srv.connect() as c:
        c.greeting()
        replies = c.read_until_closed(timeout=8)
    assert [r.code for r in replies] == [421], replies


def test_activity_resets_command_timeout(server_factory):
    srv = server_factory({"timeouts": {"command": 2}})
    with srv.connect() as c:
        c.start()
        for _ in range(4):  # 4 × 1.2 s > 2 s in all, but never 2 s without a command
            time.sleep(1.2)
            assert c.cmd("NOOP").code == 250
        c.transaction("s@client.test", ["alice@example.test"], make_message(subject="slow but steady"))
    srv.wait_delivered("alice", 1)


def test_data_timeout(server_factory):
    srv = server_factory({"timeouts": {"data": 2}})
    with srv.connect() as c:
        c.start()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: stalled\r\n\r\nsome of the body")
        replies = c.read_until_closed(timeout=8)
    assert [r.code for r in replies] == [421], replies
    time.sleep(0.2)
    assert srv.all_files() == []
    srv.assert_no_tmp()
    srv.assert_healthy()


def test_data_timeout_mid_bdat(server_factory):
    srv = server_factory({"timeouts": {"data": 2}})
    with srv.connect() as c:
        c.start()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        c.send(b"BDAT 1000 LAST\r\n" + b"x" * 10)
        replies = c.read_until_closed(timeout=8)
    assert [r.code for r in replies] == [421], replies
    time.sleep(0.2)
    assert srv.all_files() == []
    srv.assert_no_tmp()


def test_session_timeout(server_factory):
    """A busy session (a NOOP every 0.25 s, so the command timeout never fires) still ends after `session`."""
    srv = server_factory({"timeouts": {"session": 3, "command": 60}})
    with srv.connect() as c:
        c.start()
        started = time.monotonic()
        codes = []
        for _ in range(60):
            if c.is_closed(wait=0.25):  # also picks up an unsolicited 421
                break
            if c.buf:
                codes.append(c.read_reply().code)
                continue
            try:
                codes.append(c.cmd("NOOP").code)
            except Exception:  # noqa: BLE001 - closed between two commands
                break
        elapsed = time.monotonic() - started
    assert 2.5 <= elapsed < 8, f"session lasted {elapsed:.1f}s with session = 3"
    assert codes and codes[-1] == 421 and set(codes[:-1]) <= {250}, f"replies: {codes}"
