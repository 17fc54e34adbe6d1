import Logging

extension StandardErrorLogHandler {
    /// The fields every JSON line starts with; a metadata key with one of these names is written as `meta.<key>`.
    static let jsonFixedKeys: Set<String> = ["time", "level", "label", "source", "message"]

    /// `{"time":…,"level":…,"label":…,"source":…,"message":…,<metadata in key order>}` and a newline: one object per
    /// line (JSON Lines), for log collectors that parse JSON. Metadata strings stay strings; lists and dictionaries
    /// are written as their text, as in the text format.
    func jsonLine(for event: LogEvent, at timestamp: String) -> String {
        var explicit = event.metadata ?? [:]
        if let error = event.error {
            explicit["error.message"] = "\(error)"
            explicit["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let fields = explicit.isEmpty ? sortedMetadata : Self.merge(sortedMetadata, Self.sorted(explicit))
        var line = "{"
        line.reserveCapacity(128 + fields.count * 24)
        Self.appendJSON(key: "time", value: timestamp, to: &line, first: true)
        Self.appendJSON(key: "level", value: event.level.rawValue, to: &line)
        Self.appendJSON(key: "label", value: label, to: &line)
        Self.appendJSON(key: "source", value: event.source, to: &line)
        Self.appendJSON(key: "message", value: event.message.description, to: &line)
        for (key, value) in fields {
            let text: String
            if case .string(let string) = value { text = string } else { text = value.description }
            Self.appendJSON(key: Self.jsonFixedKeys.contains(key) ? "meta." + key : key, value: text, to: &line)
        }
        line += "}\n"
        return line
    }

    private static func appendJSON(key: String, value: String, to line: inout String, first: Bool = false) {
        if !first { line += "," }
        appendJSONString(key, to: &line)
        line += ":"
        appendJSONString(value, to: &line)
    }

    /// A JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped; the rest as is (UTF-8).
    static func appendJSONString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
