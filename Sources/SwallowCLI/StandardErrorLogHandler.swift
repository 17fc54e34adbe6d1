import Logging
import SwallowKit
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
    /// Text lines as above, or one JSON object per line (see `jsonLine`).
    var lineFormat: LogFormat = .text
    var metadata: Logger.Metadata = [:] {
        didSet {
            sortedMetadata = Self.sorted(metadata)
            formattedMetadata = Self.format(sortedMetadata)
        }
    }
    private(set) var sortedMetadata: [(key: String, value: Logger.MetadataValue)] = []
    private var formattedMetadata = ""

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        Self.emit(line(for: event, at: Self.clock.timestamp()))
    }

    /// The line for `event`, newline included.
    func line(for event: LogEvent, at timestamp: String) -> String {
        if lineFormat == .json { return jsonLine(for: event, at: timestamp) }
        var fields = formattedMetadata
        if event.error != nil || !(event.metadata?.isEmpty ?? true) {
            var explicit = event.metadata ?? [:]
            if let error = event.error {
                explicit["error.message"] = "\(error)"
                explicit["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            fields = Self.format(Self.merge(sortedMetadata, Self.sorted(explicit)))
        }
        var line = timestamp
        line.reserveCapacity(line.utf8.count + label.utf8.count + fields.utf8.count + 64)
        line += " "
        line += event.level.rawValue
        if !label.isEmpty {
            line += " "
            line += label
        }
        line += ":"
        line += fields
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line += "\n"
        return line
    }

    static func sorted(_ metadata: Logger.Metadata) -> [(key: String, value: Logger.MetadataValue)] {
        metadata.sorted { $0.key < $1.key }
    }

    /// Both lists sorted by key; on a key in both, the event's own value wins. A merge of two short sorted lists
    /// instead of a merged dictionary sorted again: logging a transaction was 4% of the CPU of small messages.
    static func merge(
        _ handler: [(key: String, value: Logger.MetadataValue)], _ event: [(key: String, value: Logger.MetadataValue)]
    ) -> [(key: String, value: Logger.MetadataValue)] {
        var merged: [(key: String, value: Logger.MetadataValue)] = []
        merged.reserveCapacity(handler.count + event.count)
        var (i, j) = (0, 0)
        while i < handler.count || j < event.count {
            if j == event.count || (i < handler.count && handler[i].key < event[j].key) {
                merged.append(handler[i])
                i += 1
            } else {
                if i < handler.count && handler[i].key == event[j].key { i += 1 }
                merged.append(event[j])
                j += 1
            }
        }
        return merged
    }

    /// " key=value" for each key in order, as `StreamLogHandler` prints them.
    private static func format(_ metadata: [(key: String, value: Logger.MetadataValue)]) -> String {
        var out = ""
        for (key, value) in metadata {
            out += " "
            out += key
            out += "="
            if case .string(let text) = value { out += text } else { out += value.description }
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
