import FileSupport
import SMTPCore
import SMTPServer
import SwallowTLS
import TOMLKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a TOML configuration file into a `SwallowConfiguration`, refusing unknown keys, wrong types and
/// values out of range with an error that names the file and the key.
public enum ConfigurationLoader {
    /// A configuration is a few KiB; the limit keeps a wrong path (a log, `/dev/zero`) from being read into memory.
    static let maximumFileSize = 16 * 1024 * 1024

    /// Reads and parses `file`; a file that cannot be read is an error naming it and saying why.
    public static func load(file: String) throws(ConfigurationError) -> SwallowConfiguration {
        let bytes: [UInt8]
        do throws(FileError) {
            bytes = try POSIXFile.contents(of: file, maximumSize: maximumFileSize)
        } catch {
            let reason = error.code == EFBIG ? "larger than \(maximumFileSize) bytes" : error.systemMessage
            throw ConfigurationError(file: file, key: nil, message: "cannot read file: \(reason)")
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: file)
    }

    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> SwallowConfiguration {
        if let problem = TOMLPrecheck.problem(in: text) {
            throw ConfigurationError(
                file: file, key: nil,
                message: "invalid TOML at line \(problem.line), column \(problem.column): \(problem.message)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                file: file, key: nil,
                message:
                    "invalid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)"
            )
        } catch {
            throw ConfigurationError(file: file, key: nil, message: "invalid TOML: \(error)")
        }
        var reader = TableReader(file: file)
        return try reader.read(table)
    }
}

/// Walks the TOML tree, tracking the key path for error messages.
struct TableReader {
    let file: String

