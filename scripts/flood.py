#!/usr/bin/env python3
"""Flood test: Swallow under hostile load on loopback, while a well-behaved client keeps sending mail.

    scripts/flood.py [--bin PATH] [--seconds 30] [--connections 5000] [--loris 200] [--pipeliners 20]
                     [--big-mib 1024] [--early 0] [--sources 0] [--default-limits] [--out FILE]
    scripts/flood.py --distributed     # the botnet of issue 16: 5,000 idle connections, 500 slow senders,
                                       # 50 pipelining floods, 2 endless DATA streams, 100 early talkers, all
                                       # from 100 addresses, 60 s, on the default configuration

Starts its own server (its own data directory, a free 127.0.0.1 port, the default limits apart from the total
connection limit unless --default-limits) and runs, at the same time and for a bounded time:
  - `--connections` idle connections that read the greeting (half of them then send EHLO, half stay silent),
    spread over 127.0.0.2… source addresses so that the per-client limit (default 100) stays in force;
  - `--loris` slow-loris clients writing a command one byte per second;
  - `--pipeliners` clients pipelining floods of NOOP/RSET/bad commands as fast as the server reads them;
  - `--endless` clients (default 1) each streaming a `--big-mib` MiB DATA body (far over the 25 MiB limit);
  - `--early` clients that send their whole transaction without waiting for any reply, over and over;
  - a good client: a whole transaction (smtplib: EHLO, MAIL, RCPT, DATA, QUIT) every 0.5 s.
Prints the good client's latency, the server's peak RSS and open file descriptors, what the floods got, and
whether the server is healthy afterwards. Exit status 1 when the good client failed or the server died.
Only loopback addresses; every count and every wait is bounded.
"""
import argparse
import asyncio
import os
import re
import resource
import shutil
import smtplib
import statistics
import subprocess
import sys
import threading
import time

import swallowproc



def log(*a):
    print("[flood]", *a, file=sys.stderr, flush=True)


def proc_status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    kb = lambda k: int(fields.get(k, "0 kB").split()[0])  # noqa: E731
    return {"rss_kb": kb("VmRSS"), "hwm_kb": kb("VmHWM"), "fds": fds}


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            s = proc_status(self.pid)
            if s is None:
                return
            s["t"] = time.monotonic()
            self.samples.append(s)
            self.stopped.wait(0.25)


# ------------------------------------------------------------------------------------------------- the floods


async def idle_connection(port, source, stats, hold_until, ehlo=True):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 10)
    except (OSError, asyncio.TimeoutError):
        stats["connect_failed"] += 1
        return
    try:
        line = await asyncio.wait_for(r.readline(), 10)
        if not line.startswith(b"220"):
            stats["refused"] += 1
            return
        if ehlo:
            w.write(b"EHLO idle.flood.test\r\n")
            while True:
                line = await asyncio.wait_for(r.readline(), 10)
                if not line or line[3:4] == b" ":
                    break
        stats["open"] += 1
        while time.monotonic() < hold_until:
            data = await asyncio.wait_for(r.read(1024), max(0.1, hold_until - time.monotonic()) + 1)
            if not data:
                stats["closed_by_server"] += 1
                return
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        pass
    finally:
        w.close()


async def slow_loris(port, source, stats, until):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        await r.readline()
    except OSError:
        stats["connect_failed"] += 1
        return
    sent = 0
    try:
        command = b"EHLO slow.loris.flood.test\r\nMAIL FROM:<slow@loris.test>\r\n" * 1000
        while time.monotonic() < until:
            w.write(command[sent:sent + 1])
            await w.drain()
            sent += 1
            stats["bytes"] += 1
            await asyncio.sleep(1)
            if r.at_eof():
                break
        stats["still_open_at_end"] += 0 if r.at_eof() else 1
    except OSError:
        stats["closed_by_server"] += 1
    finally:
        w.close()


async def pipeliner(port, source, stats, until, bad):
    # half the floods are valid commands only (the commands-per-second limit's case), half mix in unknown ones
    batch = (b"NOOP\r\n" * 50 + b"RSET\r\n" * 50 + (b"XYZZY\r\n" if bad else b"")) * 10
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        await r.readline()
        w.write(b"EHLO pipe.flood.test\r\n")
        await w.drain()
        while True:  # PIPELINING is offered in the EHLO reply: only then may a client pipeline
            line = await asyncio.wait_for(r.readline(), 10)
            if not line or line[3:4] == b" ":
                break
        while time.monotonic() < until:
            w.write(batch)
            await w.drain()
            stats["commands"] += batch.count(b"\r\n")
            data = await asyncio.wait_for(r.read(65536), 5)
            if not data:
                stats["closed_by_server"] += 1
                return
            if b"421" in data:
                stats["got_421"] += 1
    except (OSError, asyncio.TimeoutError):
        stats["closed_by_server"] += 1
    finally:
        w.close()


