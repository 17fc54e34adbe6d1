#!/usr/bin/env python3
"""Throughput benchmark: starts `swallow` on loopback with a fresh data directory, sends messages from
concurrent smtplib clients and prints figures. Loopback only, bounded in count and time.

    python3 scripts/bench.py [--clients 20] [--messages 50] [--size 4096] [--bin .build/release/swallow]
"""
import argparse
import os
import signal
import smtplib
import socket
import statistics
import subprocess
import tempfile
import threading
import time

from swallowproc import free_port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("SWALLOW_BIN", ".build/debug/swallow"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=50, help="per client")
    parser.add_argument("--size", type=int, default=4096, help="body octets")
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="swallow-bench-")
    port = free_port()
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--log-level", "warning"],
        stdout=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)

    body = ("Subject: bench\r\n\r\n" + ("x" * 76 + "\r\n") * (args.size // 78 + 1)).encode()
    latencies = []
    lock = threading.Lock()
    failures = []

    def client(n):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                for i in range(args.messages):
                    start = time.perf_counter()
                    smtp.sendmail("bench@sender.test", [f"user{n % 10}@bench.test"], body)
                    with lock:
                        latencies.append(time.perf_counter() - start)
        except Exception as error:  # noqa: BLE001 - a benchmark reports, it does not stop
            failures.append(repr(error))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - started
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)

    total = len(latencies)
    latencies.sort()
    print(f"clients={args.clients} messages={total} size={len(body)}B elapsed={elapsed:.2f}s")
    print(f"throughput={total / elapsed:.1f} msg/s  {total * len(body) / elapsed / 1e6:.2f} MB/s")
    if total:
        print(f"latency p50={statistics.median(latencies) * 1000:.1f}ms "
              f"p99={latencies[int(total * 0.99) - 1] * 1000:.1f}ms (each message fsynced before 250)")
    if failures:
        print(f"failures={len(failures)}: {failures[:3]}")


if __name__ == "__main__":
    main()
