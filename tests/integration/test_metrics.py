"""The HTTP service: /metrics read by an independent Prometheus parser after real SMTP traffic, /healthz, /readyz.

Each test compares the counters before and after the traffic it sends: the harness's own start-up probes open
connections too.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import HOST, DOMAIN, SMTPConn, b64, client_tls_context, dot_stuff, make_message

HTTP = {"http": {"listen": "auto"}}


def http_get(srv, path: str) -> tuple[int, str, str]:
    """(status, content type, body) of GET http://127.0.0.1:<http port><path>."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{srv.http_port}{path}", timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def scrape(srv) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed by prometheus_client: (sample name, sorted labels) -> value."""
    status, content_type, text = http_get(srv, "/metrics")
    assert status == 200, text
    assert content_type.startswith("text/plain"), content_type
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


class CountingConn(SMTPConn):
    """An SMTPConn that counts the octets it sends, to compare with swallow_smtp_received_bytes_total."""

    sent = 0

    def send(self, data: bytes):
        CountingConn.sent += len(data)
        super().send(data)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_metrics_count_what_was_sent(server_factory):
    srv = server_factory(HTTP)
    before = scrape(srv)
    CountingConn.sent = 0
    accepted = 3
    with CountingConn(HOST, srv.port) as c:
        c.start()
        for i in range(accepted):
            c.transaction("s@client.test", [f"alice@{DOMAIN}"], make_message(subject=f"m{i}"))
        # Refused at the end of data: a bare LF in the body (policy bare_line_endings = "reject").
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd(f"RCPT TO:<bob@{DOMAIN}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: bare\r\n\r\nline one\nline two\r\n.\r\n")
        refusal = c.read_reply()
        assert refusal.code == 550 and refusal.enhanced == "5.6.0", refusal
        assert c.cmd("QUIT").code == 221
    with CountingConn(HOST, srv.port) as c:
        c.start()
        c.transaction("s@client.test", [f"bob@{DOMAIN}"], make_message(subject="second connection"))
        accepted += 1
        assert c.cmd("QUIT").code == 221
    srv.wait_all_delivered(accepted)

    # The gauge falls back once both connections are closed on the server's side.
    wait_for(lambda: value(scrape(srv), "swallow_smtp_connections_open", listener="smtp") == 0,
             what="swallow_smtp_connections_open to return to 0")
    after = scrape(srv)
    assert delta(before, after, "swallow_smtp_connections_total", listener="smtp") == 2
    assert delta(before, after, "swallow_smtp_messages_total", result="accepted") == accepted
    assert delta(before, after, "swallow_smtp_messages_total", result="refused") == 1
    assert delta(before, after, "swallow_smtp_refusals_total", code="550", enhanced="5.6.0") == 1
    assert delta(before, after, "swallow_smtp_received_bytes_total") == CountingConn.sent
    commands = {"EHLO": 2, "MAIL": 5, "RCPT": 5, "DATA": 5, "QUIT": 2, "HELO": 0, "RSET": 0, "unknown": 0}
    for verb, count in commands.items():
        assert delta(before, after, "swallow_smtp_commands_total", verb=verb) == count, verb
    # 2xx: two greetings, two EHLO, five MAIL, five RCPT, four messages accepted, two QUIT; 3xx: five 354s.
    replies = {"2xx": 20, "3xx": 5, "4xx": 0, "5xx": 1}
    for reply_class, count in replies.items():
        assert delta(before, after, "swallow_smtp_replies_total", **{"class": reply_class}) == count, reply_class
    # One end-of-data-to-250 time per message that reached its commit; the bare-LF message did not.
    assert delta(before, after, "swallow_smtp_commit_seconds_count") == accepted
    assert value(after, "swallow_smtp_commit_seconds_bucket", le="+Inf") == value(
        after, "swallow_smtp_commit_seconds_count")
    # Group commit: every accepted message was in exactly one round.
    assert delta(before, after, "swallow_store_commit_round_messages_sum") == accepted
    rounds = delta(before, after, "swallow_store_commit_round_messages_count")
    assert 1 <= rounds <= accepted
    assert delta(before, after, "swallow_store_commit_round_seconds_count") == rounds
    # The journal's checkpoints (every 0.2 s by default) follow the deliveries.
    wait_for(lambda: value(scrape(srv), "swallow_journal_checkpoints_total", result="ok") >= 1,
             what="a journal checkpoint")
    assert value(scrape(srv), "swallow_journal_checkpoints_total", result="failed") == 0


