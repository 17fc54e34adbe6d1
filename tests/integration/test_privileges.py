"""Privileges: started as root with `user`, Swallow binds as root and then serves as that user; without `user`, root
is refused on addresses beyond loopback unless `allow_root = true`."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from conftest import DOMAIN, HOST, make_message, run_swallow
from swallowproc import free_port

USER = "swallow-test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs the suite as root)")


@pytest.fixture(scope="module")
def service_user() -> pwd.struct_passwd:
    """A system user to serve as, created when missing (CI's machine is new each run)."""
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   check=True)
    return pwd.getpwnam(USER)


@pytest.fixture
def open_dir():
    """A directory every user may traverse (pytest's own tmp_path is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="swallow-priv-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def server_in(server_factory, data: Path, overrides: dict):
    """A started server whose data directory is `data` (outside pytest's root-only tmp_path)."""
    srv = server_factory({"data_dir": str(data), **overrides}, start=False)
    srv.data_dir = data
    return srv.start()


def proc_ids(pid: int) -> dict[str, list[int]]:
    ids = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            ids[key] = [int(x) for x in rest.split()]
    return ids


def test_root_drops_to_the_configured_user(server_factory, service_user, open_dir):
    data = open_dir / "data"
    srv = server_in(server_factory, data, {"user": USER, "http": {"listen": "auto"}})
    uid, gid = service_user.pw_uid, service_user.pw_gid
    ids = proc_ids(srv.proc.pid)
    assert ids["Uid"] == [uid] * 4, ids  # real, effective, saved, file system
    assert ids["Gid"] == [gid] * 4, ids
    assert ids["Groups"] == [gid], ids
    assert b"privileges dropped" in srv.full_logs()
    # The HTTP service binds after the drop, and the store is writable by the user.
    with urllib.request.urlopen(f"http://{HOST}:{srv.http_port}/readyz", timeout=10) as response:
        assert response.status == 200

    with srv.connect() as c:
        c.start()
        c.transaction("s@client.test", [f"alice@{DOMAIN}"], make_message(subject="as a user"))
    delivered = srv.wait_delivered("alice", 1)
    for path in [delivered[0], delivered[0].parent, data, data / "mail", data / "journal", data / "swallow.lock"]:
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (uid, gid), f"{path} belongs to {st.st_uid}:{st.st_gid}"
    # Every file the start made (the self-signed certificate among them) is the user's.
    for path in data.rglob("*"):
        assert path.lstat().st_uid == uid, f"{path} belongs to uid {path.lstat().st_uid}"


def test_data_directory_of_a_root_run_is_handed_over(server_factory, service_user, open_dir):
    data = open_dir / "data"
    first = server_in(server_factory, data, {})
    with first.connect() as c:
        c.start()
        c.transaction("s@client.test", [f"bob@{DOMAIN}"], make_message(subject="as root"))
    first.wait_delivered("bob", 1)
    first.stop()
    assert next(data.rglob("new/*")).stat().st_uid == 0

    second = server_in(server_factory, data, {"user": USER})
    with second.connect() as c:
        c.start()
        c.transaction("s@client.test", [f"bob@{DOMAIN}"], make_message(subject="as the user"))
    second.wait_delivered("bob", 2)
    for path in data.rglob("*"):
        assert path.lstat().st_uid == service_user.pw_uid, f"{path} still belongs to uid {path.lstat().st_uid}"


def test_root_is_refused_beyond_loopback(swallow_bin, tmp_path):
    port = free_port()
    config = tmp_path / "swallow.toml"
    config.write_text(f'listen = ["0.0.0.0:{port}"]\ndata_dir = "{tmp_path}/data"\n')
    proc = subprocess.run([str(swallow_bin), "serve", "--config", str(config)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert f"refusing to serve as root on 0.0.0.0" in proc.stderr, proc.stderr
    assert 'user = "…"' in proc.stderr and "allow_root = true" in proc.stderr, proc.stderr


def test_allow_root_serves_beyond_loopback(server_factory):
    port = free_port()
    srv = server_factory({"allow_root": True, "listen": [f"0.0.0.0:{port}"]}, start=False)
    srv.port = port
    srv.start()
    with srv.connect() as c:
        assert c.start().code == 250


def test_unknown_user_is_an_error(swallow_bin, tmp_path):
    config = tmp_path / "swallow.toml"
    config.write_text(f'user = "no-such-user-here"\nlisten = "{HOST}:{free_port()}"\ndata_dir = "{tmp_path}/d"\n')
    proc = subprocess.run([str(swallow_bin), "serve", "--config", str(config)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert 'user: no such user "no-such-user-here"' in proc.stderr, proc.stderr
    config.write_text('group = "wheel"\n')
    proc = run_swallow(["check-config", str(config)])
    assert proc.returncode != 0 and f"{config}: group: needs user" in proc.stderr, proc.stderr


def test_user_added_by_root_while_running_can_log_in(server_factory, service_user, open_dir):
    """`swallow user add` run as root replaces the users file; it gives the new file to the server's user."""
    from conftest import b64

    data = open_dir / "data"
    srv = server_in(server_factory, data, {"user": USER, "auth": {"plaintext_on_loopback": True},
                                           "submission": ["auto"]})
    srv.add_user("alice@example.test", "Pw-live-1")
    assert (data / "users").stat().st_uid == service_user.pw_uid
    with srv.connect_submission() as c:
        c.start()
        assert c.cmd("AUTH PLAIN " + b64("\0alice@example.test\0Pw-live-1")).code == 235
