"""The real Exim (Debian's exim4-daemon-light) as a peer that delivers to Swallow.

Exim conflicts with Postfix in apt (both provide mail-transport-agent), so it is not installed: its packages are
fetched with `apt-get download exim4-daemon-light exim4-base` and unpacked with `dpkg -x` into a folder of our own
(EXIM_HOME, default /var/tmp/swallow-exim, or $SWALLOW_EXIM_HOME). The plain library packages of its Depends line
that the machine lacks (libidn12 on a fresh Debian 12) are installed with apt-get, and the system user
`Debian-exim` is created when missing (both as root only). Each `EximPeer` gets its own configuration, spool and
log directory in a fresh temporary directory and is run as `exim4 -C CONFIG` (`exim_path` points its re-execs at the
unpacked binary; the paniclog line "exim user lost privilege for using -C option" is expected); nothing listens (no
daemon) and the only route is a manualroute to 127.0.0.1:<port>.

    python3 tests/integration/exim_peer.py install    # what .ci/run does: fetch, unpack, create the user

`obtain()` does the same and returns the binary, or raises `EximUnavailable` with the reason.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXIM_HOME = Path(os.environ.get("SWALLOW_EXIM_HOME", "/var/tmp/swallow-exim"))
PACKAGES = ["exim4-daemon-light", "exim4-base"]
SYSTEM_USER = "Debian-exim"
STEP_TIMEOUT = 120.0  # any apt-get / dpkg step
RUN_TIMEOUT = 90.0  # one `exim4 -odi` run: connect, TLS and all SMTP timeouts below are far shorter


class EximUnavailable(Exception):
    """Exim cannot be obtained or run on this machine (the message says why)."""


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = STEP_TIMEOUT,
         env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def _binary() -> Path:
    return EXIM_HOME / "root" / "usr" / "sbin" / "exim4"


def _missing_libraries(binary: Path) -> list[str]:
    proc = _run(["ldd", str(binary)])
    return re.findall(r"^\s*(\S+) => not found", proc.stdout, re.M)


def _download(packages: list[str]) -> list[Path]:
    cache = EXIM_HOME / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    proc = _run(["apt-get", "download", *packages], cwd=cache)
    debs = []
    for name in packages:
        found = sorted(cache.glob(f"{name}_*.deb"))
        if found:
            debs.append(found[-1])
    if proc.returncode != 0 or len(debs) < len(packages):
        raise EximUnavailable(f"`apt-get download {' '.join(packages)}` failed ({proc.returncode}): "
                              f"{(proc.stderr or proc.stdout).strip()[-600:]} "
                              "(run `apt-get update` first, or set SWALLOW_EXIM_HOME to a folder that has it)")
    return debs


def _extract(debs: list[Path]):
    root = EXIM_HOME / "root"
    root.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        proc = _run(["dpkg", "-x", str(deb), str(root)])
        if proc.returncode != 0:
            raise EximUnavailable(f"dpkg -x {deb} failed: {proc.stderr.strip()[-400:]}")


def _dependency_packages(deb: Path) -> list[str]:
    """The first alternative of each Depends entry of a .deb, without versions."""
    proc = _run(["dpkg-deb", "-f", str(deb), "Depends"])
    names = []
    for entry in proc.stdout.split(","):
        first = entry.split("|")[0].strip()
        name = re.sub(r"\s*\(.*\)", "", first).split(":")[0].strip()
        if name and name not in PACKAGES and not name.startswith("debconf"):
            names.append(name)
    return names


def _installed(package: str) -> bool:
    proc = _run(["dpkg-query", "-W", "-f=${Status}", package])
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def ensure_system_user() -> str:
    """The user Exim drops to for deliveries: Debian-exim as root (created when missing), else the caller."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        proc = _run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                     "--shell", "/usr/sbin/nologin", SYSTEM_USER])
        if proc.returncode != 0 and "already exists" not in proc.stderr:
            raise EximUnavailable(f"useradd {SYSTEM_USER} failed: {proc.stderr.strip()}")
    return SYSTEM_USER


def version(binary: Path) -> str:
    proc = _run([str(binary), "-bV", "-C", "/dev/null"], timeout=30)
    m = re.search(r"Exim version (\S+)", proc.stdout)
    if not m:
        raise EximUnavailable(f"{binary} -bV did not run ({proc.returncode}): {(proc.stderr or proc.stdout)[-600:]}")
    return m.group(1)


def obtain() -> Path:
    """The path of a runnable exim4, fetching and unpacking it first when needed."""
    if not shutil.which("dpkg") and not _binary().exists():
        raise EximUnavailable("no dpkg on this machine and no unpacked Exim in " + str(EXIM_HOME))
    binary = _binary()
    try:
        if not binary.exists():
            debs = _download(PACKAGES)
            _extract(debs)
            if not binary.exists():
                raise EximUnavailable(f"{binary} is missing after unpacking {debs}")
        missing = _missing_libraries(binary)
        if missing:
            # Shared libraries the machine lacks (plain library packages from Exim's Depends line, none of
            # which conflicts with anything): installed with apt-get, as root only.
            debs = sorted((EXIM_HOME / "cache").glob("exim4-daemon-light_*.deb")) or _download(["exim4-daemon-light"])
            wanted = [p for p in _dependency_packages(debs[-1]) if not _installed(p)]
            if wanted and os.geteuid() == 0:
                proc = _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted], timeout=600,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
                if proc.returncode != 0:
                    raise EximUnavailable(f"apt-get install {' '.join(wanted)} failed: {proc.stderr.strip()[-600:]}")
            missing = _missing_libraries(binary)
            if missing:
                raise EximUnavailable(f"{binary} cannot load {', '.join(missing)} "
                                      f"(apt-get install {' '.join(wanted) or 'its libraries'} as root)")
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EximUnavailable(f"fetching Exim failed: {e}") from e
    ensure_system_user()
    version(binary)
    return binary


