import ArgumentParser
import SMTPServer
import SwallowKit

/// `swallow status`: asks the running daemon, through its HTTP service, for its version, uptime, listeners,
/// journal and readiness, and prints them.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running server's state (through its HTTP service: [http] listen, default 127.0.0.1:8025).")

    @Option(name: .shortAndLong, help: "The server's configuration file (to find its [http] listen address).")
    var config: String?

    @Option(name: .long, help: "The HTTP service's HOST:PORT instead of the configured one.")
    var http: String?

    func run() async throws {
        let address: ListenAddress
        do {
            address = try Self.address(config: config, http: http)
        } catch {
            Options.printError(error)
            throw ExitCode.failure
        }
        let host = address.host == "0.0.0.0" ? "127.0.0.1" : address.host == "::" ? "::1" : address.host
        do {
            let (code, body) = try PlainHTTPGet.get(host: host, port: address.port, path: "/status")
            guard code == 200 else {
                Options.printError("\(address): /status answered \(code)")
                throw ExitCode.failure
            }
            print(body, terminator: "")
            // Not ready (a check failed): exit 1 too, for scripts.
            if body.split(separator: "\n").contains(where: { $0.hasPrefix("ready.") && !$0.hasSuffix(": ok") }) {
                throw ExitCode.failure
            }
        } catch let error as PlainHTTPGet.Failure {
            Options.printError("no Swallow HTTP service at \(address) (\(error)); is the server running with [http]?")
            throw ExitCode.failure
        }
    }

    static func address(config: String?, http: String?) throws -> ListenAddress {
        if let http {
            guard let address = ListenAddress(parsing: http) else {
                throw ConfigurationError(file: "command line", key: "--http", message: "\"\(http)\" is not HOST:PORT")
            }
            return address
        }
        let configuration =
            try config.map { path throws(ConfigurationError) in
                try ConfigurationLoader.load(file: path)
            } ?? SwallowConfiguration()
        guard let address = configuration.httpListen else {
            throw ConfigurationError(
                file: config ?? "", key: "http", message: "no [http] section: the server runs no HTTP service to ask")
        }
        return address
    }
}
