import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The current time as an RFC 5322 §3.3 date, in UTC: `Sun, 29 Nov 2026 22:09:00 +0000`.
public enum RFC5322Date {
    /// The last second formatted and its text: every message of that second reuses it instead of calling
    /// `strftime` (0.5% of the CPU of small messages).
    private static let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    public static func now() -> String {
        format(time(nil))
    }

    public static func format(_ second: time_t) -> String {
        if let text = cache.withLock({ $0.second == second ? $0.text : nil }) { return text }
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S +0000", &parts)
        let text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cache.withLock { $0 = (second, text) }
        return text
    }
}
