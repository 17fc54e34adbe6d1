import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The daemon's log output: the lines swift-log's `StreamLogHandler` writes
/// (`<time> <level> <label>: <key=value ...> [<source>] <message>`), made cheaper for a server that logs every
/// transaction. The timestamp is formatted once per second instead of once per line (which also stat'ed
/// `/etc/localtime` each time), the handler's own metadata is formatted once when it is set, and each line goes out
/// in one `write(2)` under a lock, so lines from different threads never interleave. The time zone is read once
/// (`localtime_r`), as a daemon does; `LoggingSystem`'s metadata provider is not consulted (Swallow sets none).
struct StandardErrorLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:] {
        didSet { formattedMetadata = Self.format(metadata) }
    }
    private var formattedMetadata = ""

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = formattedMetadata
        if let explicit = event.metadata, !explicit.isEmpty {
            fields = Self.format(metadata.merging(explicit) { _, explicit in explicit })
        }
        if let error = event.error {
            var merged = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
            fields = Self.format(merged)
        }
        var line = Self.clock.timestamp()
        line += " \(event.level)\(label.isEmpty ? "" : " ")\(label):"
        line += fields
        line += " [\(event.source)] \(event.message)\n"
        Self.emit(line)
    }

    /// " key=value" for each key in order, as `StreamLogHandler` prints them.
    private static func format(_ metadata: Logger.Metadata) -> String {
        var out = ""
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            out += " \(key)=\(value)"
        }
        return out
    }

    /// Held for each line: one `write` is atomic on a pipe only up to 4 KiB, and a long line may take several.
    private static let output = Mutex(())

    private static func emit(_ line: String) {
        var line = line
        output.withLock { _ in
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    private static let clock = SecondClock()
}

/// The local time as `%Y-%m-%dT%H:%M:%S%z`, formatted again only when the second changes.
private final class SecondClock: Sendable {
    private let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    func timestamp() -> String {
        let now = time(nil)
        return cache.withLock { cached in
            if cached.second != now {
                cached = (now, Self.format(now))
            }
            return cached.text
        }
    }

    private static func format(_ seconds: time_t) -> String {
        var seconds = seconds
        var local = tm()
        guard localtime_r(&seconds, &local) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