def test_metrics_count_hangups(server_factory):
    srv = server_factory(HTTP)
    before = scrape(srv)
    with SMTPConn(HOST, srv.port) as c:
        c.start()
        for _ in range(10):  # max_errors = 10 in the harness's configuration
            c.send(b"NONSENSE\r\n")
        replies = c.read_until_closed()
        assert replies[-1].code == 421, replies
    wait_for(lambda: delta(before, scrape(srv), "swallow_smtp_hangups_total", reason="too_many_errors") == 1,
             what="the hang-up to be counted")


def test_metrics_count_tls_and_auth(auth_server_factory):
    srv = auth_server_factory(HTTP)
    before = scrape(srv)
    password = "Alice-pw-7fq2!Zx"
    with SMTPConn(HOST, srv.submission_port) as c:
        c.start_tls()
        assert c.cmd("AUTH PLAIN " + b64("\0alice@example.test\0wrong")).code == 535
        assert c.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + password)).code == 235
    # A client that gives up in the middle of the handshake: a failed handshake.
    with SMTPConn(HOST, srv.port) as c:
        c.start()
        assert c.cmd("STARTTLS").code == 220
        c.send(b"\x16\x03\x01\x00\x05hello")  # a TLS record header with garbage inside
        try:
            c.read_until_closed()
        except Exception:
            pass
    wait_for(lambda: delta(before, scrape(srv), "swallow_smtp_tls_handshakes_total", result="failed") == 1,
             what="the failed handshake to be counted")
    after = scrape(srv)
    assert delta(before, after, "swallow_smtp_tls_handshakes_total", result="ok") == 1
    assert delta(before, after, "swallow_smtp_auth_total", result="success") == 1
    assert delta(before, after, "swallow_smtp_auth_total", result="failure") == 1
    assert delta(before, after, "swallow_smtp_connections_total", listener="submission") == 1


def test_healthz_and_readyz(server_factory):
    srv = server_factory(HTTP)
    status, _, body = http_get(srv, "/healthz")
    assert (status, body) == (200, "ok\n")
    status, _, body = http_get(srv, "/readyz")
    assert status == 200, body
    assert body.splitlines() == ["listeners: ok", "store: ok", "journal: ok"], body
    assert http_get(srv, "/nothing-here")[0] == 404


def test_readyz_reports_an_unwritable_store(server_factory):
    """The mail directory replaced by a file (root may write anywhere, so permissions would not do): 503."""
    srv = server_factory(HTTP)
    mail = srv.data_dir / "mail"
    aside = srv.data_dir / "mail.aside"
    mail.rename(aside)
    mail.write_text("not a directory\n")
    try:
        status, _, body = http_get(srv, "/readyz")
        assert status == 503, body
        assert "store: cannot create a file" in body, body
        assert "listeners: ok" in body, body
    finally:
        mail.unlink()
        aside.rename(mail)
    status, _, body = http_get(srv, "/readyz")
    assert status == 200, body


def test_no_http_section_no_http_service(server_factory):
    """With a configuration file the HTTP service runs only when the file has an [http] section."""
    srv = server_factory()
    assert srv.http_port is None
    assert b"HTTP on" not in srv.full_logs()


def test_startup_line_names_the_http_address(server_factory):
    srv = server_factory(HTTP)
    wait_for(lambda: f"HTTP on http://{HOST}:{srv.http_port}/".encode() in srv.full_logs(),
             what="the HTTP start-up line")


def test_bad_http_listen_is_a_configuration_error(swallow_bin, tmp_path):
    from conftest import run_swallow

    path = tmp_path / "bad.toml"
    path.write_text('[http]\nlisten = "nowhere"\n')
    proc = run_swallow(["check-config", str(path)])
    assert proc.returncode != 0
    assert f'{path}: http.listen: "nowhere" is not HOST:PORT' in proc.stderr, proc.stderr
    path.write_text('[http]\nport = 80\n')
    proc = run_swallow(["check-config", str(path)])
    assert proc.returncode != 0
    assert f"{path}: http.port: unknown key" in proc.stderr, proc.stderr


