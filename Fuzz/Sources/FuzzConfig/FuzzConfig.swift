import FuzzSupport
import SMTPCore
import SMTPServer
import SwallowKit

/// Fuzzes `ConfigurationLoader.parse` with arbitrary text (invalid UTF-8 is decoded with replacement characters,
/// as `load(file:)` does). Errors are the expected answer to most inputs; a trap is a finding. A configuration
/// that parses must be one the daemon can run with: listeners with ports in range, limits in their ranges,
/// and the server configuration derived from it must build.
///
/// TOMLKit's C++ parser (toml++) is compiled without coverage instrumentation: this target guides the fuzzer
/// through Swallow's reading of the TOML tree, and runs toml++ on whatever reaches it.
@_cdecl("FuzzConfig_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        check(String(decoding: bytes(data, size), as: UTF8.self))
        return 0
    }
}

private func check(_ text: String) {
    let config: SwallowConfiguration
    do {
        config = try ConfigurationLoader.parse(text, file: "fuzz.toml")
    } catch {
        require(error.file == "fuzz.toml", "error names \(error.file)")
        require(!error.message.isEmpty, "error without a message")
        _ = error.description
        return
    }
    require(!config.listen.isEmpty, "no listener")
    for address in config.listen {
        require(!address.host.isEmpty && (0...65535).contains(address.port), "listener \(address)")
        let again = ListenAddress(parsing: address.description)
        require(again?.host == address.host && again?.port == address.port, "listener \(address) does not round-trip")
    }
    require(!config.hostname.isEmpty && config.hostname.utf8.count <= 255, "hostname \(config.hostname)")
    require((0...(1 << 40)).contains(config.maxMessageSize), "max_message_size \(config.maxMessageSize)")
    require((1...100_000).contains(config.maxRecipients), "max_recipients \(config.maxRecipients)")
    require((1...10_000).contains(config.maxErrors), "max_errors \(config.maxErrors)")
    require(config.maxConnections >= 0 && config.maxConnectionsPerClient >= 0, "connection limits")
    for timeout in [config.commandTimeout, config.dataTimeout, config.sessionTimeout] {
        require((1...(7 * 24 * 3600)).contains(timeout), "timeout \(timeout)")
    }
    require(config.authMechanisms.allSatisfy { ["PLAIN", "LOGIN", "SCRAM-SHA-256"].contains($0) }, "mechanisms")
    require(!config.dataDirectory.isEmpty, "empty data directory")
    for domain in config.domains {
        require(!domain.name.isEmpty && domain.name == domain.name.lowercased(), "domain \(domain.name)")
        for (alias, targets) in domain.aliases {
            require(!targets.isEmpty, "alias \(alias) without targets")
        }
    }
    // What the daemon derives from it.
    let server = config.serverConfiguration
    require(server.listen.count == config.listen.count, "server listeners")
    _ = config.isCatchAll
    _ = config.mailDirectory
    _ = config.resolvedUsersFile
}