async def early_talker(port, source, stats, until):
    """Sends a whole transaction at once, before any reply, as spam software does; then again on a new
    connection."""
    burst = (b"EHLO early.flood.test\r\nMAIL FROM:<e@flood.test>\r\nRCPT TO:<good@flood.test>\r\nDATA\r\n"
             b"Subject: early\r\n\r\nspam\r\n.\r\nQUIT\r\n")
    while time.monotonic() < until:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 10)
        except (OSError, asyncio.TimeoutError):
            stats["connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        try:
            w.write(burst)
            await w.drain()
            data = await asyncio.wait_for(r.read(65536), 10)
            stats["sessions"] += 1
            if b"554" in data:
                stats["refused"] += 1
            while data:
                data = await asyncio.wait_for(r.read(65536), 10)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            w.close()
        await asyncio.sleep(0.2)


async def big_data(port, mib, stats, until, source="127.0.0.1"):
    chunk = (b"x" * 998 + b"\r\n") * 64  # 64,000 bytes of legal lines
    started = time.monotonic()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        await r.readline()
        for command in (b"EHLO big.flood.test", b"MAIL FROM:<big@flood.test>", b"RCPT TO:<big@flood.test>",
                        b"DATA"):
            w.write(command + b"\r\n")
            while True:
                line = await r.readline()
                if not line or line[3:4] == b" ":
                    break
        total = mib * 1024 * 1024
        sent = 0
        while sent < total and time.monotonic() < until:
            w.write(chunk)
            await w.drain()
            sent += len(chunk)
            stats["bytes"] += len(chunk)
        w.write(b"\r\n.\r\n")
        await w.drain()
        reply = await asyncio.wait_for(r.readline(), 30)
        stats["seconds"] = time.monotonic() - started
        stats["reply"] = reply.decode(errors="replace").strip()
    except (OSError, asyncio.TimeoutError) as e:
        # the server may hang up on purpose (bytes per session, data rate): show what it said before it did
        stats["seconds"] = time.monotonic() - started
        said = b""
        try:
            said = await asyncio.wait_for(r.read(4096), 2)
        except (OSError, asyncio.TimeoutError):
            pass
        stats["error"] = (said.decode(errors="replace").strip() + " then " if said else "") + type(e).__name__
    finally:
        try:
            w.close()
        except Exception:
            pass


def good_client(port, until, results):
    n = 0
    while time.monotonic() < until:
        n += 1
        started = time.monotonic()
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="good.client.test", timeout=30) as s:
                s.sendmail("good@client.test", ["good@flood.test"],
                           f"Subject: good {n}\r\nMessage-ID: <good{n}@flood.test>\r\n\r\nhello\r\n")
            results.append(("ok", time.monotonic() - started))
        except Exception as e:  # any failure of the good client is the figure that matters
            results.append((f"{type(e).__name__}: {e}", time.monotonic() - started))
        time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))


