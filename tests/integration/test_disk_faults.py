"""Disk faults: a full file system and a read-only one give 4xx replies, never 250 and never a crash, and
delivery works again without a restart once the disk is usable.

The data directory is a small tmpfs this test mounts (root only, as in CI), so the faults are real ENOSPC and
EROFS from the kernel rather than simulated ones.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import DOMAIN, make_message

MIB = 1024 * 1024


def mount_tmpfs(mount_point: Path, mode: str, size: str = "2m"):
    """Mounts a small tmpfs (2 MiB by default) at `mount_point`, or skips the test where that is not possible."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs", str(mount_point)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted at tmp_path/"disk"; unmounted after the test (and after its servers stop). Too small
    for the journal's 2 MiB segment, so the server runs without it, syncing each message on its own."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mount_tmpfs(mount_point, "0755")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def journal_disk(tmp_path):
    """A 5 MiB tmpfs: room for the journal's segment, and then for about 3 MiB of mail."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mount_tmpfs(mount_point, "0755", size="5m")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def send(srv, rcpt: str, body: bytes):
    """One transaction; the reply to DATA's end (or the refusal that came first)."""
    with srv.connect() as c:
        c.start()
        assert c.cmd("MAIL FROM:<disk@client.test>").code == 250
        assert c.cmd(f"RCPT TO:<{rcpt}@{DOMAIN}>").code == 250
        reply = c.cmd("DATA")
        if reply.code != 354:
            return reply
        c.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        return c.read_reply()


def mailbox(srv, box: str, sub: str = "new") -> Path:
    return Path(srv.settings["data_dir"]) / "mail" / DOMAIN / box / sub


def stored_count(srv, box: str) -> int:
    d = mailbox(srv, box)
    return len(os.listdir(d)) if d.is_dir() else 0


@pytest.mark.parametrize("body_kb", [20, 200])  # kept in memory until commit / streamed to tmp as it arrives
def test_full_disk_gives_452_then_recovers_without_restart(small_disk, server_factory, body_kb):
    srv = server_factory({"data_dir": str(small_disk / "data")})
    assert b"journal unavailable" in srv.full_logs()
    fill_and_recover(srv, body_kb)


@pytest.mark.parametrize("body_kb", [20, 200])
def test_full_disk_through_the_journal_gives_452_then_recovers(journal_disk, server_factory, body_kb):
    srv = server_factory({"data_dir": str(journal_disk / "data")})
    assert (journal_disk / "data" / "journal" / "segment-000.log").stat().st_size == 2 * MIB
    assert b"journal unavailable" not in srv.full_logs()
    fill_and_recover(srv, body_kb)


def fill_and_recover(srv, body_kb: int):
    """Sends until the disk is full (452 4.3.1, nothing partial left), then frees space: 250 again, no restart."""
    body = make_message(subject="fill", body=("y" * 70 + "\r\n") * (body_kb * 1024 // 72))
    accepted = 0
    refusal = None
    for _ in range(200):
        reply = send(srv, "alice", body)
        if reply.code == 250:
            accepted += 1
            continue
        refusal = reply
        break
    assert refusal is not None, "a 2 MiB disk never filled up"
    assert refusal.code == 452 and refusal.enhanced == "4.3.1", refusal
    assert srv.alive()
    # every 250 is a whole file in new/; the refused message left nothing visible and nothing in tmp/
    assert stored_count(srv, "alice") == accepted
    for name in os.listdir(mailbox(srv, "alice")):
        assert (mailbox(srv, "alice") / name).read_bytes().endswith(body)
    assert os.listdir(mailbox(srv, "alice", "tmp")) == []
    # still full: still refused, still alive
    assert send(srv, "alice", body).code == 452
    # space comes back (the user reads and deletes mail): accepted again, same process
    new = mailbox(srv, "alice")
    for name in sorted(os.listdir(new))[: max(1, accepted // 2)]:
        os.unlink(new / name)
    assert send(srv, "alice", body).code == 250
    assert srv.alive()


def test_read_only_file_system_gives_451_then_recovers(tmp_path, server_factory):
    # The mail directory alone is the tmpfs: the daemon keeps its lock file open for writing in the data
    # directory, which would stop a remount read-only.
    data_dir = tmp_path / "data"
    (data_dir / "mail").mkdir(parents=True)
    mount_tmpfs(data_dir / "mail", "0700")
    try:
        read_only_round(server_factory({"data_dir": str(data_dir)}), data_dir / "mail")
    finally:
        subprocess.run(["umount", "-l", str(data_dir / "mail")], check=False)


def read_only_round(srv, small_disk: Path):
    body = make_message(subject="ro")
    assert send(srv, "alice", body).code == 250
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        for rcpt in ("alice", "bob"):  # a mailbox that exists, and one that must be created
            reply = send(srv, rcpt, body)
            assert reply.code == 451 and reply.enhanced == "4.3.0", reply
        assert srv.alive()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert send(srv, "bob", body).code == 250
    assert stored_count(srv, "alice") == 1 and stored_count(srv, "bob") == 1
