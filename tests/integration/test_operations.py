"""Operator tools: `swallow status` against a running server, JSON log lines, `swallow --version`."""

from __future__ import annotations

import json

from conftest import DOMAIN, make_message, run_swallow


def test_status_reports_a_running_server(server_factory):
    srv = server_factory({"http": {"listen": "auto"}})
    with srv.connect() as c:
        c.start()
        c.transaction("s@client.test", [f"alice@{DOMAIN}"], make_message(subject="status"))
    srv.wait_delivered("alice", 1)
    proc = run_swallow(["status", "--config", str(srv.config_path)])
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
    assert lines["pid"] == str(srv.proc.pid)
    assert lines["listeners"] == f"127.0.0.1:{srv.port} (smtp)"
    assert lines["data_dir"] == str(srv.data_dir)
    assert lines["journal"].startswith("on (appended "), lines
    assert lines["messages_committed"].startswith("1 in 1 rounds"), lines
    assert lines["version"] == run_swallow(["--version"]).stdout.strip()
    assert int(lines["uptime"].split()[0]) >= 0
    for check in ("listeners", "store", "journal"):
        assert lines[f"ready.{check}"] == "ok", lines


def test_status_without_a_server_fails_clearly(server_factory):
    srv = server_factory({"http": {"listen": "auto"}}, start=False)
    proc = run_swallow(["status", "--config", str(srv.config_path)])
    assert proc.returncode != 0
    assert f"no Swallow HTTP service at 127.0.0.1:{srv.http_port}" in proc.stderr, proc.stderr
    text = srv.config_path.read_text()
    assert text.rstrip().endswith(f'[http]\nlisten = "127.0.0.1:{srv.http_port}"'), text  # the last section
    srv.config_path.write_text(text.split("[http]")[0])
    proc = run_swallow(["status", "--config", str(srv.config_path)])
    assert proc.returncode != 0 and "no [http] section" in proc.stderr, proc.stderr


def test_json_log_lines(server_factory):
    srv = server_factory({"log_format": "json"})
    with srv.connect() as c:
        c.start()
        c.transaction("s@client.test", [f"bob@{DOMAIN}"], make_message(subject="json"))
        assert c.cmd("QUIT").code == 221
    srv.wait_delivered("bob", 1)
    srv.stop()
    stderr = srv.stderr_path.read_text()
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is one JSON object
    assert records, stderr
    for record in records:
        assert {"time", "level", "label", "source", "message"} <= record.keys(), record
    accepted = [r for r in records if r["message"] == "message accepted"]
    assert len(accepted) == 1, records
    assert accepted[0]["to"] == f"<bob@{DOMAIN}>" and accepted[0]["from"] == "<s@client.test>", accepted
    assert accepted[0]["id"] and accepted[0]["conn"], accepted
