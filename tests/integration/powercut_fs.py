#!/usr/bin/env python3
"""A FUSE file system that forgets, on a signal, everything a power cut could take: what was not fsynced.

    powercut_fs.py BACKING MOUNTPOINT STATUS_FILE

Files and directories live in BACKING, the "disk". What a program writes is not written there but kept in memory
per file (per inode, so it follows renames and hard links) until the program fsyncs or fdatasyncs that file; reads
see the memory over the disk. Creating, renaming, linking or removing a name is done in BACKING at once, but is
remembered as not yet durable until the directory that gained the name (for a rename, the destination directory) is
fsynced; a name removed or overwritten meanwhile is kept aside so it can be put back.

SIGUSR1 is the power cut: the memory of unsynced writes is dropped and every not-yet-durable name change is undone,
newest first, so BACKING holds exactly what had been made durable; from then on every call fails with EIO (the disk
is gone) until SIGUSR2 switches the power back on. Each cut appends a line to STATUS_FILE with what was dropped, so
a test knows the cut is complete and that there was something to lose. Unmounting ends the program.

What it does not model: the order in which a real file system writes unsynced data or metadata (a power cut here
loses all of it, never some of it: no reordering, no "fsync of a new file also made its name durable", as ext4 in
practice often does); torn or partially written sectors (a synced write lands whole); data=ordered/journal modes;
attributes (mode, owner, times), which pass straight through; renames of directories over other directories; and
a crash of the machine running the test (BACKING itself is never fsynced).

The kernel is told not to cache anything (direct_io, zero attribute and entry timeouts), so after a cut nothing
dropped here is still seen through the kernel.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
import threading

from fuse import FUSE, FuseOSError, Operations


class Unsynced:
    """The writes and truncations of one inode not yet fsynced, in order, and the file's size with them."""

    def __init__(self, size: int):
        self.size = size
        self.ops: list[tuple] = []

    def write(self, offset: int, data: bytes):
        self.ops.append(("w", offset, data))
        self.size = max(self.size, offset + len(data))

    def truncate(self, length: int):
        self.ops.append(("t", length))
        self.size = length

    def overlay(self, disk: bytes, offset: int, count: int) -> bytes:
        """The bytes [offset, offset + count) as the program sees them: the disk's, then each change in order."""
        end = min(offset + count, self.size)
        if end <= offset:
            return b""
        buf = bytearray(disk[: end - offset].ljust(end - offset, b"\0"))
        for op in self.ops:
            if op[0] == "w":
                _, at, data = op
                lo, hi = max(at, offset), min(at + len(data), end)
                if lo < hi:
                    buf[lo - offset : hi - offset] = data[lo - at : hi - at]
            else:
                cut = op[1]
                if cut < end:
                    start = max(cut, offset)
                    buf[start - offset :] = bytes(end - start)
        return bytes(buf)

    def apply(self, fd: int):
        for op in self.ops:
            if op[0] == "w":
                os.pwrite(fd, op[2], op[1])
            else:
                os.ftruncate(fd, op[1])


