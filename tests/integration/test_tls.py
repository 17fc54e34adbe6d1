"""STARTTLS and implicit TLS: the dialogue around the handshake, protocol versions, command injection, trace
headers, certificates (self-signed default, `swallow cert`, SNI, SIGHUP reload) and `openssl s_client`."""

import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from conftest import (
    HOST,
    HOSTNAME,
    IO_TIMEOUT,
    cert_dns_names,
    cert_text,
    check_trace,
    client_tls_context,
    ehlo_keywords,
    expect,
    make_message,
    run_swallow,
)


def make_cert(out_dir, *names, days=None):
    """`swallow cert --name N… --out DIR [--days N]`; returns (cert path, key path)."""
    args = ["cert"]
    for name in names:
        args += ["--name", name]
    args += ["--out", str(out_dir)]
    if days is not None:
        args += ["--days", str(days)]
    proc = run_swallow(args)
    assert proc.returncode == 0, f"swallow {' '.join(args)} failed ({proc.returncode}): {proc.stdout!r} {proc.stderr!r}"
    cert, key = out_dir / "cert.pem", out_dir / "key.pem"
    assert cert.is_file() and key.is_file(), f"swallow cert did not write cert.pem and key.pem in {out_dir}"
    return cert, key


def pem_to_der(path) -> bytes:
    text = path.read_text()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert m, f"no certificate in {path}: {text[:200]!r}"
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def served_cert(srv, server_hostname=None, implicit=False) -> bytes:
    """The certificate the server presents on a new connection (STARTTLS on the MX port, or implicit TLS)."""
    if implicit:
        c = srv.connect_submissions(server_hostname=server_hostname)
        with c:
            c.greeting()
            der = c.sock.getpeercert(binary_form=True)
            c.cmd("QUIT")
    else:
        with srv.connect() as c:
            c.start()
            c.starttls(server_hostname=server_hostname)
            der = c.sock.getpeercert(binary_form=True)
            c.ehlo()
            c.cmd("QUIT")
    assert der, "no peer certificate"
    return der


# ---------------------------------------------------------------------------------------------------------------
# The STARTTLS dialogue


def test_mx_ehlo_offers_starttls_but_no_auth_in_plaintext(server):
    with server.connect() as c:
        ehlo = c.start()
        keywords = ehlo_keywords(ehlo)
        assert "STARTTLS" in keywords, f"STARTTLS missing from EHLO on the MX listener: {ehlo!r}"
        assert "AUTH" not in keywords, f"AUTH must not be offered without TLS: {ehlo!r}"
        expect(c.cmd("QUIT"), 221)


def test_starttls_resets_the_session(server):
    with server.connect() as c:
        c.start()
        r = expect(c.cmd("STARTTLS"), 220, "2.0.0")
        assert "Ready to start TLS" in r.text, r
        c.wrap_tls()
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
        # RFC 3207 §4.2: the client must send EHLO again; the server has forgotten the first one
        expect(c.cmd("MAIL FROM:<s@client.test>"), 503, "5.5.1")
        ehlo = c.ehlo()
        keywords = ehlo_keywords(ehlo)
        assert "STARTTLS" not in keywords, f"STARTTLS offered inside TLS: {ehlo!r}"
        assert "AUTH" in keywords, f"AUTH not offered inside TLS: {ehlo!r}"
        assert set(m.upper() for m in keywords["AUTH"]) == {"PLAIN", "LOGIN", "SCRAM-SHA-256"}, ehlo
        expect(c.cmd("STARTTLS"), 503, "5.5.1")
        expect(c.cmd("NOOP"), 250)
        msg = make_message(subject="after starttls")
        c.transaction("s@client.test", ["alice@example.test"], msg)
        expect(c.cmd("QUIT"), 221)
    check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg, protocol="ESMTPS")


def test_starttls_with_a_parameter(server):
    with server.connect() as c:
        c.start()
        expect(c.cmd("STARTTLS x"), 501, "5.5.4")
        expect(c.cmd("NOOP"), 250)
        c.starttls()  # still possible after the syntax error
        c.ehlo()
        expect(c.cmd("NOOP"), 250)


