"""AUTH (RFC 4954): `swallow user`, PLAIN, LOGIN and SCRAM-SHA-256 (with the `scramp` client), reply codes,
brute-force limits, secrets kept out of logs and files, users added while running, policies that depend on
authentication (VRFY/EXPN/TURN), and real clients (smtplib, swaks, curl)."""

import base64
import re
import smtplib
import subprocess
import time

import pytest
import scramp

from conftest import (
    ALICE,
    BOB,
    HOST,
    PASSWORDS,
    SMTPConn,
    check_trace,
    client_tls_context,
    ehlo_keywords,
    expect,
    make_message,
    b64,
    run_swallow,
    to_toml,
)

ALICE_PW = PASSWORDS[ALICE]
CRED_LINE = re.compile(r"^([^:\s]+):SCRAM-SHA-256\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def tls_session(srv, port=None):
    """A raw connection on the MX port (or `port`) with STARTTLS done and EHLO sent inside TLS."""
    c = SMTPConn(srv.host, port or srv.port)
    c.start_tls()
    return c


def scram_auth(c, user, password, initial_response=True):
    """Drives SCRAM-SHA-256 with scramp; returns (final reply, whether the server signature verified)."""
    client = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
    first = client.get_client_first()
    if initial_response:
        r = c.cmd("AUTH SCRAM-SHA-256 " + b64(first))
    else:
        r = c.cmd("AUTH SCRAM-SHA-256")
        assert r.code == 334 and r.texts[0].strip() == "", f"expected an empty 334 challenge: {r!r}"
        r = c.cmd(b64(first))
    if r.code != 334:
        return r, False
    server_first = base64.b64decode(r.texts[0].strip(), validate=True).decode()
    assert server_first.startswith("r="), f"server-first-message {server_first!r}"
    client.set_server_first(server_first)
    r = c.cmd(b64(client.get_client_final()))
    if r.code != 334:
        return r, False
    server_final = base64.b64decode(r.texts[0].strip(), validate=True).decode()
    if server_final.startswith("e="):  # RFC 5802 error in server-final-message: the client ends the exchange
        return c.cmd(""), False
    client.set_server_final(server_final)  # raises when the server signature is wrong
    return c.cmd(""), True


# ---------------------------------------------------------------------------------------------------------------
# swallow user


def users(args_tail, **kw):
    return run_swallow(["user", "list", *args_tail], **kw)


def test_user_cli_with_users_file(tmp_path):
    path = tmp_path / "users"
    where = ["--users-file", str(path)]
    password = "Cli-Secret-Pw-4711"
    for address in (ALICE, BOB):
        proc = run_swallow(["user", "add", address, *where], input=password + "\n")
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
    proc = users(where)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()) == [ALICE, BOB], proc.stdout
    text = path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 2, text
    salts = set()
    for line in lines:
        m = CRED_LINE.match(line)
        assert m, f"users file line is not address:SCRAM-SHA-256$iter$salt$storedkey$serverkey: {line!r}"
        assert m.group(1) in (ALICE, BOB)
        assert int(m.group(2)) >= 4096, f"iteration count {m.group(2)} below RFC 7677's 4096"
        salts.add(m.group(3))
    assert len(salts) == 2, "two users share a salt"
    assert password not in text and b64(password) not in text, "the password is stored in the users file"
    assert path.stat().st_mode & 0o077 == 0, f"the users file is readable by others: {oct(path.stat().st_mode)}"

    # passwd changes the credential of an existing user only
    old_line = next(line for line in lines if line.startswith(ALICE + ":"))
    proc = run_swallow(["user", "passwd", ALICE, *where], input="Another-Pw-0815\n")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    new_line = next(line for line in path.read_text().splitlines() if line.startswith(ALICE + ":"))
    assert new_line != old_line and CRED_LINE.match(new_line)
    assert "Another-Pw-0815" not in path.read_text()
    proc = run_swallow(["user", "passwd", "carol@example.test", *where], input="x-pw-123\n")
    assert proc.returncode != 0, f"passwd of an unknown user succeeded: {proc.stdout!r}"
    assert "carol" not in path.read_text()

    # an empty password is refused
    proc = run_swallow(["user", "add", "dave@example.test", *where], input="\n")
    assert proc.returncode != 0, "an empty password was accepted"
    assert "dave" not in path.read_text()

    proc = run_swallow(["user", "remove", ALICE, *where])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert users(where).stdout.split() == [BOB]
    assert ALICE not in path.read_text()
    proc = run_swallow(["user", "remove", ALICE, *where])
    assert proc.returncode != 0, "removing a missing user succeeded"


