import ArgumentParser
import Logging
import MailStore
import NIOCore
import SMTPServer
import ServiceLifecycle
import SwallowHTTP
import SwallowKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `swallow serve`: run the server until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive mail (the default). Without --config: 127.0.0.1:2525, catch-all, ./swallow-data.")

    @Option(name: .shortAndLong, help: "A TOML configuration file.")
    var config: String?

    @Option(name: .long, help: "Listen on HOST:PORT instead of the configured addresses (repeatable).")
    var listen: [String] = []

    @Option(name: .long, help: "Keep mail and state under this directory.")
    var dataDir: String?

    @Option(name: .long, help: "The server's name in greetings and Received: headers.")
    var hostname: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .long, help: "Log format: text (default) or json (one JSON object per line).")
    var logFormat: String?

    func run() async throws {
        var configuration: SwallowConfiguration
        do {
            configuration = try Options.resolve(
                file: config, listen: listen, dataDir: dataDir, hostname: hostname, logLevel: logLevel)
            if let logFormat {
                guard let format = LogFormat(rawValue: logFormat) else {
                    throw ConfigurationError(
                        file: "command line", key: "--log-format", message: "must be text or json, not \"\(logFormat)\""
                    )
                }
                configuration.logFormat = format
            }
        } catch {
            Options.printError(error)
            throw ExitCode.failure
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let format = configuration.logFormat
        LoggingSystem.bootstrap { label in
            var handler = StandardErrorLogHandler(label: label)
            handler.logLevel = level
            handler.lineFormat = format
            return handler
        }
        let logger = Logger(label: "swallow")
        // Once per process, before any metric is made (a metric made earlier would stay with the no-op backend).
        let metrics = MetricsRoutes.bootstrap(valueBuckets: [StoreMetrics.roundSizeLabel: StoreMetrics.roundSizeBuckets]
        )
        let daemon: SwallowDaemon
        do {
            daemon = try SwallowDaemon(
                configuration: configuration, logger: logger, metrics: metrics,
                onHTTPListening: { address in
                    print("HTTP on http://\(Self.name(address))/ (/metrics, /healthz, /readyz)")
                    fflush(nil)
                })
        } catch {
            Options.printError(error)
            throw ExitCode.failure
        }
        let server = daemon.server
        let bannerTask = Task {
            guard let addresses = try? await server.listeningAddresses else { return }
            print(daemon.banner(listening: addresses.map(Self.name)))
            fflush(nil)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: daemon.services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            bannerTask.cancel()
            Options.printError("\(error)")
            throw ExitCode.failure
        }
        await daemon.shutdown()
        let commits = daemon.committer.statistics
        logger.info(
            "stopped", metadata: ["messages_committed": "\(commits.messages)", "commit_rounds": "\(commits.rounds)"])
    }

    /// `HOST:PORT`, with the host in brackets for IPv6.
    static func name(_ address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        return host.contains(":") ? "[\(host)]:\(address.port ?? 0)" : "\(host):\(address.port ?? 0)"
    }
}
