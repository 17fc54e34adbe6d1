"""The acceptance journal: small messages are durable in `<data_dir>/journal` when the 250 goes out, and their
Maildir files are synced by a checkpoint shortly after. Files lost before that checkpoint (a power cut loses the
page cache; here the test damages them by hand after `kill -9`) are delivered again at the next start, in place,
never twice; messages covered by a checkpoint are never delivered again, even when their owner deleted them.
"""
from __future__ import annotations

import smtplib
import time

from conftest import DOMAIN, make_message

LONG = {"storage": {"checkpoint_interval": 3600}}


def send(srv, count: int, to: str = "alice") -> list[bytes]:
    bodies = []
    with smtplib.SMTP(srv.host, srv.port, timeout=10) as client:
        for i in range(count):
            body = make_message(subject=f"journal {i}", body=f"message {i} " + "x" * 200, msgid=f"j{i}@journal.test")
            client.sendmail(f"sender@client.test", [f"{to}@{DOMAIN}"], body)
            bodies.append(body)
    return bodies


def kill_9(srv):
    srv.signalled = True
    srv.proc.kill()
    srv.proc.wait(timeout=10)


def test_files_lost_before_the_checkpoint_come_back_once(server_factory):
    srv = server_factory(LONG)
    send(srv, 5)
    files = srv.wait_delivered("alice", 5)
    originals = {p.name: p.read_bytes() for p in files}
    kill_9(srv)
    # What a power cut can leave: an empty file, a lost directory entry, and a file a reader had moved to cur/.
    files[0].write_bytes(b"")
    files[1].unlink()
    moved = srv.mailbox_dir("alice") / "cur" / (files[2].name + ":2,S")
    files[2].rename(moved)
    moved.write_bytes(b"partial")
    srv.start()
    assert b"delivered again" in srv.full_logs()
    new = {p.name: p.read_bytes() for p in srv.maildir("alice")}
    cur = {p.name: p.read_bytes() for p in srv.maildir("alice", sub="cur")}
    assert sorted(new) == sorted(n for n in originals if n != files[2].name)
    assert list(cur) == [moved.name]
    for name, content in new.items():
        assert content == originals[name]
    assert cur[moved.name] == originals[files[2].name]
    srv.assert_no_tmp()


def test_a_clean_stop_checkpoints_so_deleted_mail_stays_deleted(server_factory):
    srv = server_factory(LONG)
    send(srv, 2)
    files = srv.wait_delivered("alice", 2)
    assert srv.stop() == 0
    files[0].unlink()  # read and deleted by its owner
    srv.start()
    assert b"delivered again" not in srv.full_logs()
    assert [p.name for p in srv.maildir("alice")] == [files[1].name]


def test_the_checkpointer_covers_messages_without_a_stop(server_factory):
    srv = server_factory({"storage": {"checkpoint_interval": 0.05}})
    send(srv, 3)
    files = srv.wait_delivered("alice", 3)
    time.sleep(1)  # many checkpoint intervals
    kill_9(srv)
    files[0].unlink()
    srv.start()
    assert b"delivered again" not in srv.full_logs()
    assert len(srv.maildir("alice")) == 2


def test_messages_through_the_journal_have_the_same_bytes_as_without(server_factory):
    with_journal = server_factory()
    without = server_factory({"storage": {"journal": False}})
    sent = send(with_journal, 3, to="bob")
    send(without, 3, to="bob")
    # The Return-Path and Received lines differ by transaction id and time; the message itself must not.
    def bodies(srv):
        return sorted(p.read_bytes().split(b"\r\n\r\n", 1)[1] for p in srv.wait_delivered("bob", 3))
    assert bodies(with_journal) == bodies(without)
    assert len(sent) == 3
    assert (with_journal.data_dir / "journal" / "segment-000.log").is_file()
    assert not (without.data_dir / "journal").exists()
