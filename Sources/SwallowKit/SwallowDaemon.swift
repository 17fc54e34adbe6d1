import DNSResolver
import FileSupport
import Logging
import MailQueue
import MailStore
import OutboundDelivery
import SMTPClient
import SMTPCore
import NIOCore
import Prometheus
import SMTPServer
import ServiceLifecycle
import SwallowTLS
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Assembles the daemon from a configuration: the directory, the Maildir backend, certificates, the
/// authenticator and the SMTP server, plus the services that run beside it (the HTTP service among them).
public struct SwallowDaemon: Sendable {
    public let configuration: SwallowConfiguration
    public let server: SMTPServer
    public let certificates: CertificateStore
    /// The server, the HTTP service (when configured), the certificate reloader (SIGHUP) and the heap trimmer, for
    /// a `ServiceGroup`.
    public let services: [any Service]
    /// Whether the daemon gives root up after binding (started as root with `user`).
    public let privileges: PrivilegePlan
    /// Crash leftovers removed from the mailboxes' `tmp` directories at start.
    public let leftoversRemoved: Int
    /// Makes accepted messages durable, through the journal when there is one.
    public let committer: GroupCommitter
    /// Authenticated users' mail for other domains, delivered by the `DeliveryWorker` among `services`.
    public let queue: FileQueue
    private let lock: DataDirectoryLock

    /// - Parameters:
    ///   - metrics: the registry `/metrics` exports (see `MetricsRoutes.bootstrap`); nil: a registry of its own,
    ///     which holds no metric unless the process made Prometheus its swift-metrics backend with it.
    ///   - onHTTPListening: told the HTTP service's address once it accepts requests.
    public init(
        configuration: SwallowConfiguration, logger: Logger, metrics: PrometheusCollectorRegistry? = nil,
        onHTTPListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) throws(DaemonSetupError) {
        self.configuration = configuration
        let plan = try PrivilegePlan.decide(configuration)
        privileges = plan
        if case .drop(let account) = plan {
            try Self.handOver(configuration.dataDirectory, to: account, logger: logger)
            // Set up as the account (see `ServiceAccount`), root again only to bind.
            try account.actAs()
        } else if geteuid() == 0 {
            logger.warning("serving as root (loopback only or allow_root); set user = \"…\" to drop privileges")
        }
        defer { if case .drop(let account) = plan { try? account.actAsRoot() } }
        // Fail at start, not at the first message, when the data directory cannot be made.
        do {
            try Maildir(path: configuration.mailDirectory).createRoot()
        } catch {
            throw DaemonSetupError(message: "cannot use data directory \(configuration.dataDirectory): \(error)")
        }
        // Logs how the mail file system is made durable; mailboxes on other file systems are learned as they are used.
        do {
            try SyncStrategies.shared.strategy(forDirectory: configuration.mailDirectory)
        } catch {
            throw DaemonSetupError(message: "cannot use data directory \(configuration.dataDirectory): \(error)")
        }
        lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        leftoversRemoved = LeftoverFiles.remove(under: configuration.mailDirectory, hostname: configuration.hostname)
        if leftoversRemoved > 0 {
            logger.notice(
                "removed unfinished deliveries left by an earlier run", metadata: ["files": "\(leftoversRemoved)"])
        }
        committer = GroupCommitter(journal: try Self.openJournal(configuration, logger: logger))
        certificates = try Self.makeCertificateStore(configuration, logger: logger)
        let directory = Directory(
            domains: configuration.domains, catchAll: configuration.isCatchAll, fallbackDomain: configuration.hostname)
        do {
            queue = try FileQueue(directory: configuration.queueDirectory)
        } catch {
            throw DaemonSetupError(message: "cannot open the outbound queue: \(error)")
        }
        let backend = LocalDeliveryBackend(
            directory: directory, mailDirectory: configuration.mailDirectory, hostname: configuration.hostname,
            allowedSenders: configuration.allowedSenders, committer: committer, queue: queue,
            trustedNetworks: configuration.delivery.trustedNetworks)
        var serverConfiguration = configuration.serverConfiguration
        logger.info(
            "connection limits",
            metadata: [
                "max_connections": "\(serverConfiguration.maxConnections)",
                "sized": "\(configuration.maxConnections == nil ? "from descriptors and memory" : "configured")",
                "per_client": "\(serverConfiguration.maxConnectionsPerClient)",
            ])
        let store = certificates
        serverConfiguration.tls = { store.context() }
        if !configuration.authMechanisms.isEmpty {
            serverConfiguration.authenticator = LocalAuthenticator(
                usersFile: configuration.resolvedUsersFile, mechanisms: configuration.authMechanisms,
                failuresPerAccount: configuration.authFailuresPerAccount,
                window: .seconds(configuration.authThrottleWindow))
        }
        if case .drop(let account) = plan {
            serverConfiguration.onListenersBound = { _ in
                try account.drop()
                logger.notice(
                    "privileges dropped",
                    metadata: ["user": "\(account.user)", "uid": "\(account.uid)", "gid": "\(account.gid)"])
            }
        }
        server = SMTPServer(configuration: serverConfiguration, backend: backend, logger: logger)
        let worker = DeliveryWorker(
            configuration: try Self.deliveryConfiguration(configuration), queue: queue,
            router: MailRouter(client: DNSClient(configuration: Self.resolverConfiguration(configuration.delivery))),
            bounces: LocalBounceSink(backend: backend, queue: queue), logger: logger)
        var services: [any Service] = [server]
        if let address = configuration.httpListen {
            services.append(
                Self.makeHTTPService(
                    address, server: server, configuration: configuration, committer: committer,
                    metrics: metrics ?? PrometheusCollectorRegistry(), onListening: onHTTPListening, logger: logger))
        }
        services += [CertificateReloader(store: store, logger: logger), HeapTrimmer(logger: logger), worker]
        self.services = services
    }

