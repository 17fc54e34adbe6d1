import Logging
import MailStore
import NIOCore
import Prometheus
import SMTPServer
import SwallowHTTP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SwallowDaemon {
    /// The HTTP service: `/metrics`, `/healthz` and `/readyz`. It binds once the SMTP listeners are bound (and
    /// privileges dropped), so it never reads a request as root and `/readyz` starts with the listeners up.
    static func makeHTTPService(
        _ address: ListenAddress, server: SMTPServer, configuration: SwallowConfiguration, committer: GroupCommitter,
        metrics: PrometheusCollectorRegistry, onListening: @escaping @Sendable (SocketAddress) -> Void,
        logger: Logger
    ) -> HTTPService {
        let mailDirectory = configuration.mailDirectory
        let checks = [
            ReadinessCheck(name: "listeners") { server.isListening ? nil : "not bound" },
            ReadinessCheck(name: "store") { await StoreProbe.problem(in: mailDirectory) },
            ReadinessCheck(name: "journal") {
                guard let journal = committer.journal else { return nil }
                return journal.unavailableReason
            },
        ]
        let started = ContinuousClock.now
        let facts: @Sendable () async -> [(name: String, value: String)] = {
            let bound = (try? await server.listeningAddresses) ?? []
            let listeners = zip(configuration.listen, bound).map { listener, address in
                "\(address.ipAddress ?? listener.host):\(address.port ?? listener.port) (\(listener.kind.rawValue))"
            }
            let commits = committer.statistics
            let journal: String
            if let current = committer.journal {
                let sequences = current.sequences
                journal =
                    current.unavailableReason.map { "unavailable: \($0)" }
                    ?? "on (appended \(sequences.appended), checkpointed \(sequences.checkpointed))"
            } else {
                journal = "off"
            }
            return [
                ("version", SwallowVersion.current),
                ("pid", "\(getpid())"),
                ("uid", "\(geteuid())"),
                ("uptime", "\((ContinuousClock.now - started).components.seconds) s"),
                ("hostname", configuration.hostname),
                ("listeners", listeners.joined(separator: ", ")),
                ("data_dir", configuration.dataDirectory),
                ("journal", journal),
                ("messages_committed", "\(commits.messages) in \(commits.rounds) rounds"),
            ]
        }
        return HTTPService(
            host: address.host, port: address.port,
            routes: [
                MetricsRoutes(registry: metrics), HealthRoutes(checks: checks),
                StatusRoutes(facts: facts, checks: checks),
            ],
            beforeBinding: { _ = try await server.listeningAddresses }, onListening: onListening,
            optional: configuration.httpListenIsDefault, logger: logger)
    }
}
