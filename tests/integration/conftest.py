"""Black-box harness for the Swallow SMTP server.

Every test talks to a real `swallow serve --config FILE` process on 127.0.0.1 with its own config, port and data
directory. The binary is `.build/debug/swallow` unless the environment variable SWALLOW_BIN names another one; a
missing binary fails every test that needs it (it is never skipped).
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from swallowproc import free_port  # noqa: E402  (one helper for the suite and the scripts)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = ROOT / ".build" / "debug" / "swallow"
HOST = "127.0.0.1"
DOMAIN = "example.test"
HOSTNAME = "mx.example.test"
MAX_SIZE = 1024 * 1024
IO_TIMEOUT = 10.0
START_TIMEOUT = 30.0


def swallow_path() -> Path:
    return Path(os.environ.get("SWALLOW_BIN", str(DEFAULT_BIN)))


def require_binary() -> Path:
    path = swallow_path()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"Swallow binary not found or not executable at {path} "
            "(build it with `swift build` or point SWALLOW_BIN at it)",
            pytrace=False,
        )
    return path


# --------------------------------------------------------------------------------------------------------------
# Config files


def default_settings(data_dir: Path, port: int) -> dict:
    return {
        "hostname": HOSTNAME,
        "listen": [f"{HOST}:{port}"],
        "data_dir": str(data_dir),
        "limits": {
            "max_message_size": MAX_SIZE,
            "max_recipients": 100,
            "max_errors": 10,
            "max_connections": 200,
            "max_connections_per_client": 50,
        },
        "timeouts": {"command": 300, "data": 600, "session": 3600, "shutdown_grace": 3},
        "policy": {"vrfy": "disabled", "expn": "disabled", "bare_line_endings": "reject", "catch_all": False},
        "domains": {DOMAIN: {"mailboxes": ["alice", "bob"], "aliases": {"team": ["alice", "bob"]}}},
    }


def deep_merge(base: dict, overrides: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(settings: dict) -> str:
    """Top-level scalars first, then [limits] etc., then [domains."name"] with inline tables below that."""
    lines = []
    for key, value in settings.items():
        if not isinstance(value, dict):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in settings.items():
        if not isinstance(value, dict):
            continue
        if key == "domains":
            for domain, table in value.items():
                lines.append("")
                lines.append(f"[domains.{_toml_key(domain)}]")
                for k, v in table.items():
                    lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        else:
            lines.append("")
            lines.append(f"[{_toml_key(key)}]")
            for k, v in value.items():
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------
# A raw SMTP client that shows exactly what the server sent


class Reply:
    def __init__(self, code: int, lines: list[bytes]):
        self.code = code
        self.lines = lines  # each line without CRLF, including the "250-" prefix

    @property
    def texts(self) -> list[str]:
        return [line[4:].decode("utf-8", "replace") for line in self.lines]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def enhanced(self) -> str | None:
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})(?: |$)", self.texts[-1])
        return m.group(1) if m else None

    def __repr__(self) -> str:
        return "Reply(" + " | ".join(line.decode("utf-8", "replace") for line in self.lines) + ")"


class ConnectionClosed(Exception):
    pass


class SMTPConn:
    """A line-oriented SMTP client on a plain socket, every read bounded by `timeout`."""

    def __init__(self, host: str, port: int, timeout: float = IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.closed_by_peer = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed_by_peer = True
            raise ConnectionClosed(f"connection closed by server; unread data {self.buf!r}")
        self.buf += chunk

    def read_line(self) -> bytes:
        for _ in range(100000):
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line, self.buf = self.buf[:idx], self.buf[idx + 2 :]
                return line
            if len(self.buf) > 1 << 20:
                raise AssertionError(f"server sent an over-long reply line: {self.buf[:200]!r}...")
            self._fill()
        raise AssertionError("read_line: too many reads")

    def read_reply(self) -> Reply:
        lines = []
        for _ in range(1000):
            line = self.read_line()
            m = re.match(rb"^([2-5]\d\d)([ -])", line + b" ")
            assert m and len(line) >= 3, f"malformed reply line from server: {line!r} (after {lines!r})"
            if lines:
                assert line[:3] == lines[0][:3], f"multi-line reply changed its code: {lines + [line]!r}"
            lines.append(line)
            if m.group(2) == b" " or len(line) == 3:
                return Reply(int(line[:3]), lines)
        raise AssertionError("reply with more than 1000 lines")

    def cmd(self, line: str | bytes) -> Reply:
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.read_reply()

    def greeting(self) -> Reply:
        reply = self.read_reply()
        assert reply.code == 220, f"bad greeting {reply!r}"
        return reply

    def ehlo(self, name: str = "client.test") -> Reply:
        reply = self.cmd(f"EHLO {name}")
        assert reply.code == 250, f"EHLO refused: {reply!r}"
        return reply

    def start(self, name: str = "client.test") -> Reply:
        self.greeting()
        return self.ehlo(name)

    def read_until_closed(self, timeout: float = IO_TIMEOUT) -> list[Reply]:
        """Reads replies until the server closes the connection; fails if it stays open longer than `timeout`."""
        replies = []
        deadline = time.monotonic() + timeout
        for _ in range(10000):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"server did not close the connection within {timeout}s; replies so far {replies!r}"
            self.sock.settimeout(remaining)
            try:
                replies.append(self.read_reply())
            except ConnectionClosed:
                assert self.buf == b"", f"server closed after a partial reply: {self.buf!r} (replies {replies!r})"
                return replies
            except socket.timeout:
                raise AssertionError(f"server did not close the connection within {timeout}s; replies {replies!r}")
        raise AssertionError("too many replies")

    def is_closed(self, wait: float = 2.0) -> bool:
        """True when the server closed the connection (EOF or reset) within `wait` seconds with nothing pending."""
        if self.closed_by_peer:
            return True
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        if chunk == b"":
            self.closed_by_peer = True
            return True
        self.buf += chunk
        return False

    # TLS and AUTH -------------------------------------------------------------------------------------------

    def wrap_tls(self, context: ssl.SSLContext | None = None, server_hostname: str | None = None):
        """TLS handshake on the current socket (after 220 to STARTTLS, or at once for implicit TLS).

        Fails when the server already sent bytes that a client would read as plaintext after STARTTLS."""
        assert self.buf == b"", f"unread plaintext before the TLS handshake: {self.buf!r}"
        ctx = context or client_tls_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock

    def starttls(self, context: ssl.SSLContext | None = None, server_hostname: str | None = None) -> Reply:
        r = self.cmd("STARTTLS")
        assert r.code == 220, f"STARTTLS refused: {r!r}"
        self.wrap_tls(context, server_hostname)
        return r

    def start_tls(self, name: str = "client.test", context: ssl.SSLContext | None = None,
                  server_hostname: str | None = None) -> Reply:
        """Greeting, EHLO, STARTTLS, handshake, EHLO again; returns the EHLO reply inside TLS."""
        self.start(name)
        self.starttls(context, server_hostname)
        return self.ehlo(name)

    def auth_plain(self, user: str, password: str) -> Reply:
        """AUTH PLAIN with an initial response; returns the final reply."""
        return self.cmd("AUTH PLAIN " + b64(f"\0{user}\0{password}"))

    def login(self, user: str, password: str) -> Reply:
        r = self.auth_plain(user, password)
        assert r.code == 235, f"AUTH PLAIN as {user} refused: {r!r}"
        return r

    def transaction(self, sender: str, recipients: list[str], body: bytes, expect_ok: bool = True) -> Reply:
        """MAIL, RCPT…, DATA and an already CRLF-terminated body (dot-stuffed here)."""
        r = self.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, f"MAIL refused: {r!r}"
        for rcpt in recipients:
            r = self.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, f"RCPT {rcpt} refused: {r!r}"
        r = self.cmd("DATA")
        assert r.code == 354, f"DATA refused: {r!r}"
        self.send(dot_stuff(body) + b".\r\n")
        r = self.read_reply()
        if expect_ok:
            assert r.code == 250, f"message refused: {r!r}"
        return r


def dot_stuff(body: bytes) -> bytes:
    assert body.endswith(b"\r\n")
    stuffed = re.sub(rb"(?m)^\.", b"..", body)
    return stuffed


def make_message(subject: str = "hello", body: str = "Hello world.", msgid: str | None = None, extra: str = "") -> bytes:
    msgid = msgid or f"<{time.time_ns()}.{os.getpid()}@client.test>"
    text = (
        "From: Sender <sender@client.test>\r\n"
        "To: Alice <alice@example.test>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {msgid}\r\n"
        "Date: Sun, 29 Nov 2026 22:09:00 +0000\r\n"
        f"{extra}"
        "\r\n"
        f"{body}\r\n"
    )
    return text.encode("utf-8")


def expect(reply: Reply, code: int, enhanced: str | None = None) -> Reply:
    assert reply.code == code, f"expected {code}{' ' + enhanced if enhanced else ''}, got {reply!r}"
    if enhanced is not None:
        assert reply.enhanced == enhanced, f"expected enhanced code {enhanced}, got {reply!r}"
    return reply


def ehlo_keywords(reply: Reply) -> dict[str, list[str]]:
    """EHLO keyword (upper case) → its parameters, from the lines after the first."""
    result = {}
    for text in reply.texts[1:]:
        parts = text.split()
        if parts:
            result[parts[0].upper()] = parts[1:]
    return result


def b64(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def client_tls_context(minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client context that accepts any certificate (the tests check certificates themselves)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def run_swallow(args: list[str], input: str | bytes | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs `swallow ARGS…` (not a server) with stdin from `input` (never a terminal); returns text output."""
    binary = require_binary()
    if isinstance(input, str):
        input = input.encode("utf-8")
    proc = subprocess.run([str(binary), *args], input=input if input is not None else b"", capture_output=True,
                          timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def cert_text(pem_or_der: str | bytes) -> str:
    """`openssl x509 -noout -text` of a certificate given as PEM text or DER bytes."""
    pem = ssl.DER_cert_to_PEM_cert(pem_or_der) if isinstance(pem_or_der, bytes) else pem_or_der
    proc = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem.encode(), capture_output=True, timeout=30)
    assert proc.returncode == 0, f"openssl x509 failed: {proc.stderr!r}"
    return proc.stdout.decode("utf-8", "replace")