@pytest.mark.parametrize("injected", ["RSET", "MAIL FROM:<evil@client.test>"])
def test_starttls_command_injection(server, injected):
    """Commands pipelined after STARTTLS in plaintext must be thrown away, never run inside TLS (CVE-2011-0411)."""
    with server.connect() as c:
        c.start()
        c.send(f"STARTTLS\r\n{injected}\r\n".encode())
        expect(c.read_reply(), 220, "2.0.0")
        # a plaintext answer to the injected command would land here (and break the handshake)
        c.wrap_tls()
        c.sock.settimeout(1.5)
        try:
            early = c.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            early = None
        finally:
            c.sock.settimeout(IO_TIMEOUT)
        assert early is None, f"server sent {early!r} inside TLS before any command (injected {injected!r} answered?)"
        ehlo = c.ehlo()
        assert len(ehlo.lines) > 1 and ehlo.lines[0].startswith(b"250-"), \
            f"first reply inside TLS is not the EHLO reply: {ehlo!r}"
        if injected.startswith("MAIL"):
            expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        r = expect(c.cmd("NOOP"), 250)
        assert c.buf == b"", f"extra replies inside TLS: {c.buf!r} after {r!r}"
    server.assert_healthy()
    assert server.maildir("alice") == []


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_versions_refused(server, version):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tls_version = getattr(ssl.TLSVersion, version)
        ctx = client_tls_context(minimum=tls_version, maximum=tls_version)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer the old protocol
    with server.connect() as c:
        c.start()
        expect(c.cmd("STARTTLS"), 220)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            c.wrap_tls(ctx)
            raise AssertionError(f"{version} handshake succeeded: negotiated {c.sock.version()}")
    server.assert_healthy()


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_received_header_names_esmtps_and_tls_version(server, version):
    tls = ssl.TLSVersion.TLSv1_2 if version == "TLSv1.2" else ssl.TLSVersion.TLSv1_3
    ctx = client_tls_context(minimum=tls, maximum=tls)
    msg = make_message(subject=f"over {version}")
    with server.connect() as c:
        c.start()
        c.starttls(ctx)
        assert c.sock.version() == version
        c.ehlo()
        c.transaction("s@client.test", ["alice@example.test"], msg)
        expect(c.cmd("QUIT"), 221)
    received = check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg,
                           protocol="ESMTPS")
    unfolded = re.sub(rb"\r\n[ \t]", b" ", received)
    assert f"(using {version}".encode() in unfolded, f"TLS version missing from {received!r}"


def test_received_header_plaintext_stays_esmtp(server):
    msg = make_message(subject="plaintext")
    with server.connect() as c:
        c.start()
        c.transaction("s@client.test", ["alice@example.test"], msg)
    received = check_trace(server.wait_delivered("alice", 1)[0].read_bytes(), "s@client.test", msg, protocol="ESMTP")
    assert b"using TLS" not in received, received


def test_failed_handshake_after_starttls(server):
    """Plaintext (instead of a ClientHello) after 220: the server drops the connection and carries on."""
    with server.connect() as c:
        c.start()
        expect(c.cmd("STARTTLS"), 220)
        c.send(b"EHLO client.test\r\nMAIL FROM:<s@client.test>\r\n")
        data = b""
        deadline = time.monotonic() + 10
        for _ in range(1000):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"server kept the connection open after a failed handshake; got {data!r}"
            c.sock.settimeout(remaining)
            try:
                chunk = c.sock.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                break
            except (socket.timeout, TimeoutError):
                raise AssertionError(f"server kept the connection open after a failed handshake; got {data!r}")
            if not chunk:
                break
            data += chunk
        assert not re.search(rb"(^|\n)[2-5]\d\d[ -]", data), f"server answered plaintext after STARTTLS: {data!r}"
    with server.connect() as c:  # a client that vanishes right after 220
        c.start()
        expect(c.cmd("STARTTLS"), 220)
    server.assert_healthy()


# ---------------------------------------------------------------------------------------------------------------
# Certificates


def test_self_signed_certificate_by_default(server):
    tls_dir = server.data_dir / "tls"
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    assert cert.is_file() and key.is_file(), f"no self-signed certificate in {tls_dir}: {list(tls_dir.glob('*'))}"
    der = served_cert(server)
    assert der == pem_to_der(cert), "the server does not present <data_dir>/tls/cert.pem"
    names = cert_dns_names(der)
    for name in (HOSTNAME, "localhost", "127.0.0.1", "::1"):
        assert name in names, f"{name} missing from the self-signed certificate's names {names}"
    assert "PRIVATE KEY" in key.read_text(), "key.pem holds no private key"
    assert key.stat().st_mode & 0o077 == 0, f"{key} is readable by others: {oct(key.stat().st_mode)}"


def test_cert_command(tmp_path):
    out = tmp_path / "certs"
    cert, key = make_cert(out, "x.test", "y.test", days=10)
    text = cert_text(cert.read_text())
    assert cert_dns_names(cert.read_text()) >= {"x.test", "y.test"}, text
    dates = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-enddate", "-in", str(cert)],
                           capture_output=True, text=True, timeout=30)
    assert dates.returncode == 0, dates.stderr
    fields = dict(line.split("=", 1) for line in dates.stdout.strip().splitlines())
    lifetime = ssl.cert_time_to_seconds(fields["notAfter"]) - ssl.cert_time_to_seconds(fields["notBefore"])
    assert 9 * 86400 <= lifetime <= 11 * 86400, f"--days 10 gave a certificate valid {lifetime / 86400:.1f} days"
    # the key belongs to the certificate
    pub_cert = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", str(cert)], capture_output=True,
                              timeout=30)
    pub_key = subprocess.run(["openssl", "pkey", "-pubout", "-in", str(key)], capture_output=True, timeout=30)
    assert pub_cert.returncode == 0 and pub_key.returncode == 0, (pub_cert.stderr, pub_key.stderr)
    assert pub_cert.stdout == pub_key.stdout, "key.pem does not match cert.pem"
    assert key.stat().st_mode & 0o077 == 0, f"{key} is readable by others: {oct(key.stat().st_mode)}"


