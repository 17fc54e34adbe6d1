import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `/readyz`'s store check: a file can be made, written, synced and removed in the mail directory. The file
/// calls run on NIO's blocking thread pool, never on an event loop or the cooperative pool.
enum StoreProbe {
    static func problem(in directory: String) async -> String? {
        do {
            return try await NIOThreadPool.singleton.runIfActive { probe(directory) }
        } catch {
            return "\(error)"
        }
    }

    private static func probe(_ directory: String) -> String? {
        let path = "\(directory)/.readyz-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot create a file in \(directory): \(String(cString: strerror(errno)))" }
        defer { unlink(path) }
        let byte: [UInt8] = [0x0A]
        let written = write(fd, byte, 1)
        let synced = fsync(fd)
        let failure = errno
        close(fd)
        guard written == 1, synced == 0 else {
            return "cannot write in \(directory): \(String(cString: strerror(failure)))"
        }
        return nil
    }
}
