"""Crashes: `kill -9` while clients send mail, restarts, and what is left on disk.

Promise under test: a 250 after DATA means the message is in every one of its mailboxes, exactly once, whatever
happens to the server afterwards; nothing half-written is ever visible in `new/` or `cur/`; the next start removes
what unfinished deliveries left in `tmp/`.
"""
from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
from pathlib import Path

from conftest import DOMAIN, HOSTNAME, SMTPConn

CLIENTS = 20
KILLS = 6
RUN_SECONDS_PER_LIFE = 1.5
MAILBOXES = {"alice": ["alice"], "bob": ["bob"], "team": ["alice", "bob"]}


def message(msgid: str, size: int) -> bytes:
    body = "".join(f"line {i} of {msgid} " + "x" * 40 + "\r\n" for i in range(size))
    return (f"From: crash@client.test\r\nSubject: crash test\r\nMessage-ID: <{msgid}>\r\n\r\n{body}"
            f"END {msgid}\r\n").encode()


def stored_messages(data_dir: Path) -> dict[str, dict[str, list[bytes]]]:
    """mailbox → Message-ID → contents of the files in new/ and cur/ carrying it."""
    found: dict[str, dict[str, list[bytes]]] = {}
    for box in MAILBOXES["team"]:
        found[box] = {}
        for sub in ("new", "cur"):
            d = data_dir / "mail" / DOMAIN / box / sub
            if not d.is_dir():
                continue
            for name in os.listdir(d):
                content = (d / name).read_bytes()
                m = re.search(rb"Message-ID: <([^>]+)>", content)
                key = m.group(1).decode() if m else f"(no Message-ID in {name})"
                found[box].setdefault(key, []).append(content)
    return found


def client(port: int, number: int, stop: threading.Event, acked: list, lock: threading.Lock):
    rng = random.Random(number)
    attempt = 0
    while not stop.is_set():
        attempt += 1
        # a fresh Message-ID for every attempt: an unacknowledged attempt may or may not have been delivered
        msgid = f"c{number}-a{attempt}@crash.test"
        rcpt = rng.choice(list(MAILBOXES))
        size = rng.choice([1, 20, 2000])  # ~60 B to ~120 KB bodies: in memory, and written to tmp as it comes
        try:
            with SMTPConn("127.0.0.1", port, timeout=10) as c:
                if c.greeting().code != 220:
                    continue
                c.ehlo()
                if c.cmd(f"MAIL FROM:<c{number}@client.test>").code != 250:
                    continue
                if c.cmd(f"RCPT TO:<{rcpt}@{DOMAIN}>").code != 250:
                    continue
                if c.cmd("DATA").code != 354:
                    continue
                c.send(message(msgid, size).replace(b"\r\n.", b"\r\n..") + b".\r\n")
                reply = c.read_reply()
                if reply.code == 250:
                    with lock:
                        acked.append((msgid, rcpt))
                c.cmd("QUIT")
        except Exception:  # the server was killed under this client: try again with a new message
            time.sleep(0.01)


def test_kill_9_repeatedly_loses_no_acknowledged_message(server_factory):
    srv = server_factory({"limits": {"max_connections_per_client": 100}})
    stop = threading.Event()
    acked: list = []
    lock = threading.Lock()
    threads = [threading.Thread(target=client, args=(srv.port, n, stop, acked, lock), daemon=True)
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(RUN_SECONDS_PER_LIFE)
            srv.signalled = True
            srv.proc.kill()  # SIGKILL: no shutdown, no cleanup, mid-transaction for most clients
            srv.proc.wait(timeout=10)
            srv.start()
        time.sleep(RUN_SECONDS_PER_LIFE)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert len(acked) > 50, f"too few messages acknowledged to show anything: {len(acked)}"
    print(f"{len(acked)} messages acknowledged across {KILLS} kills")

    srv.stop()
    stored = stored_messages(srv.data_dir)
    for msgid, rcpt in acked:
        for box in MAILBOXES[rcpt]:
            copies = stored[box].get(msgid, [])
            assert len(copies) == 1, f"{msgid} acknowledged for {rcpt}: {len(copies)} copies in {box}"
    # Nothing partial is visible: every file in new/ is a whole message (its own END line last).
    for box, messages in stored.items():
        for msgid, copies in messages.items():
            for content in copies:
                assert content.startswith(b"Return-Path: "), f"{box}: {content[:80]!r}"
                assert content.endswith(f"END {msgid}\r\n".encode()), f"{box}: truncated {msgid}"

    # The last start cleaned tmp/ of the earlier processes' leftovers; a new start finds nothing to clean.
    srv.start()
    for box in MAILBOXES["team"]:
        tmp = srv.data_dir / "mail" / DOMAIN / box / "tmp"
        assert not tmp.exists() or os.listdir(tmp) == [], f"{box}/tmp: {os.listdir(tmp)}"


def test_start_removes_only_crash_leftovers(server_factory):
    srv = server_factory()
    with srv.connect() as c:
        c.start()
        c.transaction("a@client.test", [f"alice@{DOMAIN}"], b"Subject: x\r\n\r\nx\r\n")
    srv.stop()
    tmp = srv.data_dir / "mail" / DOMAIN / "alice" / "tmp"
    ours = tmp / f"1700000000.M1P999999Q1Rabc.{HOSTNAME}"  # an earlier Swallow process, same host name
    foreign_fresh = tmp / "1700000000.M2P1Q1.other-mda"  # another delivery agent, maybe still writing
    foreign_old = tmp / "1600000000.M3P1Q1.other-mda"
    for p in (ours, foreign_fresh, foreign_old):
        p.write_bytes(b"partial")
    old = time.time() - 40 * 3600
    os.utime(foreign_old, (old, old))
    srv.start()
    assert sorted(os.listdir(tmp)) == [foreign_fresh.name]
    assert "removed unfinished deliveries" in srv.logs()


def test_second_server_on_the_same_data_directory_is_refused(server_factory, tmp_path):
    first = server_factory()
    second = server_factory({"data_dir": str(first.data_dir)}, start=False)
    proc = subprocess.run(
        [str(second.binary), "serve", "--config", str(second.config_path)], capture_output=True, timeout=30)
    assert proc.returncode != 0
    assert b"another swallow process is using data directory" in proc.stdout + proc.stderr
    with first.connect() as c:
        c.start()
