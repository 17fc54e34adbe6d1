import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The daemon's HTTP service (Hummingbird): one listener serving the routes it is given, as a `Service` of the
/// daemon's `ServiceGroup`, so it starts and stops with the SMTP server.
public struct HTTPService: Service {
    public let host: String
    public let port: Int
    private let routes: [any HTTPRoutes]
    private let beforeBinding: @Sendable () async throws -> Void
    private let onListening: @Sendable (SocketAddress) -> Void
    private let optional: Bool
    private let logger: Logger

    /// - Parameters:
    ///   - host, port: where to listen (port 0: any free port, reported to `onListening`).
    ///   - routes: the route groups to serve.
    ///   - beforeBinding: awaited before the listener is bound. The daemon waits there for its SMTP listeners and
    ///     for its privileges to be dropped, so that no HTTP request is ever read as root; an error stops the service.
    ///   - onListening: told the bound address once the service accepts requests.
    ///   - optional: when the service cannot run (its port is taken), log a warning and let the daemon go on
    ///     without it instead of stopping it; for an address nobody configured.
    public init(
        host: String, port: Int, routes: [any HTTPRoutes],
        beforeBinding: @escaping @Sendable () async throws -> Void = {},
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        optional: Bool = false,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.routes = routes
        self.beforeBinding = beforeBinding
        self.onListening = onListening
        self.optional = optional
        self.logger = logger
    }

    /// `HOST:PORT`, or `[HOST]:PORT` for IPv6.
    private var addressText: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public func run() async throws {
        try await beforeBinding()
        let router = Router(context: BasicRequestContext.self)
        for group in routes { group.register(on: router) }
        let onListening = self.onListening
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "Swallow"),
            onServerRunning: { channel in
                if let address = channel.localAddress { onListening(address) }
            },
            logger: logger)
        do {
            try await application.run()
        } catch {
            // Hummingbird's bind error does not say which listener: the daemon's last words should.
            let failure = HTTPServiceError(message: "HTTP service on \(addressText): \(error)")
            guard optional, !Task.isCancelled else { throw failure }
            // The default address of a run without configuration (Mailpit's port, say, may be taken): the mail
            // server matters more than its metrics.
            logger.warning("\(failure); going on without the HTTP service")
            try? await gracefulShutdown()
        }
    }
}