def test_user_cli_with_data_dir_and_config(tmp_path, server_factory):
    data = tmp_path / "dd"
    data.mkdir()
    proc = run_swallow(["user", "add", ALICE, "--data-dir", str(data)], input="Pw-data-dir-1\n")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert (data / "users").is_file(), "--data-dir did not use <data dir>/users"
    assert users(["--data-dir", str(data)]).stdout.split() == [ALICE]

    # --config: <data_dir>/users by default, [auth] users_file when set
    srv = server_factory(start=False)
    srv.add_user(BOB, "Pw-config-2")
    assert (srv.data_dir / "users").is_file()
    assert users(["--config", str(srv.config_path)]).stdout.split() == [BOB]
    custom = tmp_path / "elsewhere-users"
    srv2 = server_factory({"auth": {"users_file": str(custom)}}, start=False)
    srv2.add_user(ALICE, "Pw-config-3")
    assert custom.is_file() and not (srv2.data_dir / "users").exists()
    assert users(["--config", str(srv2.config_path)]).stdout.split() == [ALICE]


def test_user_add_reads_one_line(auth_server_factory):
    """The password is the first line of stdin, without its newline; the rest is not part of it."""
    srv = auth_server_factory(users={ALICE: "First-Line-Pw\nsecond line"})
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, "First-Line-Pw\nsecond line"), 535, "5.7.8")
        expect(c.auth_plain(ALICE, "First-Line-Pw"), 235, "2.7.0")


# ---------------------------------------------------------------------------------------------------------------
# The mechanisms


def test_auth_plain_with_initial_response(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)


