#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on the data directory, held for the life of the daemon: two servers delivering into the same
/// mailboxes would each take the other's files in `tmp` for crash leftovers.
final class DataDirectoryLock: Sendable {
    private let fd: Int32

    /// Takes the lock on `<directory>/swallow.lock`, or fails at once when another process holds it.
    init(directory: String) throws(DaemonSetupError) {
        let path = directory + "/swallow.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DaemonSetupError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason =
                errno == EWOULDBLOCK
                ? "another swallow process is using data directory \(directory)"
                : "cannot lock \(path): \(String(cString: strerror(errno)))"
            close(fd)
            throw DaemonSetupError(message: reason)
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }
}
