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
    private let logger: Logger

    /// - Parameters:
    ///   - host, port: where to listen (port 0: any free port, reported to `onListening`).
    ///   - routes: the route groups to serve.
    ///   - beforeBinding: awaited before the listener is bound. The daemon waits there for its SMTP listeners and
    ///     for its privileges to be dropped, so that no HTTP request is ever read as root; an error stops the service.
    ///   - onListening: told the bound address once the service accepts requests.
    public init(
        host: String, port: Int, routes: [any HTTPRoutes],
        beforeBinding: @escaping @Sendable () async throws -> Void = {},
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.routes = routes
        self.beforeBinding = beforeBinding
        self.onListening = onListening
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
            throw HTTPServiceError(message: "HTTP service on \(addressText): \(error)")
        }
    }
}