class PowerCutFS(Operations):
    use_ns = True

    def __init__(self, backing: str, stash: str):
        self.root = os.path.realpath(backing)
        self.stash = stash
        self.mutex = threading.RLock()
        self.unsynced: dict[int, Unsynced] = {}
        # directory whose fsync makes them durable → [(sequence number, kind, arguments)], oldest first
        self.names: dict[str, list[tuple]] = {}
        self.sequence = 0
        self.dead = False
        self.stashed = 0
        self.cuts = 0
        self.fsyncs = 0
        self.dirsyncs = 0

    # helpers -------------------------------------------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return self.root + path

    @staticmethod
    def _parent(path: str) -> str:
        parent = os.path.dirname(path)
        return parent or "/"

    def _alive(self):
        if self.dead:
            raise FuseOSError(errno.EIO)

    def _stash(self, path: str) -> str:
        self.stashed += 1
        aside = os.path.join(self.stash, str(self.stashed))
        os.rename(self._path(path), aside)
        return aside

    def _forget_stashed(self, aside: str):
        """A removal became durable: the inode is gone for good (unless another name or descriptor holds it)."""
        try:
            info = os.lstat(aside)
            if info.st_nlink <= 1:
                self.unsynced.pop(info.st_ino, None)
            if os.path.isdir(aside) and not os.path.islink(aside):
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.unlink(aside)
        except OSError:
            pass

    def _flush(self, fd: int):
        ino = os.fstat(fd).st_ino
        pending = self.unsynced.pop(ino, None)
        if pending is not None:
            pending.apply(fd)

    # the power -------------------------------------------------------------------------------------------------------

    def cut(self) -> str:
        with self.mutex:
            self.dead = True
            self.cuts += 1
            dropped_bytes = sum(len(op[2]) for u in self.unsynced.values() for op in u.ops if op[0] == "w")
            dropped_files = len(self.unsynced)
            pending = sorted((entry for entries in self.names.values() for entry in entries), reverse=True)
            dropped_names = len(pending)
            failed = 0
            for _, kind, args in pending:
                try:
                    self._undo(kind, args)
                except OSError:
                    failed += 1
            self.names.clear()
            self.unsynced.clear()
            return (f"cut {self.cuts} dropped_files={dropped_files} dropped_bytes={dropped_bytes} "
                    f"dropped_names={dropped_names} undo_failures={failed} fsyncs={self.fsyncs} "
                    f"dirsyncs={self.dirsyncs}")

    def power_on(self):
        with self.mutex:
            self.dead = False

    def _undo(self, kind: str, args: tuple):
        if kind in ("create", "link"):
            (path,) = args
            if os.path.lexists(self._path(path)):
                os.unlink(self._path(path))
        elif kind == "mkdir":
            (path,) = args
            shutil.rmtree(self._path(path), ignore_errors=True)
        elif kind == "rmdir":
            (path,) = args
            os.makedirs(self._path(path), exist_ok=True)
        elif kind == "unlink":
            path, aside = args
            os.rename(aside, self._path(path))
        elif kind == "rename":
            old, new, aside = args
            if os.path.lexists(self._path(new)):
                os.rename(self._path(new), self._path(old))
            if aside is not None:
                os.rename(aside, self._path(new))

    def _changed(self, directory: str, kind: str, args: tuple):
        self.sequence += 1
        self.names.setdefault(directory, []).append((self.sequence, kind, args))

    def _durable(self, directory: str):
        for _, kind, args in self.names.pop(directory, []):
            if kind == "unlink":
                self._forget_stashed(args[1])
            elif kind == "rename" and args[2] is not None:
                self._forget_stashed(args[2])

    # metadata ------------------------------------------------------------------------------------------------------

    def getattr(self, path, fh=None):
        with self.mutex:
            self._alive()
            try:
                info = os.fstat(fh) if fh is not None else os.lstat(self._path(path))
            except OSError as e:
                raise FuseOSError(e.errno)
            attrs = {key: getattr(info, key) for key in (
                "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
            for key in ("st_atime", "st_mtime", "st_ctime"):
                attrs[key] = attrs.pop(key + "_ns")
            pending = self.unsynced.get(info.st_ino)
            if pending is not None:
                attrs["st_size"] = pending.size
            return attrs

    def readdir(self, path, fh):
        with self.mutex:
            self._alive()
            return [".", ".."] + os.listdir(self._path(path))

    def access(self, path, amode):
        with self.mutex:
            self._alive()
            if not os.access(self._path(path), amode):
                raise FuseOSError(errno.EACCES)

    def statfs(self, path):
        with self.mutex:
            self._alive()
            info = os.statvfs(self._path(path))
            return {key: getattr(info, key) for key in (
                "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag",
                "f_frsize", "f_namemax")}

    def chmod(self, path, mode):
        with self.mutex:
            self._alive()
            os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        with self.mutex:
            self._alive()
            os.lchown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        with self.mutex:
            self._alive()
            if times is None:
                os.utime(self._path(path))
            else:
                os.utime(self._path(path), ns=times)

    # names ---------------------------------------------------------------------------------------------------------

    def mkdir(self, path, mode):
        with self.mutex:
            self._alive()
            os.mkdir(self._path(path), mode)
            self._changed(self._parent(path), "mkdir", (path,))

    def rmdir(self, path):
        with self.mutex:
            self._alive()
            os.rmdir(self._path(path))
            self._changed(self._parent(path), "rmdir", (path,))

    def create(self, path, mode, fi=None):
        with self.mutex:
            self._alive()
            existed = os.path.lexists(self._path(path))
            fd = os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)
            if not existed:
                self._changed(self._parent(path), "create", (path,))
            return fd

    def unlink(self, path):
        with self.mutex:
            self._alive()
            if not os.path.lexists(self._path(path)):
                raise FuseOSError(errno.ENOENT)
            aside = self._stash(path)
            self._changed(self._parent(path), "unlink", (path, aside))

    def rename(self, old, new):
        with self.mutex:
            self._alive()
            if not os.path.lexists(self._path(old)):
                raise FuseOSError(errno.ENOENT)
            aside = None
            if os.path.lexists(self._path(new)) and not os.path.isdir(self._path(new)):
                aside = self._stash(new)
            try:
                os.rename(self._path(old), self._path(new))
            except OSError as e:
                if aside is not None:
                    os.rename(aside, self._path(new))
                raise FuseOSError(e.errno)
            self._changed(self._parent(new), "rename", (old, new, aside))

    def link(self, target, source):
        with self.mutex:
            self._alive()
            os.link(self._path(source), self._path(target))
            self._changed(self._parent(target), "link", (target,))

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            self._alive()
            self.dirsyncs += 1
            self._durable(path)
            return 0

    # data ----------------------------------------------------------------------------------------------------------

    def open(self, path, flags):
        with self.mutex:
            self._alive()
            # Always read-write: reads overlay the disk, and an fsync through any descriptor writes to it.
            return os.open(self._path(path), os.O_RDWR)

    def read(self, path, size, offset, fh):
        with self.mutex:
            self._alive()
            pending = self.unsynced.get(os.fstat(fh).st_ino)
            disk = os.pread(fh, size, offset)
            return disk if pending is None else pending.overlay(disk, offset, size)

    def write(self, path, data, offset, fh):
        with self.mutex:
            self._alive()
            info = os.fstat(fh)
            pending = self.unsynced.setdefault(info.st_ino, Unsynced(info.st_size))
            pending.write(offset, bytes(data))
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mutex:
            self._alive()
            if fh is None:
                fd = os.open(self._path(path), os.O_RDONLY)
                try:
                    info = os.fstat(fd)
                finally:
                    os.close(fd)
            else:
                info = os.fstat(fh)
            self.unsynced.setdefault(info.st_ino, Unsynced(info.st_size)).truncate(length)

    def fsync(self, path, datasync, fh):
        with self.mutex:
            self._alive()
            self.fsyncs += 1
            self._flush(fh)
            return 0

    def flush(self, path, fh):
        with self.mutex:
            self._alive()
            return 0

    def release(self, path, fh):
        with self.mutex:
            os.close(fh)
            return 0


def main():
    backing, mountpoint, status = sys.argv[1:4]
    stash = backing.rstrip("/") + ".stash"
    os.makedirs(stash, exist_ok=True)
    fs = PowerCutFS(backing, stash)
    # Signals are taken by this thread alone, with sigwait: FUSE's own threads run C code that would never let a
    # Python signal handler run.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})
    failure: list[BaseException] = []

    def serve():
        try:
            FUSE(fs, mountpoint, foreground=True, direct_io=True, attr_timeout=0, entry_timeout=0,
                 negative_timeout=0, big_writes=True, max_write=131072, fsname="powercutfs")
        except BaseException as e:  # reported by the main thread
            failure.append(e)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    while thread.is_alive():
        got = signal.sigtimedwait({signal.SIGUSR1, signal.SIGUSR2}, 0.2)
        if got is None:
            continue
        if got.si_signo == signal.SIGUSR1:
            line = fs.cut()
        else:
            fs.power_on()
            line = f"on {fs.cuts}"
        with open(status, "a") as f:
            f.write(line + "\n")
    if failure:
        print(f"powercut_fs: {failure[0]!r}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
