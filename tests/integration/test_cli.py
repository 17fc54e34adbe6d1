"""The command line: check-config, bad configs, flag overrides, the startup line, the embedded defaults."""

import socket
import subprocess
import time

import pytest

from conftest import (DOMAIN, HOST, SwallowServer, default_settings, free_port, make_message, split_stored,
                      to_toml)


def run(binary, *args, cwd=None, timeout=20):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, timeout=timeout, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def write_config(tmp_path, text: str, name: str = "swallow.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def good_config(tmp_path) -> str:
    return to_toml(default_settings(tmp_path / "data", free_port()))


def test_check_config_accepts_good_file(swallow_bin, tmp_path):
    path = write_config(tmp_path, good_config(tmp_path))
    proc = run(swallow_bin, "check-config", path)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")


def test_check_config_prints_limits_and_storage(swallow_bin, tmp_path):
    text = good_config(tmp_path) + "[storage]\njournal = false\ncheckpoint_interval = 0.5\n"
    text = _replace(text, "max_errors = 10", "max_errors = 7\ncommands_per_second = 300")
    proc = run(swallow_bin, "check-config", write_config(tmp_path, text))
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert "max_errors=7" in out and "commands_per_second=300" in out, out
    assert "journal=false checkpoint_interval=0.5" in out, out


def test_check_config_accepts_spec_example(swallow_bin, tmp_path):
    text = f"""hostname = "mx.example.test"
listen = ["127.0.0.1:{free_port()}"]
data_dir = "{tmp_path / 'data'}"
[limits]
max_message_size = 1048576   # octets, advertised as SIZE
max_recipients = 100
max_errors = 10
max_connections = 200
max_connections_per_client = 50
[timeouts]   # seconds
command = 300
data = 600
session = 3600
shutdown_grace = 10
[policy]
vrfy = "disabled"            # or "enabled"
expn = "disabled"            # or "enabled"
bare_line_endings = "reject" # or "normalize"
catch_all = false
[domains."example.test"]
mailboxes = ["alice", "bob"]
aliases = {{ team = ["alice", "bob"] }}
"""
    path = write_config(tmp_path, text)
    proc = run(swallow_bin, "check-config", path)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BAD_CONFIGS = {
    # name: (transform of the good config, words the error must mention)
    "wrong-type": (lambda t: _replace(t, "max_errors = 10", 'max_errors = "ten"'), ["max_errors"]),
    "unknown-key": (lambda t: _replace(t, "max_errors = 10", "max_errors = 10\nmax_frobnications = 3"),
                    ["max_frobnications"]),
    "unknown-top-level-key": (lambda t: 'colour = "blue"\n' + t, ["colour"]),
    "invalid-toml": (lambda t: _replace(t, 'hostname = "mx.example.test"', 'hostname = "mx.example.test'), []),
    "bad-policy-value": (lambda t: _replace(t, 'vrfy = "disabled"', 'vrfy = "sometimes"'), ["vrfy"]),
    "bad-bare-line-endings": (lambda t: _replace(t, 'bare_line_endings = "reject"', 'bare_line_endings = "keep"'),
                              ["bare_line_endings"]),
    "negative-size": (lambda t: _replace(t, "max_message_size = 1048576", "max_message_size = -5"),
                      ["max_message_size"]),
    "bad-listen": (lambda t: _replace(t, 'listen = ["127.0.0.1:', 'listen = ["127.0.0.1:notaport'), ["listen"]),
    "journal-not-a-bool": (lambda t: t + '[storage]\njournal = "yes"\n', ["storage.journal"]),
    "checkpoint-interval-zero": (lambda t: t + "[storage]\ncheckpoint_interval = 0\n",
                                 ["storage.checkpoint_interval"]),
    "unknown-storage-key": (lambda t: t + "[storage]\nfsync = false\n", ["storage.fsync"]),
    "mailboxes-not-a-list": (lambda t: _replace(t, 'mailboxes = ["alice", "bob"]', 'mailboxes = "alice"'),
                             ["mailboxes"]),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_check_config_rejects_bad_file(swallow_bin, tmp_path, name):
    transform, words = BAD_CONFIGS[name]
    path = write_config(tmp_path, transform(good_config(tmp_path)), name=f"bad-{name}.toml")
    proc = run(swallow_bin, "check-config", path)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode != 0, f"check-config accepted a bad config ({name}); stderr: {err!r}"
    assert path.name in err, f"stderr should name the file {path.name}: {err!r}"
    for word in words:
        assert word in err, f"stderr should name the key {word!r}: {err!r}"


@pytest.mark.parametrize("name", ["wrong-type", "unknown-key", "invalid-toml"])
def test_serve_refuses_bad_config(swallow_bin, tmp_path, name):
    transform, words = BAD_CONFIGS[name]
    port = free_port()
    text = transform(to_toml(default_settings(tmp_path / "data", port)))
    path = write_config(tmp_path, text, name=f"bad-{name}.toml")
    proc = subprocess.Popen([str(swallow_bin), "serve", "--config", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"serve kept running with a bad config ({name}); stderr {err!r}")
    err = err.decode("utf-8", "replace")
    assert proc.returncode != 0, f"serve exited 0 with a bad config ({name})"
    assert path.name in err, f"stderr should name the file: {err!r}"
    for word in words:
        assert word in err, f"stderr should name the key {word!r}: {err!r}"


def test_check_config_missing_file(swallow_bin, tmp_path):
    path = tmp_path / "does-not-exist.toml"
    proc = run(swallow_bin, "check-config", path)
    assert proc.returncode != 0
    assert path.name in proc.stderr.decode("utf-8", "replace")


def _wait_for_line(path, needle: str, proc, timeout=15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_bytes().decode("utf-8", "replace") if path.exists() else ""
        if needle in text:
            return text
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    text = path.read_bytes().decode("utf-8", "replace") if path.exists() else ""
    pytest.fail(f"{needle!r} not printed to stdout within {timeout}s (process alive: {proc.poll() is None}); "
                f"stdout so far: {text!r}")


def test_startup_line_on_stdout(server):
    """Printed (and flushed: stdout is a file here, not a terminal) once the server is up."""
    _wait_for_line(server.stdout_path, f"listening on {HOST}:{server.port}", server.proc)


def test_flags_override_config(server_factory, tmp_path):
    other_port = free_port()
    other_data = tmp_path / "other-data"
    srv = server_factory(start=False, extra_args=["--listen", f"{HOST}:{other_port}", "--data-dir", str(other_data),
                                                  "--hostname", "other.example.test"])
    config_port = srv.port
    srv.port = other_port
    srv.data_dir = other_data
    srv.start()
    _wait_for_line(srv.stdout_path, f"listening on {HOST}:{other_port}", srv.proc)
    with pytest.raises(OSError):
        socket.create_connection((HOST, config_port), timeout=2).close()
    with srv.connect() as c:
        greeting = c.read_reply()
        assert greeting.code == 220 and greeting.texts[0].startswith("other.example.test"), greeting
        c.ehlo()
        c.transaction("s@client.test", ["alice@example.test"], make_message(subject="override"))
    files = srv.wait_delivered("alice", 1)
    assert files[0].is_relative_to(other_data)
    _, received, _ = split_stored(files[0].read_bytes())
    assert b"by other.example.test" in received, received
    assert not (tmp_path / "server0" / "data" / "mail").exists(), "the config's data_dir was used despite --data-dir"


def test_two_listen_addresses(server_factory):
    second = free_port()
    srv = server_factory(start=False)
    srv.settings["listen"].append(f"{HOST}:{second}")
    srv.config_path.write_text(to_toml(srv.settings))
    srv.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((HOST, second), timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline, f"second listen address {second} never accepted connections"
            time.sleep(0.05)
    from conftest import SMTPConn
    with SMTPConn(HOST, second) as c:
        c.start()
        c.transaction("s@client.test", ["bob@example.test"], make_message(subject="second port"))
    srv.wait_delivered("bob", 1)


def test_no_arguments_uses_embedded_defaults(swallow_bin, tmp_path):
    """`swallow` alone serves on 127.0.0.1:2525 with ./swallow-data."""
    try:
        with socket.socket() as probe:
            probe.bind((HOST, 2525))
    except OSError:
        pytest.skip("port 2525 is in use on this machine")
    server = SwallowServer(swallow_bin, tmp_path)
    server.port = 2525
    out = open(tmp_path / "stdout.log", "wb")
    err = open(tmp_path / "stderr.log", "wb")
    proc = subprocess.Popen([str(swallow_bin)], cwd=tmp_path, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    server.proc = proc
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"swallow exited {proc.returncode}\n{server.logs()}"
            try:
                with socket.create_connection((HOST, 2525), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "nothing listening on 127.0.0.1:2525"
                time.sleep(0.05)
        with server.connect() as c:
            c.start()
            assert c.cmd("MAIL FROM:<s@client.test>").code == 250
            r = c.cmd("RCPT TO:<anyone@localhost>")
            assert r.code == 250, f"catch-all default should accept anyone@localhost: {r!r}"
            assert c.cmd("DATA").code == 354
            c.send(make_message(subject="defaults") + b".\r\n")
            assert c.read_reply().code == 250
        deadline = time.monotonic() + 10
        while not list((tmp_path / "swallow-data").glob("mail/*/*/new/*")):
            assert time.monotonic() < deadline, "nothing delivered under ./swallow-data/mail"
            time.sleep(0.05)
    finally:
        server.stop()
    assert server.exit_code == 0, server.logs()


def test_unusable_listen_address_fails(swallow_bin, tmp_path):
    """A port that is already taken: serve exits non-zero instead of running without a listener."""
    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        settings = default_settings(tmp_path / "data", taken)
        path = write_config(tmp_path, to_toml(settings))
        proc = subprocess.Popen([str(swallow_bin), "serve", "--config", str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
            pytest.fail("serve kept running although its listen address is taken")
        assert proc.returncode != 0
        assert err.strip(), "no error message on stderr"
