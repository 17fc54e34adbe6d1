/// How the daemon writes its log lines to standard error (`log_format`, `--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `<time> <level> <label>: <key=value ...> [<source>] <message>`, as swift-log's `StreamLogHandler` writes.
    case text
    /// One JSON object per line: `time`, `level`, `label`, `source`, `message`, then the metadata's keys.
    case json
}