def cert_dns_names(pem_or_der: str | bytes) -> set[str]:
    """The DNS and IP names in the certificate's subjectAltName."""
    text = cert_text(pem_or_der)
    m = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.*?)\n", text, re.S)
    if not m:
        return set()
    names = set()
    for item in m.group(1).split(","):
        item = item.strip()
        if ":" in item:
            kind, value = item.split(":", 1)
            if kind == "DNS":
                names.add(value.strip())
            elif kind == "IP Address":
                try:
                    names.add(ipaddress.ip_address(value.strip()).compressed)
                except ValueError:
                    names.add(value.strip())
    return names


# --------------------------------------------------------------------------------------------------------------
# Stored messages


def split_stored(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Splits a delivered file into (Return-Path line, Received header with its folds, the rest).

    Fails when the file does not start with exactly those two trace fields in that order."""
    assert data.startswith(b"Return-Path: "), f"stored message does not start with Return-Path: {data[:200]!r}"
    end = data.find(b"\r\n")
    assert end > 0, f"no CRLF after Return-Path: {data[:200]!r}"
    return_path = data[: end + 2]
    rest = data[end + 2 :]
    assert rest.startswith(b"Received: "), f"no Received header right after Return-Path: {data[:300]!r}"
    pos = 0
    for _ in range(100):
        nl = rest.find(b"\r\n", pos)
        assert nl >= 0, f"unterminated Received header: {rest[:300]!r}"
        pos = nl + 2
        if rest[pos : pos + 1] not in (b" ", b"\t"):
            break
    received = rest[:pos]
    return return_path, received, rest[pos:]


def check_trace(data: bytes, sender: str, sent: bytes, protocol: str | None = "ESMTP") -> bytes:
    """Asserts the stored file is Return-Path + Received + exactly the sent bytes; returns the Received header."""
    return_path, received, content = split_stored(data)
    assert return_path == f"Return-Path: <{sender}>\r\n".encode("utf-8"), return_path
    assert b"\n" not in received.replace(b"\r\n", b""), f"bare LF in Received: {received!r}"
    assert b"\r" not in received.replace(b"\r\n", b""), f"bare CR in Received: {received!r}"
    unfolded = re.sub(rb"\r\n[ \t]", b" ", received)
    assert f"by {HOSTNAME}".encode() in unfolded, received
    assert b" id " in unfolded, received
    if protocol:
        assert re.search(rb"\bwith " + protocol.encode() + rb"\b", unfolded), f"expected 'with {protocol}': {received!r}"
    assert content == sent, (
        "stored message differs from the bytes sent:\n"
        f"sent   ({len(sent)} octets): {sent[:400]!r}\nstored ({len(content)} octets): {content[:400]!r}"
    )
    return received


# --------------------------------------------------------------------------------------------------------------
# The server process


class SwallowServer:
    def __init__(self, binary: Path, workdir: Path, overrides: dict | None = None, extra_args: list[str] | None = None):
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = HOST
        self.port = free_port()
        # Ports this harness chose: another socket may take one between `free_port` and the server's bind, and
        # then `start` chooses again.
        self._chosen_ports = [self.port]
        self.data_dir = workdir / "data"
        self.settings = deep_merge(default_settings(self.data_dir, self.port), overrides or {})
        # `submission`/`submissions` (and extra `listen`) entries may be "auto": a free 127.0.0.1 port
        def choose(entry: str) -> str:
            if entry != "auto":
                return entry
            port = free_port()
            self._chosen_ports.append(port)
            return f"{HOST}:{port}"

        self.config_path = workdir / "swallow.toml"
        self._rewrite_listeners(choose)
        self.extra_args = extra_args or []
        self.stdout_path = workdir / "stdout.log"
        self.stderr_path = workdir / "stderr.log"
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None
        self.died_early = False
        self.signalled = False

    def _first_port(self, key: str) -> int | None:
        for entry in self.settings.get(key) or []:
            host, _, port = entry.rpartition(":")
            if host in (HOST, "localhost") and port.isdigit():
                return int(port)
        return None

    def _listener_ports(self) -> list[int]:
        ports = [self.port]
        for key in ("submission", "submissions"):
            port = self._first_port(key)
            if port is not None:
                ports.append(port)
        if self.http_port is not None:
            ports.append(self.http_port)
        return ports

    # lifecycle -------------------------------------------------------------------------------------------------

    def _rewrite_listeners(self, rewrite):
        """Passes every listener entry of the settings through `rewrite`, then writes the config file."""
        for key in ("listen", "submission", "submissions"):
            value = self.settings.get(key)
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list):
                self.settings[key] = [rewrite(v) for v in value]
        # `[http] listen` (the HTTP service: /metrics, /healthz, /readyz) may be "auto" too.
        http = self.settings.get("http")
        self.http_port = None
        if isinstance(http, dict) and isinstance(http.get("listen"), str):
            http["listen"] = rewrite(http["listen"])
            host, _, port = http["listen"].rpartition(":")
            self.http_port = int(port) if host in (HOST, "localhost") and port.isdigit() else None
        self.submission_port = self._first_port("submission")
        self.submissions_port = self._first_port("submissions")
        self.config_path.write_text(to_toml(self.settings))

    def _choose_ports_again(self):
        """New free ports for the ones this harness chose, wherever the settings name them."""
        new = {old: free_port() for old in self._chosen_ports}

        def replace(entry: str) -> str:
            host, _, port = entry.rpartition(":")
            return f"{host}:{new[int(port)]}" if port.isdigit() and int(port) in new else entry

        self.port = new[self.port]
        self._chosen_ports = list(new.values())
        self._rewrite_listeners(replace)

    def start(self, timeout: float = START_TIMEOUT):
        for attempt in range(3):
            if self._launch(timeout, last_attempt=attempt == 2):
                return self
            self._close_logs()
            self._choose_ports_again()
        return self

    def _launch(self, timeout: float, last_attempt: bool) -> bool:
        """Starts the server and waits until it accepts connections. False when a chosen port was taken by
        another socket before the server could bind it (and it may be tried again)."""
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config_path), *self.extra_args],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                if not last_attempt and "Address already in use" in self.logs():
                    return False
                pytest.fail(
                    f"swallow exited with {self.proc.returncode} during startup\n{self.logs()}", pytrace=False
                )
            try:
                for port in self._listener_ports():
                    with socket.create_connection((self.host, port), timeout=1):
                        pass
                return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"swallow did not accept connections on {self.port} within {timeout}s\n{self.logs()}",
                            pytrace=False)
            time.sleep(0.05)

    def stop(self, grace: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        else:
            self.died_early = self.exit_code is None
        self.exit_code = self.proc.returncode
        self._close_logs()
        return self.exit_code

    def signal(self, sig):
        """Sends `sig` to the server; its exit is then expected, not reported as a crash."""
        self.signalled = True
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def _close_logs(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self, limit: int = 4000) -> str:
        out = []
        for name, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                text = path.read_bytes().decode("utf-8", "replace")
            except OSError:
                text = ""
            out.append(f"--- swallow {name} (last {limit} chars) ---\n{text[-limit:]}")
        return "\n".join(out)

    def full_logs(self) -> bytes:
        """Everything the server wrote to stdout and stderr so far."""
        data = b""
        for path in (self.stdout_path, self.stderr_path):
            try:
                data += path.read_bytes()
            except OSError:
                pass
        return data

    # users -------------------------------------------------------------------------------------------------------

    def add_user(self, address: str, password: str) -> subprocess.CompletedProcess:
        """`swallow user add ADDRESS --config <this server's config>` with the password on stdin."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        proc = run_swallow(["user", "add", address, "--config", str(self.config_path)], input=password + "\n")
        assert proc.returncode == 0, f"user add {address} failed ({proc.returncode}): {proc.stdout!r} {proc.stderr!r}"
        return proc

    def users_file(self) -> Path:
        return Path(self.settings.get("auth", {}).get("users_file") or self.data_dir / "users")

    # clients ---------------------------------------------------------------------------------------------------

    def connect(self, timeout: float = IO_TIMEOUT) -> SMTPConn:
        return SMTPConn(self.host, self.port, timeout)

    def smtp(self, timeout: float = IO_TIMEOUT) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, local_hostname="client.test", timeout=timeout)

    def connect_submission(self, timeout: float = IO_TIMEOUT) -> SMTPConn:
        assert self.submission_port, "no submission listener configured (override {'submission': ['auto']})"
        return SMTPConn(self.host, self.submission_port, timeout)

    def connect_submissions(self, timeout: float = IO_TIMEOUT, context: ssl.SSLContext | None = None,
                            server_hostname: str | None = None) -> SMTPConn:
        """A raw connection to the implicit-TLS listener, handshake done, greeting not yet read."""
        assert self.submissions_port, "no submissions listener configured (override {'submissions': ['auto']})"
        conn = SMTPConn(self.host, self.submissions_port, timeout)
        try:
            conn.wrap_tls(context, server_hostname)
        except BaseException:
            conn.close()
            raise
        return conn

    def assert_healthy(self):
        """A fresh connection gets a greeting and can deliver a message to bob."""
        assert self.alive(), f"swallow is not running (exit {self.proc.returncode})\n{self.logs()}"
        before = len(self.maildir("bob"))
        msg = make_message(subject="health check")
        with self.connect() as c:
            c.start()
            c.transaction("health@client.test", ["bob@example.test"], msg)
            c.cmd("QUIT")
        self.wait_delivered("bob", before + 1)

    # the Maildir -----------------------------------------------------------------------------------------------

    def mailbox_dir(self, user: str, domain: str = DOMAIN) -> Path:
        return self.data_dir / "mail" / domain / user

    def maildir(self, user: str, domain: str = DOMAIN, sub: str = "new") -> list[Path]:
        d = self.mailbox_dir(user, domain) / sub
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if not p.name.startswith("."))

    def messages(self, user: str, domain: str = DOMAIN) -> list[bytes]:
        return [p.read_bytes() for p in self.maildir(user, domain)]

    def all_files(self, sub: str = "new") -> list[Path]:
        root = self.data_dir / "mail"
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob(f"*/*/{sub}/*") if p.is_file())

    def wait_delivered(self, user: str, count: int, domain: str = DOMAIN, timeout: float = 10.0) -> list[Path]:
        """Waits until `user` has exactly `count` files in new/; fails when there are more or too few."""
        deadline = time.monotonic() + timeout
        while True:
            files = self.maildir(user, domain)
            if len(files) > count:
                pytest.fail(f"{user}@{domain} has {len(files)} messages in new/, expected {count}: {files}")
            if len(files) == count:
                return files
            if time.monotonic() > deadline:
                pytest.fail(f"{user}@{domain} has {len(files)} messages in new/ after {timeout}s, expected {count}")
            time.sleep(0.05)

    def wait_all_delivered(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Waits until exactly `count` files are in new/ across all mailboxes; fails on more or too few."""
        deadline = time.monotonic() + timeout
        while True:
            files = self.all_files()
            if len(files) > count:
                pytest.fail(f"{len(files)} messages delivered, expected {count}: {[str(p) for p in files[:20]]}")
            if len(files) == count:
                return files
            if time.monotonic() > deadline:
                pytest.fail(f"{len(files)} messages delivered after {timeout}s, expected {count}")
            time.sleep(0.05)

    def assert_no_tmp(self, timeout: float = 3.0):
        """No file stays in any tmp/ once transactions are over (checked for up to `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.all_files("tmp")
            if not left:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"files left in tmp/: {[str(p) for p in left]}")
            time.sleep(0.05)


# --------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def swallow_bin() -> Path:
    return require_binary()


@pytest.fixture
def server_factory(swallow_bin, tmp_path, request):
    """`server_factory(overrides=None, start=True, extra_args=None)` → a running SwallowServer.

    `overrides` is deep-merged into the default config, e.g. {"policy": {"vrfy": "enabled"}}."""
    servers: list[SwallowServer] = []

    def make(overrides: dict | None = None, start: bool = True, extra_args: list[str] | None = None,
             workdir: Path | None = None) -> SwallowServer:
        wd = workdir or tmp_path / f"server{len(servers)}"
        server = SwallowServer(swallow_bin, wd, overrides, extra_args)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make

    crashed = []
    for server in servers:
        was_running = server.proc is not None and server.exit_code is None and server.proc.poll() is None
        died = (server.proc is not None and server.exit_code is None and not server.signalled
                and server.proc.poll() is not None)
        server.stop()
        if died:
            crashed.append(f"port {server.port}: exit status {server.proc.returncode}\n{server.logs()}")
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(f"\n=== server on port {server.port} ===\n{server.logs()}")
    if crashed:
        pytest.fail("swallow died during the test (not by our SIGTERM):\n" + "\n".join(crashed), pytrace=False)


ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORDS = {ALICE: "Alice-pw-7fq2!Zx", BOB: "Bob-pw-9xk4?Qw"}


@pytest.fixture
def auth_server_factory(server_factory):
    """`auth_server_factory(overrides=None, users=PASSWORDS, start=True)`: a server with a submission and an
    implicit-TLS submissions listener on free ports, and `users` added with `swallow user add` before it starts."""

    def make(overrides: dict | None = None, users: dict[str, str] | None = None, start: bool = True,
             **kwargs) -> SwallowServer:
        base = {"submission": ["auto"], "submissions": ["auto"]}
        srv = server_factory(deep_merge(base, overrides or {}), start=False, **kwargs)
        for address, password in (PASSWORDS if users is None else users).items():
            srv.add_user(address, password)
        if start:
            srv.start()
        return srv

    return make


@pytest.fixture
def server(server_factory) -> SwallowServer:
    """The default server: example.test with alice, bob and team → alice+bob; 1 MiB; mx.example.test."""
    return server_factory()
