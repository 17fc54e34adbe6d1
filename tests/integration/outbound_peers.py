"""Peers for the outbound-delivery tests, all on loopback: a DNS server (dnslib) that answers from a small zone
the test gives it, and a receiving SMTP server (aiosmtpd) that records what it gets and answers recipients as the
test says."""

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from conftest import HOST, free_port


class ZoneResolver(BaseResolver):
    """Answers from `records` (zone-file lines such as `remote.test. 60 IN MX 10 mx.remote.test.`); names in
    `rcodes` get that response code (`"NXDOMAIN"`, `"SERVFAIL"`); any other name is NXDOMAIN."""

    def __init__(self, records: list[str], rcodes: dict[str, str] | None = None):
        self.records = [rr for line in records for rr in RR.fromZone(line)]
        self.rcodes = {name.rstrip(".").lower(): code for name, code in (rcodes or {}).items()}
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        if qname in self.rcodes:
            reply.header.rcode = getattr(RCODE, self.rcodes[qname])
            return reply
        known = False
        for rr in self.records:
            if str(rr.rname).rstrip(".").lower() == qname:
                known = True
                if QTYPE[rr.rtype] == qtype or QTYPE[rr.rtype] == "CNAME":
                    reply.add_answer(rr)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LoopbackDNS:
    """A dnslib server on 127.0.0.1 (UDP and TCP, same port)."""

    def __init__(self, records: list[str], rcodes: dict[str, str] | None = None):
        self.resolver = ZoneResolver(records, rcodes)
        self.port = free_port()
        self.udp = DNSServer(self.resolver, port=self.port, address=HOST, tcp=False)
        self.tcp = DNSServer(self.resolver, port=self.port, address=HOST, tcp=True)

    def __enter__(self):
        self.udp.start_thread()
        self.tcp.start_thread()
        return self

    def __exit__(self, *exc):
        self.udp.stop()
        self.tcp.stop()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


class RecordingHandler:
    """aiosmtpd handler: records each message; `replies[local part]` refuses that recipient with the given reply;
    `temporary[local part] = n` answers 451 to the first n attempts for it."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.sessions: list[int] = []  # one entry per message: the id of the SMTP session that carried it
        self.replies: dict[str, str] = {}
        self.temporary: dict[str, int] = {}
        self.rcpt_attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        with self.lock:
            self.rcpt_attempts[local] = self.rcpt_attempts.get(local, 0) + 1
            if local in self.replies:
                return self.replies[local]
            if self.temporary.get(local, 0) > 0:
                self.temporary[local] -= 1
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.sessions.append(id(session))
        return "250 2.0.0 Queued"


class LoopbackPeer:
    """An aiosmtpd server on 127.0.0.1 that takes mail for any domain."""

    def __init__(self):
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname=HOST, port=self.port, server_hostname="peer.test")

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def wait_messages(self, count: int, timeout: float = 15.0) -> list[tuple[str, list[str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.handler.lock:
                if len(self.handler.messages) >= count:
                    return list(self.handler.messages)
            time.sleep(0.05)
        raise AssertionError(f"peer got {len(self.handler.messages)} messages, expected {count}")


class SmtpSink:
    """Postfix's `smtp-sink` on 127.0.0.1 (a real, independent SMTP server), dumping each message into `dir` (a
    fresh directory under /tmp: as root it runs as `nobody`, who cannot enter pytest's private directories);
    `options` are its flags (`-e`: no ESMTP, `-f RCPT`: 5xx to RCPT, ...)."""

    def __init__(self, *options: str):
        self.binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        self.dir = Path(tempfile.mkdtemp(prefix="swallow-sink-"))
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.args = [self.binary, *user, *options, "-d", f"{self.dir}/%M.", f"{HOST}:{self.port}", "20"]
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("smtp-sink") is not None or os.path.exists("/usr/sbin/smtp-sink")

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_dumps(self, count: int, timeout: float = 15.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = sorted(p for p in self.dir.iterdir() if p.is_file())
            if len(files) >= count:
                time.sleep(0.1)
                return [p.read_bytes() for p in files]
            time.sleep(0.05)
        raise AssertionError(f"smtp-sink got fewer than {count} messages")