    func fail(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key, message: message)
    }

    func checkKeys(_ table: TOMLTable, allowed: Set<String>, prefix: String) throws(ConfigurationError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            throw fail(prefix + key, "unknown key (allowed here: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ table: TOMLTable, _ key: String, _ path: String) throws(ConfigurationError) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw fail(path, "expected a string, found \(value.type)") }
        return string
    }

    func integer(_ table: TOMLTable, _ key: String, _ path: String, range: ClosedRange<Int>) throws(ConfigurationError)
        -> Int?
    {
        guard let value = table[key] else { return nil }
        guard let int = value.int else { throw fail(path, "expected an integer, found \(value.type)") }
        guard range.contains(int) else {
            throw fail(path, "\(int) is out of range (\(range.lowerBound)...\(range.upperBound))")
        }
        return int
    }

    /// A number of seconds: an integer or a float, such as `0.5`.
    func seconds(_ table: TOMLTable, _ key: String, _ path: String, range: ClosedRange<Double>)
        throws(ConfigurationError) -> Double?
    {
        guard let value = table[key] else { return nil }
        guard let seconds = value.int.map(Double.init) ?? value.double, seconds.isFinite else {
            throw fail(path, "expected a number of seconds, found \(value.type)")
        }
        guard range.contains(seconds) else {
            throw fail(path, "\(seconds) is out of range (\(range.lowerBound)...\(range.upperBound) seconds)")
        }
        return seconds
    }

    func bool(_ table: TOMLTable, _ key: String, _ path: String) throws(ConfigurationError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else { throw fail(path, "expected true or false, found \(value.type)") }
        return bool
    }

    func strings(_ value: any TOMLValueConvertible, _ path: String) throws(ConfigurationError) -> [String] {
        guard let array = value.array else { throw fail(path, "expected an array of strings, found \(value.type)") }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                throw fail("\(path)[\(index)]", "expected a string, found \(element.type)")
            }
            result.append(string)
        }
        return result
    }

    func subtable(_ table: TOMLTable, _ key: String) throws(ConfigurationError) -> TOMLTable? {
        guard let value = table[key] else { return nil }
        guard let sub = value.table else { throw fail(key, "expected a table, found \(value.type)") }
        return sub
    }

    mutating func read(_ root: TOMLTable) throws(ConfigurationError) -> SwallowConfiguration {
        var config = SwallowConfiguration()
        try checkKeys(
            root,
            allowed: [
                "hostname", "listen", "submission", "submissions", "data_dir", "log_level", "limits", "timeouts",
                "policy", "domains", "tls", "auth", "storage", "delivery", "http", "user", "group", "allow_root",
                "log_format",
            ],
            prefix: "")
        if let hostname = try string(root, "hostname", "hostname") {
            guard Validation.isDomain(hostname) else { throw fail("hostname", "\"\(hostname)\" is not a host name") }
            config.hostname = hostname
        }
        if let addresses = try listeners(root, "listen", .smtp) { config.listen = addresses }
        config.listen += try listeners(root, "submission", .submission) ?? []
        config.listen += try listeners(root, "submissions", .submissions) ?? []
        guard !config.listen.isEmpty else { throw fail("listen", "needs at least one address") }
        if let dir = try string(root, "data_dir", "data_dir") {
            guard !dir.isEmpty else { throw fail("data_dir", "must not be empty") }
            config.dataDirectory = dir
        }
        try readAccount(root, into: &config)
        config.httpListen = nil
        config.httpListenIsDefault = false
        if let http = try subtable(root, "http") {
            try checkKeys(http, allowed: ["listen"], prefix: "http.")
            config.httpListen = ListenAddress(host: "127.0.0.1", port: 8025)
            if let entry = try string(http, "listen", "http.listen") {
                guard let address = ListenAddress(parsing: entry) else {
                    throw fail("http.listen", "\"\(entry)\" is not HOST:PORT (for IPv6: [ADDRESS]:PORT)")
                }
                config.httpListen = address
            }
        }
        if let format = try string(root, "log_format", "log_format") {
            guard let value = LogFormat(rawValue: format) else {
                throw fail("log_format", "must be \"text\" or \"json\", not \"\(format)\"")
            }
            config.logFormat = value
        }
        if let level = try string(root, "log_level", "log_level") {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(level) else {
                throw fail("log_level", "must be one of \(levels.joined(separator: ", "))")
            }
            config.logLevel = level
        }
        if let limits = try subtable(root, "limits") {
            try checkKeys(
                limits,
                allowed: [
                    "max_message_size", "max_recipients", "max_errors", "max_connections", "max_connections_per_client",
                    "greeting_delay", "commands_per_second", "command_burst", "min_data_rate", "min_data_rate_grace",
                    "max_session_bytes",
                ],
                prefix: "limits.")
            let big = 0...(1 << 40)
            config.maxMessageSize =
                try integer(limits, "max_message_size", "limits.max_message_size", range: 0...(1 << 40))
                ?? config.maxMessageSize
            config.maxRecipients =
                try integer(limits, "max_recipients", "limits.max_recipients", range: 1...100_000)
                ?? config.maxRecipients
            config.maxErrors =
                try integer(limits, "max_errors", "limits.max_errors", range: 1...10_000) ?? config.maxErrors
            config.maxConnections =
                try integer(limits, "max_connections", "limits.max_connections", range: big) ?? config.maxConnections
            config.maxConnectionsPerClient =
                try integer(limits, "max_connections_per_client", "limits.max_connections_per_client", range: big)
                ?? config.maxConnectionsPerClient
            try readConnectionLimits(limits, into: &config)
            if let bytes = config.maxSessionBytes, bytes > 0, bytes < config.maxMessageSize {
                throw fail(
                    "limits.max_session_bytes",
                    "\(bytes) is less than one message of limits.max_message_size (\(config.maxMessageSize))")
            }
        }
        if let timeouts = try subtable(root, "timeouts") {
            try checkKeys(
                timeouts,
                allowed: ["command", "data", "session", "shutdown_grace", "hello", "command_line", "under_pressure"],
                prefix: "timeouts.")
            let range = 1...(7 * 24 * 3600)
            config.commandTimeout =
                try integer(timeouts, "command", "timeouts.command", range: range) ?? config.commandTimeout
            config.dataTimeout = try integer(timeouts, "data", "timeouts.data", range: range) ?? config.dataTimeout
            config.sessionTimeout =
                try integer(timeouts, "session", "timeouts.session", range: range) ?? config.sessionTimeout
            config.shutdownGrace =
                try integer(timeouts, "shutdown_grace", "timeouts.shutdown_grace", range: 0...3600)
                ?? config.shutdownGrace
            config.helloTimeout = try integer(timeouts, "hello", "timeouts.hello", range: range) ?? config.helloTimeout
            config.commandLineTimeout =
                try integer(timeouts, "command_line", "timeouts.command_line", range: range)
                ?? config.commandLineTimeout
            config.pressureTimeout =
                try integer(timeouts, "under_pressure", "timeouts.under_pressure", range: range)
                ?? config.pressureTimeout
        }
        if let policy = try subtable(root, "policy") {
            try checkKeys(
                policy, allowed: ["vrfy", "expn", "bare_line_endings", "catch_all", "early_pipelining"],
                prefix: "policy.")
            config.vrfy = try lookupPolicy(policy, "vrfy") ?? config.vrfy
            config.expn = try lookupPolicy(policy, "expn") ?? config.expn
            if let value = try string(policy, "bare_line_endings", "policy.bare_line_endings") {
                switch value {
                case "reject": config.bareLineEndings = .reject
                case "normalize", "normalise": config.bareLineEndings = .normalize
                default: throw fail("policy.bare_line_endings", "must be \"reject\" or \"normalize\", not \"\(value)\"")
                }
            }
            config.catchAll = try bool(policy, "catch_all", "policy.catch_all")
            if let value = try string(policy, "early_pipelining", "policy.early_pipelining") {
                switch value {
                case "reject": config.rejectEarlyPipelining = true
                case "allow": config.rejectEarlyPipelining = false
                default: throw fail("policy.early_pipelining", "must be \"reject\" or \"allow\", not \"\(value)\"")
                }
            }
        }
        if let storage = try subtable(root, "storage") {
            try checkKeys(storage, allowed: ["journal", "checkpoint_interval"], prefix: "storage.")
            config.journal = try bool(storage, "journal", "storage.journal") ?? config.journal
            config.checkpointInterval =
                try seconds(storage, "checkpoint_interval", "storage.checkpoint_interval", range: 0.001...86_400)
                ?? config.checkpointInterval
        }
        if let tls = try subtable(root, "tls") { try readTLS(tls, into: &config) }
        if let auth = try subtable(root, "auth") { try readAuth(auth, into: &config) }
        if let delivery = try subtable(root, "delivery") { config.delivery = try readDelivery(delivery) }
        if let domains = try subtable(root, "domains") {
            for name in domains.keys.sorted() {
                config.domains.append(try domain(name, domains[name]!))
            }
        }
        try Validation.checkAliases(config.domains, file: file)
        return config
    }

    /// `user`, `group`, `allow_root`: checked for shape here; the account is looked up at start.
    func readAccount(_ root: TOMLTable, into config: inout SwallowConfiguration) throws(ConfigurationError) {
        for key in ["user", "group"] {
            guard let name = try string(root, key, key) else { continue }
            guard !name.isEmpty, !name.contains(":"), !name.contains("/") else {
                throw fail(key, "\"\(name)\" is not a user or group name")
            }
            if key == "user" { config.user = name } else { config.group = name }
        }
        if config.group != nil, config.user == nil { throw fail("group", "needs user") }
        config.allowRoot = try bool(root, "allow_root", "allow_root") ?? config.allowRoot
    }

    /// The `[limits]` keys against floods and hostile clients.
    func readConnectionLimits(_ limits: TOMLTable, into config: inout SwallowConfiguration) throws(ConfigurationError) {
        config.greetingDelay =
            try seconds(limits, "greeting_delay", "limits.greeting_delay", range: 0...300) ?? config.greetingDelay
        config.commandsPerSecond =
            try integer(limits, "commands_per_second", "limits.commands_per_second", range: 0...1_000_000)
            ?? config.commandsPerSecond
        config.commandBurst =
            try integer(limits, "command_burst", "limits.command_burst", range: 1...1_000_000) ?? config.commandBurst
        config.minDataRate =
            try integer(limits, "min_data_rate", "limits.min_data_rate", range: 0...(1 << 30)) ?? config.minDataRate
        config.minDataRateGrace =
            try seconds(limits, "min_data_rate_grace", "limits.min_data_rate_grace", range: 0...86_400)
            ?? config.minDataRateGrace
        config.maxSessionBytes =
            try integer(limits, "max_session_bytes", "limits.max_session_bytes", range: 0...(1 << 50))
            ?? config.maxSessionBytes
    }

    func lookupPolicy(_ table: TOMLTable, _ key: String) throws(ConfigurationError) -> LookupPolicy? {
        guard let value = try string(table, key, "policy.\(key)") else { return nil }
        guard let policy = LookupPolicy(rawValue: value) else {
            throw fail(
                "policy.\(key)", "must be \"disabled\", \"enabled\" or \"authenticated\", not \"\(value)\"")
        }
        return policy
    }

    /// `key = "HOST:PORT"` or a list of them.
    func listeners(_ root: TOMLTable, _ key: String, _ kind: ListenerKind) throws(ConfigurationError)
        -> [ListenAddress]?
    {
        guard let value = root[key] else { return nil }
        let list: [String]
        if let single = value.string { list = [single] } else { list = try strings(value, key) }
        var result: [ListenAddress] = []
        for (index, entry) in list.enumerated() {
            guard var address = ListenAddress(parsing: entry) else {
                throw fail("\(key)[\(index)]", "\"\(entry)\" is not HOST:PORT (for IPv6: [ADDRESS]:PORT)")
            }
            address.kind = kind
            result.append(address)
        }
        return result
    }

    mutating func readTLS(_ table: TOMLTable, into config: inout SwallowConfiguration) throws(ConfigurationError) {
        try checkKeys(table, allowed: ["certificates"], prefix: "tls.")
        guard let value = table["certificates"] else { return }
        guard let array = value.array else {
            throw fail("tls.certificates", "expected an array of tables, found \(value.type)")
        }
        for (index, element) in array.enumerated() {
            let path = "tls.certificates[\(index)]"
            guard let entry = element.table else { throw fail(path, "expected a table { cert = \"…\", key = \"…\" }") }
            try checkKeys(entry, allowed: ["cert", "key"], prefix: path + ".")
            guard let cert = try string(entry, "cert", path + ".cert") else { throw fail(path + ".cert", "is missing") }
            guard let key = try string(entry, "key", path + ".key") else { throw fail(path + ".key", "is missing") }
            config.certificates.append(CertificateFiles(certificatePath: cert, keyPath: key))
        }
    }

    mutating func readAuth(_ table: TOMLTable, into config: inout SwallowConfiguration) throws(ConfigurationError) {
        try checkKeys(
            table,
            allowed: [
                "users_file", "mechanisms", "plaintext_on_loopback", "max_failures", "failures_per_client",
                "failures_per_account",
                "throttle_window", "senders",
            ],
            prefix: "auth.")
        config.usersFile = try string(table, "users_file", "auth.users_file") ?? config.usersFile
        if let value = table["mechanisms"] {
            let mechanisms = try strings(value, "auth.mechanisms").map { $0.uppercased() }
            let known = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
            for (index, mechanism) in mechanisms.enumerated() where !known.contains(mechanism) {
                throw fail(
                    "auth.mechanisms[\(index)]", "\"\(mechanism)\" is not one of \(known.joined(separator: ", "))")
            }
            config.authMechanisms = mechanisms
        }
        config.authPlaintextOnLoopback =
            try bool(table, "plaintext_on_loopback", "auth.plaintext_on_loopback") ?? config.authPlaintextOnLoopback
        config.maxAuthFailures =
            try integer(table, "max_failures", "auth.max_failures", range: 1...1000) ?? config.maxAuthFailures
        config.authFailuresPerClient =
            try integer(table, "failures_per_client", "auth.failures_per_client", range: 0...100_000)
            ?? config.authFailuresPerClient
        config.authFailuresPerAccount =
            try integer(table, "failures_per_account", "auth.failures_per_account", range: 0...100_000)
            ?? config.authFailuresPerAccount
        config.authThrottleWindow =
            try integer(table, "throttle_window", "auth.throttle_window", range: 1...86_400)
            ?? config.authThrottleWindow
        if let senders = try subtable(table, "senders") {
            for user in senders.keys {
                config.allowedSenders[user.lowercased()] = try strings(senders[user]!, "auth.senders.\(user)")
            }
        }
    }

    func domain(_ name: String, _ value: any TOMLValueConvertible) throws(ConfigurationError) -> DomainConfiguration {
        let path = "domains.\"\(name)\""
        guard Validation.isDomain(name) else { throw fail(path, "\"\(name)\" is not a domain name") }
        guard let table = value.table else { throw fail(path, "expected a table, found \(value.type)") }
        try checkKeys(table, allowed: ["mailboxes", "aliases"], prefix: path + ".")
        var domain = DomainConfiguration(name: name.lowercased())
        if let mailboxes = table["mailboxes"] {
            domain.mailboxes = try strings(mailboxes, path + ".mailboxes")
            for (index, mailbox) in domain.mailboxes.enumerated() where !Validation.isLocalPart(mailbox) {
                throw fail("\(path).mailboxes[\(index)]", "\"\(mailbox)\" is not a valid mailbox name")
            }
        }
        if let aliases = table["aliases"] {
            guard let aliasTable = aliases.table else {
                throw fail(path + ".aliases", "expected a table, found \(aliases.type)")
            }
            for alias in aliasTable.keys {
                let aliasPath = "\(path).aliases.\(alias)"
                guard Validation.isLocalPart(alias) else {
                    throw fail(aliasPath, "\"\(alias)\" is not a valid alias name")
                }
                let value = aliasTable[alias]!
                let targets: [String]
                if let single = value.string { targets = [single] } else { targets = try strings(value, aliasPath) }
                guard !targets.isEmpty else { throw fail(aliasPath, "needs at least one target") }
                if domain.mailboxes.contains(where: { $0.lowercased() == alias.lowercased() }) {
                    throw fail(aliasPath, "\"\(alias)\" is also a mailbox")
                }
                domain.aliases[alias] = targets
            }
        }
        return domain
    }
}

extension ListenAddress {
    /// Parses `HOST:PORT` or `[IPV6]:PORT`.
    public init?(parsing text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else { return nil }
        self.init(host: String(host), port: number)
    }
}
