"""Power cuts: a 250 means durable on a file system that honours fsync and fdatasync, not only where syncfs works.

The data directory is on `powercut_fs.py`, a FUSE file system of our own that keeps every write not yet fsynced in
memory and every new name not yet made durable by an fsync of its directory undoable, and forgets both on SIGUSR1
(see that file for what it does not model). A FUSE file system never hears of a `syncfs`, which still returns
success, so this is where trusting `syncfs` loses acknowledged mail. Ten smtplib clients send messages of 200 B to
200 KB on loopback; at each cut the file system drops what was not durable and fails every call, the server is
killed with SIGKILL at once, the power comes back and the server starts again (recovery). At the end every
acknowledged Message-ID must be in each of its mailboxes exactly once, whole, and no file in new/ or cur/ may be
empty or partial.
"""
from __future__ import annotations

import ctypes.util
import importlib.util
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DOMAIN

CLIENTS = 10
CUTS = 4
SECONDS_PER_LIFE = 3.0
MAILBOXES = {"alice": ["alice"], "bob": ["bob"], "team": ["alice", "bob"]}
# Line counts giving bodies of about 200 B, 2 KB, 20 KB, 80 KB (over the 64 KiB written to tmp as it arrives) and 200 KB
SIZES = [3, 30, 300, 1200, 3000]
FS_SCRIPT = Path(__file__).with_name("powercut_fs.py")


def why_no_fuse() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing: this machine cannot mount a FUSE file system"
    if importlib.util.find_spec("fuse") is None:
        return "the fusepy module is missing (pip install fusepy)"
    if ctypes.util.find_library("fuse") is None:
        return "libfuse 2 is missing (apt-get install libfuse2), which fusepy loads"
    if os.geteuid() != 0 and shutil.which("fusermount") is None:
        return "not root, and no fusermount to mount as a user"
    return None


class PowerCutFS:
    """The running file system: `cut()` is the power cut, `power_on()` brings the disk back."""

    def __init__(self, root: Path):
        self.backing = root / "disk"
        self.mountpoint = root / "mnt"
        self.status = root / "status"
        self.log = root / "powercut_fs.log"
        self.backing.mkdir(parents=True)
        self.mountpoint.mkdir()
        self.lines: list[str] = []
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(FS_SCRIPT), str(self.backing), str(self.mountpoint), str(self.status)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 15
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"powercut_fs did not mount:\n{self.log.read_text(errors='replace')}", pytrace=False)
            time.sleep(0.05)

    def _signal(self, sig: int) -> str:
        self.proc.send_signal(sig)
        deadline = time.monotonic() + 10
        while True:
            lines = self.status.read_text().splitlines() if self.status.exists() else []
            if len(lines) > len(self.lines):
                self.lines = lines
                return lines[-1]
            assert time.monotonic() < deadline, "powercut_fs did not answer its signal"
            time.sleep(0.01)

    def cut(self) -> str:
        return self._signal(signal.SIGUSR1)

    def power_on(self):
        self._signal(signal.SIGUSR2)

    def dropped(self, what: str) -> int:
        return sum(int(m.group(1)) for line in self.lines if (m := re.search(rf"{what}=(\d+)", line)))

    def close(self):
        if self.proc.poll() is None:
            subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def power_cut_fs(tmp_path):
    reason = why_no_fuse()
    if reason:
        pytest.skip(reason)
    fs = PowerCutFS(tmp_path / "fuse")
    yield fs
    fs.close()


def message(msgid: str, lines: int) -> bytes:
    body = "".join(f"{i:05} of {msgid} " + "y" * 40 + "\r\n" for i in range(lines))
    return (f"From: power@client.test\r\nTo: someone@{DOMAIN}\r\nSubject: power cut\r\nMessage-ID: <{msgid}>\r\n\r\n"
            f"{body}END {msgid}\r\n").encode()


def client(port: int, number: int, stop: threading.Event, acked: list, lock: threading.Lock):
    rng = random.Random(number)
    attempt = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as smtp:
                for _ in range(rng.randint(1, 5)):
                    if stop.is_set():
                        break
                    attempt += 1
                    # A fresh Message-ID per attempt: one without a 250 may or may not have been stored.
                    msgid = f"p{number}-{attempt}@power.test"
                    rcpt = rng.choice(list(MAILBOXES))
                    lines = rng.choice(SIZES)
                    smtp.sendmail(f"c{number}@client.test", [f"{rcpt}@{DOMAIN}"], message(msgid, lines))
                    with lock:
                        acked.append((msgid, rcpt, lines))
        except (OSError, smtplib.SMTPException):
            # Refused while the disk is gone, or the server was killed under this client: try again.
            time.sleep(0.05)


def stored(data_dir: Path) -> tuple[dict[str, dict[str, list[bytes]]], list[str]]:
    """mailbox → Message-ID → contents of the files carrying it in new/ and cur/; and every file that is not a
    whole message (empty, cut short, or without a Message-ID)."""
    found: dict[str, dict[str, list[bytes]]] = {box: {} for box in MAILBOXES["team"]}
    broken: list[str] = []
    for box in found:
        for sub in ("new", "cur"):
            directory = data_dir / "mail" / DOMAIN / box / sub
            if not directory.is_dir():
                continue
            for name in os.listdir(directory):
                content = (directory / name).read_bytes()
                m = re.search(rb"Message-ID: <([^>]+)>", content)
                if not m or not content.endswith(b"END " + m.group(1) + b"\r\n"):
                    broken.append(f"{box}/{sub}/{name} ({len(content)} bytes)")
                    continue
                found[box].setdefault(m.group(1).decode(), []).append(content)
    return found, broken


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no-journal"])
def test_power_cuts_lose_no_acknowledged_message(power_cut_fs, server_factory, journal):
    fs = power_cut_fs
    srv = server_factory({
        "data_dir": str(fs.mountpoint / "data"),
        "limits": {"max_connections_per_client": 100},
        "storage": {"journal": journal},
    })
    stop = threading.Event()
    acked: list = []
    lock = threading.Lock()
    threads = [threading.Thread(target=client, args=(srv.port, n, stop, acked, lock), daemon=True)
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        for cut in range(CUTS):
            time.sleep(SECONDS_PER_LIFE)
            fs.cut()
            srv.signalled = True
            srv.proc.kill()  # at once, as the power cut takes the server too
            srv.proc.wait(timeout=10)
            fs.power_on()
            if cut < CUTS - 1:
                srv.start()  # recovery
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client hung"
    srv.start()
    assert srv.stop() == 0
    print(f"{len(acked)} messages acknowledged across {CUTS} cuts; {fs.lines}")
    assert len(acked) >= 50, f"too few messages acknowledged to show anything: {len(acked)}"
    # The cuts had something to take: writes and names that were not yet durable.
    assert fs.dropped("dropped_bytes") > 0 and fs.dropped("dropped_names") > 0, fs.lines

    found, broken = stored(fs.mountpoint / "data")
    lost = []
    for msgid, rcpt, lines in acked:
        for box in MAILBOXES[rcpt]:
            copies = found[box].get(msgid, [])
            if len(copies) != 1 or not copies[0].endswith(message(msgid, lines)):
                lost.append(f"{msgid} for {rcpt}: {len(copies)} whole copies in {box}")
    assert not broken, f"{len(broken)} files in new/ or cur/ are not whole messages: {broken[:10]}"
    messages = len({entry.split()[0] for entry in lost})
    assert not lost, f"{messages} of {len(acked)} acknowledged messages lost or doubled: {lost[:10]}"