def test_sni_selects_the_certificate(server_factory, tmp_path):
    a_cert, a_key = make_cert(tmp_path / "a", "a.test")
    b_cert, b_key = make_cert(tmp_path / "b", "b.test")
    srv = server_factory({
        "submissions": ["auto"],
        "tls": {"certificates": [{"cert": str(a_cert), "key": str(a_key)}, {"cert": str(b_cert), "key": str(b_key)}]},
    })
    a_der, b_der = pem_to_der(a_cert), pem_to_der(b_cert)
    assert a_der != b_der
    for implicit in (False, True):
        where = "implicit TLS" if implicit else "STARTTLS"
        got = served_cert(srv, "b.test", implicit)
        assert got == b_der, f"{where}, SNI b.test: got a certificate for {cert_dns_names(got)}"
        assert "b.test" in cert_dns_names(got)
        got = served_cert(srv, "a.test", implicit)
        assert got == a_der, f"{where}, SNI a.test: got a certificate for {cert_dns_names(got)}"
        got = served_cert(srv, None, implicit)
        assert got == a_der, f"{where}, no SNI: expected the first (default) certificate, got {cert_dns_names(got)}"
        got = served_cert(srv, "other.test", implicit)
        assert got == a_der, f"{where}, SNI other.test: expected the default certificate, got {cert_dns_names(got)}"
    # with a configured certificate, no self-signed one is made
    assert not (srv.data_dir / "tls" / "cert.pem").exists()


def test_sighup_reloads_certificates(server_factory, tmp_path):
    live = tmp_path / "live"
    cert, key = make_cert(live, "old.test")
    new_cert, new_key = make_cert(tmp_path / "new", "new.test")
    srv = server_factory({"tls": {"certificates": [{"cert": str(cert), "key": str(key)}]}})
    assert "old.test" in cert_dns_names(served_cert(srv))

    shutil.copyfile(new_key, key)
    shutil.copyfile(new_cert, cert)
    srv.proc.send_signal(signal.SIGHUP)  # not srv.signal(): a crash must still be reported
    names = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert srv.alive(), f"swallow died on SIGHUP\n{srv.logs()}"
        names = cert_dns_names(served_cert(srv))
        if "new.test" in names:
            break
        time.sleep(0.2)
    assert "new.test" in names, f"after SIGHUP new connections still get {names}"

    # a broken certificate: logged, the last good one stays in use
    log_size = len(srv.full_logs())
    cert.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    key.write_text("garbage\n")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(2)
    assert srv.alive(), f"swallow died on SIGHUP with a bad certificate\n{srv.logs()}"
    for _ in range(3):
        names = cert_dns_names(served_cert(srv))
        assert "new.test" in names, f"after a bad reload the server presents {names}"
    new_log = srv.full_logs()[log_size:].decode("utf-8", "replace")
    assert re.search(r"cert|tls|key", new_log, re.I), f"the failed reload was not logged: {new_log!r}"

    # a valid certificate with a key that does not belong to it is just as bad
    other_cert, _ = make_cert(tmp_path / "other", "mismatch.test")
    shutil.copyfile(other_cert, cert)
    shutil.copyfile(new_key, key)
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(2)
    assert srv.alive(), f"swallow died on SIGHUP with a mismatched key\n{srv.logs()}"
    for _ in range(3):
        names = cert_dns_names(served_cert(srv))
        assert "new.test" in names, f"after reloading a certificate with the wrong key the server presents {names}"
    srv.assert_healthy()


def test_openssl_s_client_starttls(server_factory, tmp_path):
    cert, key = make_cert(tmp_path / "c", "s-client.test")
    srv = server_factory({"tls": {"certificates": [{"cert": str(cert), "key": str(key)}]}})
    proc = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect", f"{HOST}:{srv.port}", "-crlf", "-quiet", "-brief",
         "-servername", "s-client.test"],
        input=b"EHLO client.test\nNOOP\nQUIT\n", capture_output=True, timeout=30)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    assert re.search(r"^250[ -]", out, re.M), f"no 250 inside TLS:\nstdout {out!r}\nstderr {err!r}"
    assert re.search(r"^221 ", out, re.M), f"no 221 to QUIT:\nstdout {out!r}\nstderr {err!r}"
    assert "STARTTLS" not in out, f"STARTTLS offered inside TLS: {out!r}"
    assert re.search(r"Protocol version: TLSv1\.[23]", err), err
    assert "s-client.test" in err, f"certificate subject not s-client.test: {err!r}"