    static func resolverConfiguration(_ settings: DeliverySettings) -> ResolverConfiguration {
        var resolver =
            settings.nameservers.isEmpty
            ? ResolverConfiguration.system()
            : ResolverConfiguration(nameservers: settings.nameservers.compactMap(ResolverConfiguration.nameserver))
        resolver.timeout = .milliseconds(Int(settings.dnsTimeout * 1000))
        return resolver
    }

    static func deliveryConfiguration(_ configuration: SwallowConfiguration) throws(DaemonSetupError)
        -> DeliveryConfiguration
    {
        let settings = configuration.delivery
        var timeouts = ClientTimeouts()
        timeouts.greeting = .milliseconds(Int(settings.greetingTimeout * 1000))
        timeouts.command = .milliseconds(Int(settings.commandTimeout * 1000))
        timeouts.mail = timeouts.command
        timeouts.rcpt = timeouts.command
        timeouts.dataInitiation = .milliseconds(Int(settings.dataTimeout * 1000))
        timeouts.dataBlock = timeouts.dataInitiation
        timeouts.dataTermination = .milliseconds(Int(settings.dataEndTimeout * 1000))
        var smarthost = settings.smarthost.flatMap(ListenAddress.init(parsing:)).map {
            DeliveryConfiguration.Smarthost(host: $0.host, port: $0.port)
        }
        if let user = settings.smarthostUser, let file = settings.smarthostPasswordFile {
            // The password's file, not the configuration, holds the secret: the configuration may be world-readable.
            let bytes: [UInt8]
            do {
                bytes = try POSIXFile.contents(of: file, maximumSize: 4096)
            } catch {
                throw DaemonSetupError(message: "cannot read delivery.smarthost_password_file \(file): \(error)")
            }
            let password = String(decoding: bytes.prefix { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self)
            smarthost?.credentials = (user, password)
        }
        let security: SMTPClientConfiguration.Security =
            switch settings.tls {
            case "none": .plaintext
            case "required": .startTLS
            default: .startTLSIfOffered
            }
        return DeliveryConfiguration(
            hostname: configuration.hostname, port: settings.port, smarthost: smarthost, security: security,
            timeouts: timeouts,
            retry: RetrySchedule(
                initialDelay: settings.retryInitial, maximumDelay: settings.retryMaximum, lifetime: settings.lifetime),
            delayWarning: settings.delayWarning, concurrency: settings.concurrency,
            connectionCacheTime: settings.connectionCacheTime,
            connectTimeout: settings.connectTimeout)
    }

    /// Records the journal's last checkpoint; call after the server has stopped.
    public func shutdown() async {
        await committer.journal?.close()
    }

    /// Opens the journal, which first delivers again what an earlier run accepted but may not have made durable in
    /// the Maildirs. A journal left by an earlier run is replayed even when the journal is now turned off.
    private static func openJournal(
        _ configuration: SwallowConfiguration, logger: Logger
    ) throws(DaemonSetupError) -> DeliveryJournal? {
        let directory = configuration.journalDirectory
        // The journal needs no `syncfs`: its checkpoint takes each mail file system's `SyncStrategy`.
        let wanted = configuration.journal
        guard wanted || access(directory, F_OK) == 0 else { return nil }
        let journal: DeliveryJournal
        do {
            journal = try DeliveryJournal(
                directory: directory, options: .init(checkpointInterval: configuration.checkpointInterval))
        } catch {
            throw DaemonSetupError(message: "cannot recover the journal in \(directory): \(error)")
        }
        if journal.replayed > 0 {
            logger.notice(
                "delivered again the messages accepted since the journal's last checkpoint",
                metadata: ["files": "\(journal.replayed)"])
        }
        if let reason = journal.unavailableReason, wanted {
            logger.warning("journal unavailable; each message is synced on its own", metadata: ["error": "\(reason)"])
        }
        return wanted ? journal : nil
    }

    /// The configured certificates, or a self-signed one made (once) in the data directory.
    private static func makeCertificateStore(
        _ configuration: SwallowConfiguration, logger: Logger
    ) throws(DaemonSetupError) -> CertificateStore {
        var files = configuration.certificates
        if files.isEmpty {
            do {
                files = [
                    try SelfSignedCertificate.loadOrCreate(
                        names: [configuration.hostname, "localhost", "127.0.0.1", "::1"],
                        in: configuration.selfSignedDirectory)
                ]
                logger.notice(
                    "no certificate configured: using a self-signed one for development",
                    metadata: ["cert": "\(files[0].certificatePath)"])
            } catch {
                throw DaemonSetupError(message: "cannot create a self-signed certificate: \(error)")
            }
        }
        do {
            return try CertificateStore(files)
        } catch {
            throw DaemonSetupError(message: "\(error)")
        }
    }

    /// What the daemon tells a person at start: where it listens and where mail goes.
    public func banner(listening addresses: [String]) -> String {
        let who =
            configuration.isCatchAll && configuration.domains.isEmpty
            ? "accepting mail for any recipient (catch-all); relaying only for authenticated users"
            : "accepting mail for \(configuration.domains.map(\.name).joined(separator: ", ")); relaying only for authenticated users"
        return """
            Swallow listening on \(addresses.joined(separator: ", ")) as \(configuration.hostname)
            \(who); mail is stored in \(configuration.mailDirectory)/<domain>/<user>/new
            """
    }
}

/// Why the daemon cannot start.
public struct DaemonSetupError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Re-reads the certificates on SIGHUP; a bad new certificate is logged and the old one stays in use.
struct CertificateReloader: Service {
    let store: CertificateStore
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            if let error = store.reload() {
                logger.error(
                    "certificate reload failed; keeping the current certificate", metadata: ["error": "\(error)"])
            } else {
                logger.notice("certificates reloaded")
            }
        }
    }
}