# --------------------------------------------------------------------------------------------------------------
# One Exim instance: config, spool, log


class EximPeer:
    """An Exim with its own config, spool and logs that routes every domain to 127.0.0.1:`port`.

    transport: extra option lines for the smtp transport, e.g. ["hosts_avoid_tls = *"].
    auth: (user, password) for a PLAIN authenticator in the client role (then `hosts_require_auth = *`).
    cert: a PEM certificate to copy into the instance (readable by the delivery user), referred to as CERT in
    `transport` lines, e.g. "tls_verify_certificates = CERT"."""

    def __init__(self, binary: Path, port: int, transport: list[str] | None = None,
                 auth: tuple[str, str] | None = None, cert: Path | None = None):
        self.binary = binary
        self.port = port
        self.user = ensure_system_user()
        pw = pwd.getpwnam(self.user)
        # Not under pytest's tmp_path: that is 0700 root, and the delivery process runs as Debian-exim.
        self.dir = Path(tempfile.mkdtemp(prefix="swallow-exim-"))
        os.chmod(self.dir, 0o755)
        self.spool = self.dir / "spool"
        self.logdir = self.dir / "log"
        for d in (self.spool, self.logdir):
            d.mkdir()
            os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(d, 0o750)
        lines = list(transport or [])
        if cert is not None:
            copy = self.dir / "swallow-cert.pem"
            shutil.copyfile(cert, copy)
            os.chmod(copy, 0o644)
            lines = [line.replace("CERT", str(copy)) for line in lines]
        self.config_path = self.dir / "exim.conf"
        self.config_path.write_text(self._config(lines, auth))
        os.chmod(self.config_path, 0o644)

    def _config(self, transport: list[str], auth: tuple[str, str] | None) -> str:
        for line in transport:
            assert "\n" not in line
        authenticator = ""
        if auth:
            user, password = auth
            for s in (user, password):
                assert not re.search(r"[\^$\\\"\n]", s), f"cannot write {s!r} into an Exim client_send"
            authenticator = (
                "begin authenticators\n\n"
                "plain_client:\n"
                "  driver = plaintext\n"
                "  public_name = PLAIN\n"
                f"  client_send = ^{user}^{password}\n"
            )
            transport = transport + ["hosts_require_auth = *"]
        return "\n".join([
            "# generated by tests/integration/exim_peer.py",
            "primary_hostname = exim.client.test",
            "qualify_domain = client.test",
            f"exim_path = {self.binary}",
            f"exim_user = {self.user}",
            f"exim_group = {pwd.getpwnam(self.user).pw_gid}",
            "never_users =",
            f"spool_directory = {self.spool}",
            f"log_file_path = {self.logdir}/%slog",
            f"pid_file_path = {self.dir}/exim.pid",
            "log_selector = +smtp_protocol_error +smtp_syntax_error +tls_peerdn +tls_certificate_verified"
            " +outgoing_port +received_recipients +delivery_size",
            "keep_environment =",
            "host_lookup =",
            "rfc1413_hosts =",
            "tls_advertise_hosts =",
            "",
            "begin acl",
            "",
            "begin routers",
            "",
            "to_swallow:",
            "  driver = manualroute",
            "  domains = *",
            "  route_list = * 127.0.0.1",
            "  self = send",
            "  transport = swallow_smtp",
            "  no_more",
            "",
            "begin transports",
            "",
            "swallow_smtp:",
            "  driver = smtp",
            f"  port = {self.port}",
            "  allow_localhost",
            "  helo_data = exim.client.test",
            "  connect_timeout = 10s",
            "  command_timeout = 15s",
            "  data_timeout = 15s",
            "  final_timeout = 15s",
            "  hosts_try_fastopen =",
            *[f"  {line}" for line in transport],
            "",
            "begin retry",
            "",
            "*  *  F,1h,10m",
            "",
            authenticator,
        ]) + "\n"

    # running ------------------------------------------------------------------------------------------------------

    def run(self, args: list[str], input: bytes = b"", timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
        cmd = [str(self.binary), "-C", str(self.config_path), *args]
        try:
            return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                                  cwd=self.dir)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"exim {' '.join(args)} did not finish within {timeout}s\n{self.logs()}") from e

    def send(self, sender: str, recipients: list[str], message: bytes,
             verbose: bool = True) -> subprocess.CompletedProcess:
        """Injects a message (`-odi`: delivered in the foreground before exim returns; `-v` shows the dialogue)."""
        args = ["-odi", "-oi", "-f", sender, *(["-v"] if verbose else []), "--", *recipients]
        return self.run(args, input=message)

    def mainlog(self) -> str:
        path = self.logdir / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        out = []
        for name in ("mainlog", "rejectlog", "paniclog"):
            path = self.logdir / name
            if path.exists():
                out.append(f"--- exim {name} ---\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(out) or "(exim wrote no log)"

    def queue(self) -> str:
        """`exim -bp`: the messages still in the queue (empty when all were delivered)."""
        return self.run(["-bp"], timeout=30).stdout.decode("utf-8", "replace")

    def wait_log(self, pattern: str, timeout: float = 20.0) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.mainlog(), re.M)
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.1)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: exim_peer.py install")
    try:
        path = obtain()
    except EximUnavailable as e:
        sys.exit(f"Exim unavailable: {e}")
    print(f"exim {version(path)} at {path}")