def test_auth_plain_with_empty_challenge(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        r = expect(c.cmd("AUTH PLAIN"), 334)
        assert r.lines[0] in (b"334 ", b"334"), f"PLAIN challenge must be empty: {r!r}"
        expect(c.cmd(b64(f"\0{ALICE}\0{ALICE_PW}")), 235, "2.7.0")


def test_auth_plain_with_authzid_equal_to_user(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        expect(c.cmd("AUTH PLAIN " + b64(f"{ALICE}\0{ALICE}\0{ALICE_PW}")), 235, "2.7.0")


def test_auth_plain_cannot_act_as_another_user(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        r = c.cmd("AUTH PLAIN " + b64(f"{BOB}\0{ALICE}\0{ALICE_PW}"))
        assert r.code in (535, 501), f"alice asking to act as bob (authzid): expected 535 or 501, got {r!r}"
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")


def test_auth_login(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        r = expect(c.cmd("AUTH LOGIN"), 334)
        assert r.texts[0] == "VXNlcm5hbWU6", r
        r = expect(c.cmd(b64(ALICE)), 334)
        assert r.texts[0] == "UGFzc3dvcmQ6", r
        expect(c.cmd(b64(ALICE_PW)), 235, "2.7.0")


def test_auth_login_with_initial_response(auth_server_factory):
    """`AUTH LOGIN <base64 user>` (what smtplib sends): the server goes straight to the password prompt."""
    srv = auth_server_factory()
    with tls_session(srv) as c:
        r = expect(c.cmd("AUTH LOGIN " + b64(ALICE)), 334)
        assert r.texts[0] == "UGFzc3dvcmQ6", r
        expect(c.cmd(b64(ALICE_PW)), 235, "2.7.0")


@pytest.mark.parametrize("initial_response", [True, False])
def test_auth_scram_sha_256(auth_server_factory, initial_response):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        r, verified = scram_auth(c, ALICE, ALICE_PW, initial_response)
        expect(r, 235, "2.7.0")
        assert verified, "server signature not checked"
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)


def test_auth_scram_wrong_password_and_unknown_user(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        r, _ = scram_auth(c, ALICE, "not-the-password")
        expect(r, 535, "5.7.8")
        r, _ = scram_auth(c, "nobody@example.test", "whatever-pw")
        expect(r, 535, "5.7.8")


def test_non_ascii_password(auth_server_factory):
    password = "pässwörd-Ünïcode-€"
    srv = auth_server_factory(users={ALICE: password})
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, password), 235, "2.7.0")
    with tls_session(srv) as c:
        r, verified = scram_auth(c, ALICE, password)
        expect(r, 235, "2.7.0")
        assert verified


def test_wrong_password_and_unknown_user(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, "wrong-password"), 535, "5.7.8")
        expect(c.auth_plain("nobody@example.test", ALICE_PW), 535, "5.7.8")
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")
    with tls_session(srv) as c:
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(c.cmd(b64(ALICE)), 334)
        expect(c.cmd(b64("wrong-password")), 535, "5.7.8")


def test_malformed_base64_and_cancel(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        expect(c.cmd("AUTH PLAIN not*base64!"), 501, "5.5.2")
        expect(c.cmd("AUTH PLAIN"), 334)
        expect(c.cmd("*"), 501, "5.5.2")
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")  # the session goes on
    with tls_session(srv) as c:
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(c.cmd("%%%"), 501, "5.5.2")
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(c.cmd(b64(ALICE)), 334)
        expect(c.cmd("*"), 501, "5.5.2")
        expect(c.cmd("NOOP"), 250)
    with tls_session(srv) as c:
        client = scramp.ScramClient(["SCRAM-SHA-256"], ALICE, ALICE_PW)
        expect(c.cmd("AUTH SCRAM-SHA-256 " + b64(client.get_client_first())), 334)
        expect(c.cmd("*"), 501, "5.5.2")
        expect(c.cmd("NOOP"), 250)


def test_auth_sequence_errors(auth_server_factory):
    srv = auth_server_factory()
    with srv.connect() as c:
        c.start()
        c.starttls()
        # inside TLS, before the new EHLO
        expect(c.auth_plain(ALICE, ALICE_PW), 503, "5.5.1")
        c.ehlo()
        expect(c.cmd("MAIL FROM:<s@client.test>"), 250)
        expect(c.auth_plain(ALICE, ALICE_PW), 503, "5.5.1")  # inside a transaction
        expect(c.cmd("RSET"), 250)
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")
        expect(c.auth_plain(ALICE, ALICE_PW), 503, "5.5.1")  # already authenticated
        expect(c.cmd("AUTH LOGIN"), 503, "5.5.1")
        expect(c.cmd("NOOP"), 250)
    with srv.connect_submissions() as c:  # implicit TLS, before any EHLO
        c.greeting()
        expect(c.auth_plain(ALICE, ALICE_PW), 503, "5.5.1")
        c.ehlo()
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")


def test_unknown_and_disabled_mechanisms(auth_server_factory):
    srv = auth_server_factory({"auth": {"mechanisms": ["PLAIN"]}})
    with tls_session(srv) as c:
        expect(c.cmd("AUTH CRAM-MD5"), 504, "5.5.4")
        expect(c.cmd("AUTH LOGIN"), 504, "5.5.4")
        expect(c.cmd("AUTH SCRAM-SHA-256 " + b64("n,,n=alice@example.test,r=abcdefgh")), 504, "5.5.4")
        expect(c.cmd("EHLO client.test"), 250)
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")
    with srv.connect() as c:
        c.start()
        c.starttls()
        ehlo = c.ehlo()
        assert [m.upper() for m in ehlo_keywords(ehlo)["AUTH"]] == ["PLAIN"], ehlo


def test_auth_refused_without_tls_on_mx(auth_server_factory):
    srv = auth_server_factory()
    with srv.connect() as c:
        ehlo = c.start()
        assert "AUTH" not in ehlo_keywords(ehlo), ehlo
        expect(c.auth_plain(ALICE, ALICE_PW), 538, "5.7.11")
        expect(c.cmd("AUTH LOGIN"), 538, "5.7.11")
        expect(c.cmd("NOOP"), 250)
        # anonymous delivery still works
        c.transaction("s@client.test", [BOB], make_message())
    srv.wait_delivered("bob", 1)


def test_plaintext_on_loopback(auth_server_factory):
    srv = auth_server_factory({"auth": {"plaintext_on_loopback": True}})
    msg = make_message(subject="plaintext auth")
    with srv.connect() as c:
        c.greeting()
        expect(c.auth_plain(ALICE, ALICE_PW), 503, "5.5.1")  # before EHLO
        ehlo = c.ehlo()
        keywords = ehlo_keywords(ehlo)
        assert "AUTH" in keywords and "STARTTLS" in keywords, ehlo
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")
        c.transaction(ALICE, [BOB], msg)
    check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPA")


# ---------------------------------------------------------------------------------------------------------------
# Brute force


def test_session_failure_limit(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, "wrong-1"), 535, "5.7.8")
        expect(c.auth_plain(ALICE, "wrong-2"), 535, "5.7.8")
        expect(c.auth_plain(ALICE, "wrong-3"), 535, "5.7.8")
        replies = c.read_until_closed()
        assert len(replies) == 1 and replies[0].code == 421 and replies[0].enhanced == "4.7.0", replies
    srv.assert_healthy()


def test_session_failure_limit_mixed_mechanisms(auth_server_factory):
    srv = auth_server_factory({"auth": {"max_failures": 2}})
    with tls_session(srv) as c:
        r, _ = scram_auth(c, ALICE, "wrong-1")
        expect(r, 535, "5.7.8")
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(c.cmd(b64(ALICE)), 334)
        expect(c.cmd(b64("wrong-2")), 535, "5.7.8")
        replies = c.read_until_closed()
        assert [(r.code, r.enhanced) for r in replies] == [(421, "4.7.0")], replies


def test_client_failure_throttle(auth_server_factory):
    srv = auth_server_factory({"auth": {"failures_per_client": 4}})
    for attempt in range(2):
        with tls_session(srv) as c:
            expect(c.auth_plain(ALICE, f"wrong-{attempt}-a"), 535, "5.7.8")
            expect(c.auth_plain(ALICE, f"wrong-{attempt}-b"), 535, "5.7.8")
            expect(c.cmd("QUIT"), 221)
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 454, "4.7.0")  # even the right password
        expect(c.cmd("AUTH LOGIN"), 454, "4.7.0")
        expect(c.cmd("NOOP"), 250)
        # anonymous mail from the same address is not affected
        c.transaction("s@client.test", [BOB], make_message())
    with tls_session(srv, port=srv.submission_port) as c:
        expect(c.auth_plain(BOB, PASSWORDS[BOB]), 454, "4.7.0")  # per client address, not per listener
    srv.wait_delivered("bob", 1)


