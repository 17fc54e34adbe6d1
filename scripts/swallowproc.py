"""What scripts/flood.py and scripts/soak.py share: finding the binary and starting a private server."""
import os
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(explicit):
    """`explicit`, else the release build, else the debug build; exits when there is none."""
    binary = explicit or next((p for p in (os.path.join(REPO, ".build-release/release/swallow"),
                                           os.path.join(REPO, ".build/debug/swallow")) if os.path.exists(p)), None)
    if not binary:
        sys.exit("no swallow binary: swift build (or pass --bin)")
    return binary


def start(binary, name, hostname, log_level, rest):
    """Starts `swallow serve` on a free 127.0.0.1 port with its own data directory and config (`rest` is appended
    to the config); returns (process, port, work directory) once it accepts connections."""
    work = tempfile.mkdtemp(prefix=f"swallow-{name}-")
    port = free_port()
    config = os.path.join(work, "swallow.toml")
    with open(config, "w") as f:
        f.write(f'hostname = "{hostname}"\nlisten = ["127.0.0.1:{port}"]\ndata_dir = "{work}/data"\n'
                f'log_level = "{log_level}"\n\n{rest}')
    server = subprocess.Popen([binary, "serve", "--config", config], stdout=open(os.path.join(work, "log"), "wb"),
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port, work
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                sys.exit("server did not start:\n" + open(os.path.join(work, "log")).read()[-2000:])
            time.sleep(0.1)