async def flood(args, port):
    until = time.monotonic() + args.seconds
    # With --sources every flood shares one pool of addresses (a botnet); without, each kind has its own.
    shared = [f"127.0.3.{2 + i}" for i in range(args.sources)]
    sources = shared or [f"127.0.0.{2 + i}" for i in range(max(1, args.connections // 90 + 1))]
    idle = dict(open=0, refused=0, connect_failed=0, closed_by_server=0)
    loris = dict(bytes=0, closed_by_server=0, connect_failed=0, still_open_at_end=0)
    pipes = dict(commands=0, closed_by_server=0, got_421=0)
    big = dict(bytes=0)
    early = dict(sessions=0, refused=0, connect_failed=0)
    tasks = []
    for i in range(args.connections):
        tasks.append(asyncio.create_task(
            idle_connection(port, sources[i % len(sources)], idle, until, ehlo=i % 2 == 0)))
        if i % 500 == 499:
            await asyncio.sleep(0.05)  # a burst, not a single SYN storm the kernel backlog drops
    loris_sources = shared or [f"127.0.1.{2 + i}" for i in range(args.loris // 90 + 1)]
    for i in range(args.loris):
        tasks.append(asyncio.create_task(slow_loris(port, loris_sources[i % len(loris_sources)], loris, until)))
    for i in range(args.pipeliners):
        source = shared[i % len(shared)] if shared else "127.0.2.2"
        tasks.append(asyncio.create_task(pipeliner(port, source, pipes, until, i % 2 == 1)))
    if args.big_mib:
        for i in range(args.endless):
            source = shared[(i * 7) % len(shared)] if shared else "127.0.0.1"
            tasks.append(asyncio.create_task(big_data(port, args.big_mib, big, until, source)))
    for i in range(args.early):
        source = shared[(i * 3) % len(shared)] if shared else "127.0.4.2"
        tasks.append(asyncio.create_task(early_talker(port, source, early, until)))
    await asyncio.wait(tasks, timeout=args.seconds + 60)
    for t in tasks:
        t.cancel()
    return idle, loris, pipes, big, early


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=None, help="swallow binary (default: release build, else debug build)")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--loris", type=int, default=200)
    ap.add_argument("--pipeliners", type=int, default=20)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--endless", type=int, default=1, help="clients streaming --big-mib MiB of DATA each")
    ap.add_argument("--early", type=int, default=0, help="clients that send a whole transaction before any reply")
    ap.add_argument("--sources", type=int, default=0, help="one pool of this many source addresses for all floods")
    ap.add_argument("--default-limits", action="store_true", help="keep the default max_connections")
    ap.add_argument("--distributed", action="store_true", help="the botnet of issue 16 (sets the counts above)")
    ap.add_argument("--out", help="also write the figures to this file")
    args = ap.parse_args()
    if args.distributed:
        args.seconds, args.connections, args.loris, args.pipeliners = 60, 5000, 500, 50
        args.endless, args.early, args.sources, args.default_limits = 2, 100, 100, True
    binary = swallowproc.find_binary(args.bin)
    need = args.connections + args.loris + args.pipeliners + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, need * 2 + 1000), hard), hard))
    limits = "" if args.default_limits else f"[limits]\nmax_connections = {need + 1000}\n\n"
    server, port, work = swallowproc.start(
        binary, "flood", "mx.flood.test", "notice", limits + '[domains."flood.test"]\nmailboxes = ["good", "big"]\n')
    try:
        idle_status = proc_status(server.pid)
        sampler = Sampler(server.pid)
        sampler.start()
        good = []
        good_thread = threading.Thread(target=good_client, args=(port, time.monotonic() + args.seconds, good))
        good_thread.start()
        started = time.monotonic()
        idle, loris, pipes, big, early = asyncio.run(flood(args, port))
        good_thread.join(timeout=120)
        elapsed = time.monotonic() - started
        sampler.stopped.set()
        sampler.join(timeout=5)
        alive = server.poll() is None
        after = []
        if alive:
            good_client(port, time.monotonic() + 0.1, after)
        time.sleep(2)
        settled = proc_status(server.pid) if alive else None
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    delivered = len(os.listdir(os.path.join(work, "data/mail/flood.test/good/new"))) \
        if os.path.isdir(os.path.join(work, "data/mail/flood.test/good/new")) else 0
    hangups = {}
    with open(os.path.join(work, "log"), errors="replace") as f:
        for line in f:
            m = re.search(r"reply=(\S+ [\d.]*) .*closing connection: (\S+)", line)
            if m:
                key = f"{m.group(2)} ({m.group(1).strip()})"
                hangups[key] = hangups.get(key, 0) + 1
            elif "idle timeout" in line:
                hangups["idle timeout"] = hangups.get("idle timeout", 0) + 1
    ok = [t for r, t in good if r == "ok"]
    failures = [r for r, _ in good if r != "ok"]
    peak_rss = max((s["rss_kb"] for s in sampler.samples), default=0) / 1024
    peak_fds = max((s["fds"] for s in sampler.samples), default=0)
    lines = [
        f"Flood run: {elapsed:.0f} s, binary {binary}, {os.cpu_count()} CPUs",
        f"- idle connections: {args.connections} tried, {idle['open']} got greeting+EHLO, {idle['refused']} refused "
        f"at greeting, {idle['connect_failed']} connect failures, {idle['closed_by_server']} closed by the server",
        f"- slow loris: {args.loris} clients, {loris['bytes']} bytes sent, {loris['closed_by_server']} closed by "
        f"the server, {loris['still_open_at_end']} still open at the end",
        f"- pipelining floods: {args.pipeliners} clients, {pipes['commands']:,} commands sent, "
        f"{pipes['got_421']} got 421, {pipes['closed_by_server']} closed by the server",
        f"- big DATA: {args.endless} client(s), {big.get('bytes', 0) / 1048576:,.0f} MiB sent in "
        f"{big.get('seconds', 0):.1f} s, reply {big.get('reply', big.get('error', '?'))!r}",
        f"- early talkers: {args.early} clients, {early['sessions']} sessions, {early['refused']} refused (554), "
        f"{early['connect_failed']} connect failures",
        f"- good client: {len(ok)}/{len(good)} transactions ok ({100 * len(ok) / max(len(good), 1):.1f} %)"
        + (f", latency median {statistics.median(ok) * 1000:.0f} ms, p99 {p99(ok) * 1000:.0f} ms, "
           f"max {max(ok) * 1000:.0f} ms" if ok else "")
        + (f"; failures: {sorted(set(failures))[:3]}" if failures else ""),
        f"- good client's messages in the mailbox: {delivered}",
        f"- server memory: idle RSS {idle_status['rss_kb'] / 1024:.1f} MB, peak {peak_rss:.1f} MB, "
        f"{settled['rss_kb'] / 1024:.1f} MB 2 s after" if settled else "- server memory: (server gone)",
        f"- open file descriptors: idle {idle_status['fds']}, peak {peak_fds}, "
        f"{settled['fds'] if settled else '?'} 2 s after",
        f"- hang-ups the server logged: {', '.join(f'{k}: {v}' for k, v in sorted(hangups.items())) or 'none'}",
        f"- server alive at the end: {alive}; a transaction afterwards: {after[0][0] if after else 'not tried'}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if os.environ.get('FLOOD_KEEP'):
        print(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    healthy = alive and after and after[0][0] == "ok" and ok and not failures
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