def test_client_failure_throttle_expires(auth_server_factory):
    srv = auth_server_factory({"auth": {"failures_per_client": 2, "throttle_window": 5}})
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, "wrong-a"), 535, "5.7.8")
        expect(c.auth_plain(ALICE, "wrong-b"), 535, "5.7.8")
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 454, "4.7.0")
    time.sleep(6)
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 235, "2.7.0")


# ---------------------------------------------------------------------------------------------------------------
# Secrets


@pytest.mark.parametrize("log_level", ["info", "trace"])
def test_logs_never_contain_secrets(auth_server_factory, log_level):
    wrong = "Wrong-Guess-Pw-31337"
    srv = auth_server_factory({"log_level": log_level, "auth": {"failures_per_client": 100}})
    payloads = []

    def send(c, line):
        payloads.append(line)
        return c.cmd(line)

    with tls_session(srv) as c:
        expect(send(c, "AUTH PLAIN " + b64(f"\0{ALICE}\0{wrong}")), 535)
        expect(send(c, "AUTH PLAIN " + b64(f"\0{ALICE}\0{ALICE_PW}")), 235)
    with tls_session(srv) as c:
        expect(c.cmd("AUTH PLAIN"), 334)
        expect(send(c, b64(f"\0{ALICE}\0{ALICE_PW}")), 235)
    with tls_session(srv) as c:
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(send(c, b64(ALICE)), 334)
        expect(send(c, b64(ALICE_PW)), 235)
    with tls_session(srv) as c:
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(send(c, b64(BOB)), 334)
        expect(send(c, b64(wrong)), 535)
    with tls_session(srv) as c:
        client = scramp.ScramClient(["SCRAM-SHA-256"], ALICE, ALICE_PW)
        first = b64(client.get_client_first())
        r = expect(send(c, "AUTH SCRAM-SHA-256 " + first), 334)
        client.set_server_first(base64.b64decode(r.texts[0]).decode())
        final = b64(client.get_client_final())
        expect(send(c, final), 334)
        expect(c.cmd(""), 235)
    with tls_session(srv) as c:
        expect(send(c, "AUTH PLAIN " + b64(f"\0{ALICE}\0{wrong}") + "!!"), 501)
    with srv.connect() as c:  # refused without TLS, payload included
        c.start()
        expect(send(c, "AUTH PLAIN " + b64(f"\0{ALICE}\0{ALICE_PW}")), 538)
    srv.stop()
    logs = srv.full_logs()
    assert logs, "no log output at all"
    secrets = [ALICE_PW, wrong, PASSWORDS[BOB]]
    for secret in secrets:
        assert secret.encode() not in logs, f"password {secret!r} in the log:\n{logs.decode(errors='replace')[-3000:]}"
    for line in payloads:
        payload = line.split()[-1]
        assert payload.encode() not in logs, f"AUTH payload {payload!r} in the log"
    users_text = srv.users_file().read_bytes()
    for secret in secrets:
        assert secret.encode() not in users_text and b64(secret).encode() not in users_text