def test_no_configuration_run_serves_http_on_8025(swallow_bin, tmp_path):
    """`swallow` alone: the HTTP service on 127.0.0.1:8025, its address among the start-up lines."""
    import socket
    import subprocess

    for port in (2525, 8025):
        try:
            with socket.socket() as probe:
                # As the server's listeners do: connections of an earlier test may linger in TIME_WAIT.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((HOST, port))
        except OSError:
            pytest.skip(f"port {port} is in use on this machine")
    out = tmp_path / "stdout.log"
    with open(out, "wb") as stdout:
        proc = subprocess.Popen([str(swallow_bin)], cwd=tmp_path, stdout=stdout, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: b"HTTP on http://127.0.0.1:8025/" in out.read_bytes() or proc.poll() is not None,
                 timeout=20, what="the HTTP start-up line")
        assert proc.poll() is None, out.read_text()
        with urllib.request.urlopen(f"http://{HOST}:8025/healthz", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://{HOST}:8025/metrics", timeout=10) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_no_configuration_run_goes_on_when_8025_is_taken(swallow_bin, tmp_path):
    """Mailpit, say, already has 127.0.0.1:8025: the README's run command still serves mail, with a warning."""
    import smtplib
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, 2525))
        except OSError:
            pytest.skip("port 2525 is in use on this machine")
    holder = socket.socket()
    # The previous test's connections to 8025 may linger in TIME_WAIT; a listener may still bind beside them.
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind((HOST, 8025))
    except OSError:
        holder.close()
        pytest.skip("port 8025 is in use on this machine")
    holder.listen(1)
    log = tmp_path / "log"
    with open(log, "wb") as output:
        proc = subprocess.Popen([str(swallow_bin)], cwd=tmp_path, stdout=output, stderr=output,
                                stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: b"going on without the HTTP service" in log.read_bytes() or proc.poll() is not None,
                 timeout=20, what="the warning about port 8025")
        assert proc.poll() is None, log.read_text()
        with smtplib.SMTP(HOST, 2525, timeout=10) as client:
            client.sendmail("a@client.test", ["bob@example.test"], "Subject: still here\r\n\r\nhi\r\n")
        assert list((tmp_path / "swallow-data" / "mail" / "example.test" / "bob" / "new").iterdir())
    finally:
        holder.close()
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_http_address_in_use_stops_the_server_with_its_address(swallow_bin, tmp_path):
    import socket
    import subprocess

    from swallowproc import free_port

    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "swallow.toml"
        config.write_text(f'listen = "{HOST}:{free_port()}"\ndata_dir = "{tmp_path}/data"\n[http]\n'
                          f'listen = "{HOST}:{port}"\n')
        proc = subprocess.run([str(swallow_bin), "serve", "--config", str(config)], capture_output=True, text=True,
                              timeout=30)
    assert proc.returncode != 0
    assert f"HTTP service on {HOST}:{port}: " in proc.stderr and "Address already in use" in proc.stderr, proc.stderr


def test_metrics_count_deliveries_and_the_queue(auth_server_factory):
    """Outbound: a delivered recipient counts as sent, one whose MX refuses for good as bounced, and one whose
    MX keeps deferring stays queued, which the queue gauges show."""
    from conftest import ALICE, PASSWORDS, expect
    from outbound_peers import LoopbackDNS, LoopbackPeer

    zone = ["remote.test. 60 IN MX 10 mx.remote.test.", "mx.remote.test. 60 IN A 127.0.0.1"]
    with LoopbackDNS(zone, {"servfail.test": "SERVFAIL"}) as dns, LoopbackPeer() as peer:
        srv = auth_server_factory({
            **HTTP,
            "delivery": {"nameservers": [dns.address], "port": peer.port, "retry_initial": 60,
                         "retry_maximum": 60, "dns_timeout": 2},
        })
        before = scrape(srv)
        with srv.connect_submission() as c:
            c.start_tls()
            c.login(ALICE, PASSWORDS[ALICE])
            expect(c.transaction(ALICE, ["carol@remote.test"], make_message(subject="sent")), 250)
            expect(c.transaction(ALICE, ["dave@servfail.test"], make_message(subject="deferred")), 250)
        peer.wait_messages(1)
        wait_for(lambda: delta(before, scrape(srv), "swallow_delivery_attempts_total", result="sent") == 1,
                 what="one sent recipient counted")
        wait_for(lambda: delta(before, scrape(srv), "swallow_delivery_attempts_total", result="deferred") >= 1,
                 what="the SERVFAIL recipient counted as deferred")
        # The deferred message waits a minute for its retry: the queue holds it, and it has an age.
        wait_for(lambda: value(scrape(srv), "swallow_queue_messages") == 1, what="one message in the queue")
        time.sleep(1.2)
        wait_for(lambda: value(scrape(srv), "swallow_queue_oldest_message_age_seconds") >= 1,
                 what="the queued message's age")
        assert delta(before, scrape(srv), "swallow_delivery_attempts_total", result="bounced") == 0
