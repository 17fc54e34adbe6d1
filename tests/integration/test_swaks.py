"""Delivery with swaks, an independent SMTP client."""

import shutil
import subprocess

import pytest

from conftest import check_trace, split_stored

SWAKS = shutil.which("swaks")


@pytest.fixture
def swaks(server):
    assert SWAKS, "swaks is not installed (apt-get install -y swaks)"

    def run(*args: str, expect_rc: int = 0) -> subprocess.CompletedProcess:
        cmd = [SWAKS, "--server", server.host, "--port", str(server.port), "--timeout", "10",
               "--helo", "client.test", *args]
        proc = subprocess.run(cmd, capture_output=True, timeout=60)
        assert proc.returncode == expect_rc, (
            f"swaks exited {proc.returncode}, expected {expect_rc}\n"
            f"stdout:\n{proc.stdout.decode('utf-8', 'replace')}\nstderr:\n{proc.stderr.decode('utf-8', 'replace')}")
        return proc

    return run


def test_swaks_basic(server, swaks):
    proc = swaks("--from", "sender@client.test", "--to", "alice@example.test", "--header", "Subject: swaks basic")
    out = proc.stdout.decode("utf-8", "replace")
    assert "<-  220" in out and "<-  250" in out, out
    files = server.wait_delivered("alice", 1)
    _, received, content = split_stored(files[0].read_bytes())
    assert b"with ESMTP" in received.replace(b"\r\n\t", b" ").replace(b"\r\n ", b" "), received
    assert b"Subject: swaks basic\r\n" in content
    assert files[0].read_bytes().startswith(b"Return-Path: <sender@client.test>\r\n")


def test_swaks_pipeline(server, swaks):
    proc = swaks("--pipeline", "--from", "sender@client.test", "--to", "alice@example.test,bob@example.test",
                 "--header", "Subject: swaks pipeline")
    out = proc.stdout.decode("utf-8", "replace")
    assert "PIPELINING" in out, out
    server.wait_delivered("alice", 1)
    server.wait_delivered("bob", 1)


SWAKS_CONTENT = (b"From: sender@client.test\r\n"
                 b"To: bob@example.test\r\n"
                 b"Subject: swaks data file\r\n"
                 b"Message-ID: <swaks-file@client.test>\r\n"
                 b"\r\n"
                 b"first line\r\n"
                 b".a line starting with a dot\r\n"
                 b"..two dots\r\n"
                 b".\r\n"
                 b"last line\r\n")


def test_swaks_data_file(server, swaks, tmp_path):
    """--data @file: swaks dot-stuffs the lines and adds CRLF "." CRLF after the file's last line."""
    path = tmp_path / "message.eml"
    path.write_bytes(SWAKS_CONTENT[:-2])  # swaks adds the final CRLF itself
    swaks("--from", "sender@client.test", "--to", "bob@example.test", "--data", f"@{path}")
    files = server.wait_delivered("bob", 1)
    check_trace(files[0].read_bytes(), "sender@client.test", SWAKS_CONTENT)


def test_swaks_raw_data_file_no_fixup(server, swaks, tmp_path):
    """--no-data-fixup sends the file as it is: here already dot-stuffed and ending in CRLF "." (swaks adds CRLF)."""
    wire = SWAKS_CONTENT.replace(b"\r\n.", b"\r\n..") + b"."
    path = tmp_path / "message.wire"
    path.write_bytes(wire)
    proc = swaks("--from", "sender@client.test", "--to", "bob@example.test", "--data", f"@{path}", "--no-data-fixup")
    assert "<** " not in proc.stdout.decode("utf-8", "replace"), proc.stdout.decode("utf-8", "replace")
    files = server.wait_delivered("bob", 1)
    check_trace(files[0].read_bytes(), "sender@client.test", SWAKS_CONTENT)


def test_swaks_protocol_esmtp(server, swaks):
    proc = swaks("--protocol", "ESMTP", "--from", "sender@client.test", "--to", "team@example.test")
    assert "EHLO client.test" in proc.stdout.decode("utf-8", "replace")
    server.wait_delivered("alice", 1)
    server.wait_delivered("bob", 1)


def test_swaks_protocol_smtp(server, swaks):
    proc = swaks("--protocol", "SMTP", "--from", "sender@client.test", "--to", "alice@example.test")
    assert "HELO client.test" in proc.stdout.decode("utf-8", "replace")
    files = server.wait_delivered("alice", 1)
    _, received, _ = split_stored(files[0].read_bytes())
    assert b"with SMTP" in received, received


def test_swaks_unknown_recipient_fails(server, swaks):
    # swaks exits 24 when no recipient was accepted
    proc = swaks("--from", "sender@client.test", "--to", "nobody@example.test", expect_rc=24)
    assert "550 5.1.1" in proc.stdout.decode("utf-8", "replace")
    assert server.all_files() == []


def test_swaks_relay_denied(server, swaks):
    proc = swaks("--from", "sender@client.test", "--to", "someone@elsewhere.test", expect_rc=24)
    assert "550 5.7.1" in proc.stdout.decode("utf-8", "replace")


def test_swaks_oversize_rejected(server, swaks, tmp_path):
    from conftest import MAX_SIZE
    path = tmp_path / "big.eml"
    path.write_bytes(b"Subject: big\r\n\r\n" + (b"b" * 998 + b"\r\n") * (MAX_SIZE // 1000 + 10) + b"end")
    # swaks exits 26 when the message was refused after the body
    proc = swaks("--from", "sender@client.test", "--to", "alice@example.test", "--data", f"@{path}",
                 "--suppress-data", expect_rc=26)
    assert "552 5.3.4" in proc.stdout.decode("utf-8", "replace")
    assert server.all_files() == []
