import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Maildir unique names, `<seconds>.M<microseconds>P<pid>Q<counter>R<random>.<host>`, as Dovecot makes them.
enum UniqueName {
    private static let counter = Atomic<Int>(0)

    static func make(hostname: String) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let random = UInt32.random(in: .min ... .max)
        let unique = "\(now.tv_sec).M\(now.tv_nsec / 1000)P\(getpid())Q\(sequence)R\(String(random, radix: 16))"
        return unique + "." + hostPart(hostname)
    }

    /// "/" and ":" cannot appear in the host part (":" starts the info suffix in cur/).
    static func hostPart(_ hostname: String) -> String {
        guard hostname.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") }) else {
            return hostname
        }
        return hostname.replacingOccurrences(of: "/", with: "\\057").replacingOccurrences(of: ":", with: "\\072")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