def test_users_added_while_running(auth_server_factory):
    srv = auth_server_factory(users={BOB: PASSWORDS[BOB]}, overrides={"auth": {"failures_per_client": 1000}})
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 535, "5.7.8")

    def auth_result(password, want, limit=10.0):
        deadline = time.monotonic() + limit
        r = None
        while time.monotonic() < deadline:
            with tls_session(srv) as c:
                r = c.auth_plain(ALICE, password)
            if r.code == want:
                return r
            time.sleep(0.3)
        return r

    srv.add_user(ALICE, ALICE_PW)
    expect(auth_result(ALICE_PW, 235), 235, "2.7.0")

    proc = run_swallow(["user", "passwd", ALICE, "--config", str(srv.config_path)], input="Changed-Pw-2222\n")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    expect(auth_result("Changed-Pw-2222", 235), 235, "2.7.0")
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 535, "5.7.8")

    proc = run_swallow(["user", "remove", ALICE, "--config", str(srv.config_path)])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    expect(auth_result("Changed-Pw-2222", 535), 535, "5.7.8")
    with tls_session(srv) as c:
        expect(c.auth_plain(BOB, PASSWORDS[BOB]), 235, "2.7.0")
    assert srv.alive()


# ---------------------------------------------------------------------------------------------------------------
# Policies that depend on authentication


def test_vrfy_expn_turn_authenticated_policy(auth_server_factory):
    srv = auth_server_factory({"policy": {"vrfy": "authenticated", "expn": "authenticated"}})
    with tls_session(srv) as c:
        expect(c.cmd("VRFY alice"), 252)
        expect(c.cmd("VRFY nobody"), 252)
        expect(c.cmd("EXPN team"), 502)
        expect(c.cmd("TURN"), 530, "5.7.0")
        expect(c.auth_plain(ALICE, ALICE_PW), 235)
        r = expect(c.cmd("VRFY alice"), 250)
        assert "alice@example.test" in r.text, r
        expect(c.cmd("VRFY nobody"), 550)
        r = expect(c.cmd("EXPN team"), 250)
        assert len(r.lines) >= 2 and "alice@example.test" in r.text and "bob@example.test" in r.text, r
        expect(c.cmd("TURN"), 502, "5.5.1")
        expect(c.cmd("NOOP"), 250)


def test_vrfy_expn_disabled_stays_disabled_after_auth(auth_server_factory):
    srv = auth_server_factory()  # conftest's default: vrfy = expn = "disabled"
    with tls_session(srv) as c:
        c.login(ALICE, ALICE_PW)
        expect(c.cmd("VRFY alice"), 252)
        expect(c.cmd("EXPN team"), 502, "5.5.1")


def test_vrfy_expn_default_is_authenticated(auth_server_factory):
    srv = auth_server_factory(start=False)
    del srv.settings["policy"]["vrfy"], srv.settings["policy"]["expn"]
    srv.config_path.write_text(to_toml(srv.settings))
    srv.start()
    with tls_session(srv) as c:
        expect(c.cmd("VRFY alice"), 252)
        expect(c.cmd("EXPN team"), 502)
        c.login(ALICE, ALICE_PW)
        expect(c.cmd("VRFY alice"), 250)
        r = expect(c.cmd("EXPN team"), 250)
        assert "bob@example.test" in r.text, r


