import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import ServiceLifecycle
import Synchronization

/// An SMTP server: listens, runs one session per connection against an `SMTPBackend`, and shuts down
/// gracefully. It is a `Service`, so it runs in a swift-service-lifecycle `ServiceGroup` or on its own with
/// `run()`.
///
/// ```swift
/// let server = SMTPServer(configuration: .init(listen: [.init(host: "127.0.0.1", port: 2525)]), backend: backend)
/// try await server.run()
/// ```
public final class SMTPServer: Service, Sendable {
    public let configuration: SMTPServerConfiguration
    private let backend: any SMTPBackend
    private let logger: Logger
    private let group: any EventLoopGroup
    private let registry: ConnectionRegistry
    private let throttle: AuthThrottle
    private let authPool: AuthWorkPool
    private let state = Mutex(State())

    private struct State {
        var channels: [any Channel] = []
        var addresses: [SocketAddress]?
        var waiters: [CheckedContinuation<[SocketAddress], any Error>] = []
        var failure: (any Error)?
        var stopping = false
    }

    public init(
        configuration: SMTPServerConfiguration, backend: any SMTPBackend,
        logger: Logger = Logger(label: "swallow.smtp"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
        self.group = eventLoopGroup
        self.registry = ConnectionRegistry(
            maxConnections: configuration.maxConnections, maxPerClient: configuration.maxConnectionsPerClient)
        self.throttle = AuthThrottle(
            limit: configuration.authFailuresPerClient, window: configuration.authThrottleWindow)
        self.authPool = AuthWorkPool(
            width: configuration.authConcurrency, queueTimeout: configuration.authQueueTimeout)
    }

    /// The addresses the server listens on, once it does (useful with port 0).
    public var listeningAddresses: [SocketAddress] {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<[SocketAddress], any Error>? = state.withLock { state in
                    if let addresses = state.addresses { return .success(addresses) }
                    if let failure = state.failure { return .failure(failure) }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }

    /// Binds, serves until graceful shutdown or cancellation, then drains the connections.
    public func run() async throws {
        let channels: [any Channel]
        do {
            channels = try await bind()
            do {
                try configuration.onListenersBound?(channels.compactMap(\.localAddress))
                // Connections waited in the kernel's backlog until now (see `makeBootstrap`).
                for channel in channels { try await channel.setOption(.autoRead, value: true).get() }
            } catch {
                for channel in channels { try? await channel.close() }
                throw error
            }
        } catch {
            let waiters = state.withLock { state in
                state.failure = error
                defer { state.waiters = [] }
                return state.waiters
            }
            waiters.forEach { $0.resume(throwing: error) }
            throw error
        }
        let addresses = channels.compactMap(\.localAddress)
        let waiters = state.withLock { state in
            state.channels = channels
            state.addresses = addresses
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume(returning: addresses) }
        logger.info("listening", metadata: ["addresses": "\(addresses.map { "\($0)" })"])

        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                for channel in channels { try? await channel.closeFuture.get() }
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        await drain()
    }

    /// Whether the listeners are bound and accepting (`/readyz`): false before `run()` has bound them, and once
    /// the server stops.
    public var isListening: Bool {
        state.withLock { $0.addresses != nil && !$0.stopping }
    }

    /// Stops accepting connections and asks open sessions to finish; `run()` then drains and returns.
    public func stop() {
        let channels = state.withLock { state in
            state.stopping = true
            return state.channels
        }
        registry.beginDraining(.drain)
        for channel in channels { channel.close(promise: nil) }
    }

    private func drain() async {
        registry.beginDraining(.drain)
        guard registry.count > 0 else { return }
        logger.info("waiting for \(registry.count) connection(s) to finish")
        let grace = configuration.shutdownGracePeriod
        let registry = self.registry
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await registry.waitUntilEmpty() }
            group.addTask {
                try? await Task.sleep(for: grace)
                registry.broadcast(.now)
                // Give the 421s a moment to leave, then stop waiting for stragglers.
                try? await Task.sleep(for: .seconds(2))
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func bind() async throws -> [any Channel] {
        var channels: [any Channel] = []
        do {
            for address in configuration.listen {
                if address.kind == .submissions && configuration.tls == nil {
                    throw SMTPServerError(message: "listener \(address) needs TLS, but no certificate is configured")
                }
                let channel = try await makeBootstrap(address.kind).bind(host: address.host, port: address.port).get()
                channels.append(channel)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }

    private static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16384)

    private func makeBootstrap(_ kind: ListenerKind) -> ServerBootstrap {
        let configuration = self.configuration
        let backend = self.backend
        let registry = self.registry
        let throttle = self.throttle
        let authPool = self.authPool
        let logger = self.logger
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // No connection is accepted before `run()` has called `onListenersBound` (privileges dropped).
            .serverChannelOption(.autoRead, value: false)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // A client's FIN ends only its input: replies to what it sent before still go out (Exim pipelines
            // QUIT and half-closes). The handler closes once it has answered.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // NIO keeps each connection's receive buffer at the largest size it grew to: capped at 16 KiB (not
            // 64), a connection left idle after a large message keeps 25 KB instead of 97 KB, at no measurable
            // cost in reading 100 KB bodies.
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if kind == .submissions, let tls = configuration.tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls()))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        SMTPConnectionHandler(
                            configuration: configuration, listener: kind, backend: backend, registry: registry,
                            throttle: throttle, authPool: authPool, logger: logger))
                }
            }
    }
}

/// A server that cannot start as configured.
public struct SMTPServerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
