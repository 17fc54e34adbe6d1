#!/usr/bin/env python3
"""Soak test: steady mail load for a long time, watching the server's memory and file descriptors.

    scripts/soak.py [--bin PATH] [--minutes 30] [--clients 10] [--rate 50] [--sample 10] [--out FILE]

Starts its own server on a free 127.0.0.1 port with its own data directory and keeps `--clients` smtplib clients
sending about `--rate` messages per second in all (a mix of sizes and recipients, some sessions that end without
QUIT, some refused recipients, some aborted DATA), deleting delivered files now and then as a reader would. Every
`--sample` seconds it records the server's RSS and open file descriptors; at the end it prints the series and the
growth between the first and the last quarter of the run. Not part of CI: it takes as long as you ask.
Exit status 1 when the server died or a client saw an unexpected reply.
"""
import argparse
import os
import random
import shutil
import smtplib
import sys
import threading
import time

import swallowproc


def status(pid):
    try:
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def client(number, port, until, interval, counts, errors, lock):
    rng = random.Random(number)
    while time.monotonic() < until:
        started = time.monotonic()
        kind = rng.random()
        try:
            s = smtplib.SMTP("127.0.0.1", port, local_hostname=f"soak{number}.test", timeout=30)
            s.ehlo()
            if kind < 0.05:  # a refused recipient
                code, _ = s.rcpt("nobody@soak.test") if s.mail("a@soak.test")[0] == 250 else (0, b"")
                outcome = "refused" if code == 550 else f"unexpected {code}"
            elif kind < 0.10:  # DATA abandoned mid-body: the connection just drops
                s.mail("a@soak.test")
                s.rcpt("box1@soak.test")
                s.putcmd("DATA")
                s.getreply()
                s.send(b"Subject: dropped\r\n\r\npartial body")
                s.sock.close()
                outcome = "dropped"
            else:
                size = rng.choice([200, 2_000, 20_000, 200_000])
                rcpts = [f"box{rng.randrange(5)}@soak.test" for _ in range(rng.choice([1, 1, 1, 3]))]
                body = f"Subject: soak {number}\r\n\r\n" + ("z" * 70 + "\r\n") * (size // 72)
                s.sendmail("a@soak.test", rcpts, body)
                outcome = "sent"
            if outcome != "dropped":
                if kind < 0.5:
                    s.quit()
                else:
                    s.close()  # no QUIT
        except Exception as e:
            outcome = f"error {type(e).__name__}"
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome.startswith(("error", "unexpected")):
                errors.append(outcome)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--rate", type=float, default=50, help="messages per second in all")
    ap.add_argument("--sample", type=float, default=10, help="seconds between samples")
    ap.add_argument("--out")
    args = ap.parse_args()
    binary = swallowproc.find_binary(args.bin)
    server, port, work = swallowproc.start(
        binary, "soak", "mx.soak.test", "warning",
        '[domains."soak.test"]\nmailboxes = ["box0", "box1", "box2", "box3", "box4"]\n')
    samples = []
    counts, errors, lock = {}, [], threading.Lock()
    try:
        start = time.monotonic()
        until = start + args.minutes * 60
        interval = args.clients / args.rate
        threads = [threading.Thread(target=client, args=(n, port, until, interval, counts, errors, lock),
                                    daemon=True) for n in range(args.clients)]
        for t in threads:
            t.start()
        while time.monotonic() < until and server.poll() is None:
            s = status(server.pid)
            if s:
                samples.append((time.monotonic() - start, *s, sum(counts.values())))
                print(f"[soak] {samples[-1][0]:7.0f} s  RSS {s[0]:7.1f} MB  fds {s[1]:4d}  "
                      f"transactions {samples[-1][3]}", file=sys.stderr, flush=True)
            # a reader empties the mailboxes now and then, so the disk does not fill
            mail = os.path.join(work, "data/mail/soak.test")
            if os.path.isdir(mail) and len(samples) % 6 == 0:
                for box in os.listdir(mail):
                    new = os.path.join(mail, box, "new")
                    for name in os.listdir(new) if os.path.isdir(new) else []:
                        os.unlink(os.path.join(new, name))
            time.sleep(min(args.sample, max(0.0, until - time.monotonic())))
        for t in threads:
            t.join(timeout=60)
        alive = server.poll() is None
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]
    mean = lambda rows, i: sum(r[i] for r in rows) / len(rows)  # noqa: E731
    lines = [
        f"Soak run: {args.minutes:g} min, {args.clients} clients, ~{args.rate:g} msg/s target, binary {binary}",
        f"- transactions: {dict(sorted(counts.items()))}",
        f"- RSS: first quarter mean {mean(first, 1):.1f} MB, last quarter mean {mean(last, 1):.1f} MB, "
        f"max {max(r[1] for r in samples):.1f} MB" if samples else "- no samples",
        f"- file descriptors: first quarter mean {mean(first, 2):.0f}, last quarter mean {mean(last, 2):.0f}, "
        f"max {max(r[2] for r in samples)}" if samples else "",
        f"- server alive at the end: {alive}; unexpected client outcomes: {len(errors)}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if alive and not errors else 1)


if __name__ == "__main__":
    main()