def test_mail_auth_parameter(auth_server_factory):
    srv = auth_server_factory()
    with tls_session(srv) as c:
        expect(c.auth_plain(ALICE, ALICE_PW), 235)
        expect(c.cmd("MAIL FROM:<alice@example.test> AUTH=<>"), 250)
        expect(c.cmd("RSET"), 250)
        expect(c.cmd("MAIL FROM:<alice@example.test> AUTH=alice@example.test"), 250)


def test_authenticated_message_trace(auth_server_factory):
    srv = auth_server_factory()
    msg = make_message(subject="authenticated")
    with tls_session(srv) as c:
        c.login(ALICE, ALICE_PW)
        c.transaction(ALICE, [BOB], msg)
        expect(c.cmd("QUIT"), 221)
    received = check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPSA")
    assert re.search(rb"\(using TLSv1\.[23]", re.sub(rb"\r\n[ \t]", b" ", received)), received


# ---------------------------------------------------------------------------------------------------------------
# Real clients


@pytest.mark.parametrize("mechanism", ["auto", "PLAIN", "LOGIN"])
def test_smtplib_starttls_login(auth_server_factory, mechanism):
    srv = auth_server_factory()
    msg = make_message(subject=f"smtplib {mechanism}")
    with srv.smtp() as s:
        s.ehlo()
        assert s.has_extn("starttls") and not s.has_extn("auth")
        s.starttls(context=client_tls_context())
        s.ehlo()
        assert s.has_extn("auth")
        s.user, s.password = ALICE, ALICE_PW
        if mechanism == "auto":
            code, _ = s.login(ALICE, ALICE_PW)
        else:
            code, _ = s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
        assert code == 235
        refused = s.sendmail(ALICE, [BOB], msg)
        assert refused == {}
    check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPSA")


def test_smtplib_wrong_password(auth_server_factory):
    srv = auth_server_factory()
    with srv.smtp() as s:
        s.starttls(context=client_tls_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            s.login(ALICE, "wrong-password")
        assert info.value.smtp_code == 535


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_tls_auth(auth_server_factory, mechanism):
    srv = auth_server_factory()
    proc = subprocess.run(
        ["swaks", "--server", HOST, "--port", str(srv.port), "--tls", "--auth", mechanism,
         "--auth-user", ALICE, "--auth-password", ALICE_PW, "--from", ALICE, "--to", BOB,
         "--ehlo", "client.test", "--header", f"Subject: swaks {mechanism}", "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"swaks exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert re.search(r"<~ +235 2\.7\.0", proc.stdout), proc.stdout
    data = srv.wait_delivered("bob", 1)[0].read_bytes()
    assert f"swaks {mechanism}".encode() in data
    assert re.search(rb"with ESMTPSA\b", data), data[:600]


def test_swaks_wrong_password(auth_server_factory):
    srv = auth_server_factory()
    proc = subprocess.run(
        ["swaks", "--server", HOST, "--port", str(srv.port), "--tls", "--auth", "PLAIN",
         "--auth-user", ALICE, "--auth-password", "wrong-password", "--from", ALICE, "--to", BOB,
         "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 28, f"swaks should fail at AUTH (exit 28), got {proc.returncode}\n{proc.stdout}"
    assert "535 5.7.8" in proc.stdout, proc.stdout
    assert srv.maildir("bob") == []


@pytest.mark.parametrize("listener", ["mx-starttls", "submissions"])
def test_curl(auth_server_factory, tmp_path, listener):
    srv = auth_server_factory()
    msg = make_message(subject=f"curl {listener}")
    path = tmp_path / "msg.eml"
    path.write_bytes(msg)
    if listener == "mx-starttls":
        url = ["--ssl-reqd", f"smtp://{HOST}:{srv.port}/client.test"]
    else:
        url = [f"smtps://{HOST}:{srv.submissions_port}/client.test"]
    proc = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", "30", *url, "--mail-from", ALICE, "--mail-rcpt", BOB,
         "--upload-file", str(path), "--user", f"{ALICE}:{ALICE_PW}"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"curl exit {proc.returncode}: {proc.stderr}"
    check_trace(srv.wait_delivered("bob", 1)[0].read_bytes(), ALICE, msg, protocol="ESMTPSA")
