#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many connections the daemon can hold when the configuration does not say: an idle connection costs about
/// 8 KB and one file descriptor, so the limit is what the descriptors allow (after raising the soft limit to the
/// hard one, as Postfix and nginx do) less a reserve for mailboxes, the journal and listeners, and at most one
/// connection per 64 KiB of memory (a busy connection holds up to that much in buffers).
public enum ConnectionCapacity {
    /// Descriptors kept for everything but client connections.
    static let reserve = 256
    /// Never below the old fixed default, never above what a single process sensibly serves.
    static let range = 500...100_000

    /// Raises the soft descriptor limit to the hard limit; returns the soft limit in effect afterwards.
    @discardableResult
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// The default `limits.max_connections` for `descriptors` file descriptors and `memory` bytes of memory.
    public static func defaultLimit(descriptors: Int, memory: Int) -> Int {
        let byDescriptors = descriptors - reserve
        let byMemory = memory / (64 * 1024)
        return min(max(min(byDescriptors, byMemory), range.lowerBound), range.upperBound)
    }

    /// The machine's physical memory in bytes.
    public static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return 1 << 30 }
        return pages.multipliedReportingOverflow(by: size).overflow ? Int.max : pages * size
    }
}
