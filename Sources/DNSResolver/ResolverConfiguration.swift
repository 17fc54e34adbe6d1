import NIOCore

/// Where and how patiently to ask: the nameservers of `/etc/resolv.conf` by default, or others (with ports) from
/// Swallow's configuration.
public struct ResolverConfiguration: Sendable {
    public var nameservers: [SocketAddress]
    /// Per query and nameserver, over UDP and again over TCP.
    public var timeout: Duration
    /// Rounds over the nameservers before giving up.
    public var attempts: Int

    public init(nameservers: [SocketAddress], timeout: Duration = .seconds(5), attempts: Int = 2) {
        self.nameservers = nameservers
        self.timeout = timeout
        self.attempts = max(1, attempts)
    }

    /// The `nameserver` lines of a resolv.conf(5) text, port 53; `127.0.0.1` when there is none (as glibc does).
    public static func parse(resolvConf text: String) -> [SocketAddress] {
        var servers: [SocketAddress] = []
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { continue }
            // Lines that are not an IP address are skipped, as glibc does.
            if let address = try? SocketAddress(ipAddress: String(words[1]), port: 53) { servers.append(address) }
        }
        return servers.isEmpty ? [try! SocketAddress(ipAddress: "127.0.0.1", port: 53)] : servers
    }

    /// The system's nameservers, read from `/etc/resolv.conf` now.
    public static func system(path: String = "/etc/resolv.conf") -> ResolverConfiguration {
        ResolverConfiguration(nameservers: parse(resolvConf: readText(path) ?? ""))
    }

    /// `HOST` or `HOST:PORT` or `[IPV6]:PORT`, port 53 by default: for configuration files.
    public static func nameserver(_ text: String) -> SocketAddress? {
        var host = text
        var port = 53
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()) else { return nil }
                port = value
            } else if !rest.isEmpty {
                return nil
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            guard let value = Int(text[text.index(after: colon)...]) else { return nil }
            port = value
        }
        guard (1...65535).contains(port) else { return nil }
        return try? SocketAddress(ipAddress: host, port: port)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

private func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
