import DNSCore
import DNSResolver
import Logging
import MailQueue
import NIOCore
import NIOSSL
import SMTPAuth
import SMTPClient
import SMTPCore
import SMTPServer
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Delivers queued mail: claims due messages, sends each domain's recipients over one SMTP session to the
/// domain's MX hosts (or the smarthost), records per recipient delivered / deferred / failed, retries on the
/// `RetrySchedule`, and bounces permanent failures and expired recipients to the sender (never to `<>`).
/// One log line per recipient per attempt.
public struct DeliveryWorker: Service {
    public let configuration: DeliveryConfiguration
    public let queue: any OutboundQueue
    public let router: MailRouter?
    public let bounces: any BounceSink
    public let logger: Logger
    /// Seconds since 1970; a parameter for tests.
    let now: @Sendable () -> Double
    /// Sessions kept for the next message to the same host.
    let connections: ConnectionCache

    public init(
        configuration: DeliveryConfiguration, queue: any OutboundQueue, router: MailRouter?, bounces: any BounceSink,
        logger: Logger, now: @escaping @Sendable () -> Double = { Double(time(nil)) }
    ) {
        self.configuration = configuration
        self.queue = queue
        self.router = router
        self.bounces = bounces
        self.logger = logger
        self.now = now
        self.connections = ConnectionCache(
            idleTime: .milliseconds(Int64(configuration.connectionCacheTime * 1000)))
    }

    /// Keeps up to `concurrency` messages in delivery: claims due ones whenever a delivery ends or the poll timer
    /// fires (at the next due time, at most `pollInterval` away). At graceful shutdown the deliveries in flight
    /// are cancelled (their connections close, their recipients are deferred) and kept sessions are closed.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Bool.self) { group in
                var running = 0
                var timerRunning = false
                while !Task.isCancelled {
                    if running < configuration.concurrency {
                        let claimed = await claim(configuration.concurrency - running)
                        for message in claimed {
                            group.addTask {
                                await attempt(message)
                                return true
                            }
                        }
                        running += claimed.count
                    }
                    if !timerRunning {
                        let summary = await queue.summary()
                        DeliveryMetrics.queue(
                            messages: summary.messages, oldestAge: summary.oldestArrival.map { now() - $0 } ?? 0)
                        let due = await queue.nextDue().map { $0 - now() } ?? configuration.pollInterval
                        let wait = min(configuration.pollInterval, max(0.01, due))
                        group.addTask {
                            try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                            return false
                        }
                        timerRunning = true
                    }
                    guard let deliveryEnded = await group.next() else { break }
                    if deliveryEnded {
                        running -= 1
                    } else {
                        timerRunning = false
                        await connections.sweep()
                    }
                }
            }
        }
        await connections.closeAll()
    }

    private func claim(_ limit: Int) async -> [QueuedMessage] {
        do {
            return try await queue.claim(now: now(), limit: limit, lease: configuration.lease)
        } catch {
            logger.error("cannot read the outbound queue", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// One attempt at every pending recipient of `message`.
    public func attempt(_ message: QueuedMessage) async {
        var message = message
        let started = now()
        message.attempts += 1
        let body: [UInt8]
        do {
            body = try await queue.body(of: message.id)
        } catch {
            logger.error("cannot read queued message", metadata: ["id": "\(message.id)", "error": "\(error)"])
            message.nextAttempt = started + configuration.retry.delay(afterAttempts: message.attempts)
            try? await queue.update(message)
            return
        }
        let before = message.recipients.map(\.status)
        var relayed: [Int] = []
        if Self.countReceived(body) > configuration.maximumHops {
            let loop = Reply(554, .init(5, 4, 6), "Mail forwarding loop: too many Received headers")
            for index in message.recipients.indices where message.recipients[index].status == .pending {
                settle(&message, index, StoredReply(loop), host: nil, tls: false, started: started)
            }
        } else {
            var byDomain: [String: [Int]] = [:]
            for (index, recipient) in message.recipients.enumerated() where recipient.status == .pending {
                byDomain[recipient.domain, default: []].append(index)
            }
            for (domain, indices) in byDomain.sorted(by: { $0.key < $1.key }) {
                relayed += await deliver(&message, indices, domain: domain, body: body, started: started)
            }
        }
        let expired = configuration.retry.hasExpired(arrival: message.arrival, now: now())
        if expired {
            for index in message.recipients.indices where message.recipients[index].status == .pending {
                message.recipients[index].status = .failed
                logger.notice(
                    "\(message.id): to=<\(message.recipients[index].address)> status=expired, returned to sender")
                DeliveryMetrics.attempt("expired")
            }
        }
        let newlyFailed = message.recipients.indices.filter {
            before[$0] == .pending && message.recipients[$0].status == .failed
        }.map { message.recipients[$0] }
        await bounce(message, newlyFailed, body: body, expired: expired)
        await reportRelayed(message, relayed.map { message.recipients[$0] }, body: body)
        await warnIfDelayed(&message, body: body)
        do {
            if message.isFinished {
                try await queue.complete(message.id)
            } else {
                message.nextAttempt = now() + configuration.retry.delay(afterAttempts: message.attempts)
                try await queue.update(message)
            }
        } catch {
            logger.error("cannot record delivery results", metadata: ["id": "\(message.id)", "error": "\(error)"])
        }
    }

    // MARK: One domain

    /// Delivers to the recipients `indices` of one domain; returns those delivered that asked for a success report
    /// from a server that will not send one (it does not offer DSN).
    private func deliver(
        _ message: inout QueuedMessage, _ indices: [Int], domain: String, body: [UInt8], started: Double
    ) async -> [Int] {
        let hosts: [(name: String, address: SocketAddress)]
        switch await route(domain) {
        case .hosts(let found):
            hosts = found.flatMap { host in host.addresses.map { (host.name, $0) } }
        case .permanentFailure(let reason):
            let code = reason.contains("null MX") ? EnhancedStatusCode(5, 1, 10) : EnhancedStatusCode(5, 1, 2)
            let reply = Reply(code == EnhancedStatusCode(5, 1, 10) ? 556 : 550, code, reason)
            for index in indices {
                settle(&message, index, StoredReply(reply), host: nil, tls: false, started: started)
            }
            return []
        case .temporaryFailure(let reason):
            for index in indices {
                settle(
                    &message, index, StoredReply(Reply(451, .init(4, 4, 3), reason)), host: nil, tls: false,
                    started: started)
            }
            return []
        }
        let transaction = OutboundTransaction(
            sender: message.reversePath, recipients: indices.map { message.recipients[$0].recipient },
            size: body.count, hasEightBitBody: message.eightBit, smtpUTF8: message.smtpUTF8,
            dsnReturn: message.dsnReturn.flatMap(DSNReturn.init),
            envelopeID: message.envelopeID)
        var lastFailure = Reply(451, .init(4, 4, 1), "No mail host could be reached")
        var lastHost: String?
        for (name, address) in hosts {
            let port = configuration.smarthost?.port ?? configuration.port
            let hostText = "\(name)[\(address.ipAddress ?? "?")]:\(port)"
            do throws(SMTPClientError) {
                let destination = "\(address.ipAddress ?? name):\(port)"
                let (connection, result) = try await transact(
                    transaction, body: body, destination: destination, host: address.ipAddress ?? name, name: name,
                    port: port)
                let tls = await connection.isTLS
                let offersDSN = await connection.extensions.dsn
                await connections.give(connection, for: destination)
                var relayed: [Int] = []
                for (offset, index) in indices.enumerated() {
                    let recipientResult = result.recipients[offset]
                    settle(
                        &message, index, StoredReply(recipientResult.reply), host: hostText, tls: tls, started: started)
                    if recipientResult.isDelivered, !offersDSN,
                        message.recipients[index].notify?.contains("SUCCESS") ?? false
                    {
                        relayed.append(index)
                    }
                }
                return relayed
            } catch {
                lastFailure = error.reply
                lastHost = hostText
                logger.info(
                    "\(message.id): relay=\(hostText) failed: \(error.reply); trying the next host if there is one")
            }
        }
        // No host took the session: every recipient is deferred with the last reason (a 5xx greeting too: the
        // next attempt may reach another host).
        let deferral = lastFailure.isPermanentFailure ? Reply(451, .init(4, 4, 1), "\(lastFailure)") : lastFailure
        for index in indices {
            settle(&message, index, StoredReply(deferral), host: lastHost, tls: false, started: started)
        }
        return []
    }

    /// One transaction on a kept session for `destination` when there is one, else on a new one (with AUTH
    /// towards a smarthost). A kept session the server has closed meanwhile is replaced by a new one; any other
    /// failure ends the attempt on this host (the message may have reached the server).
    private func transact(
        _ transaction: OutboundTransaction, body: [UInt8], destination: String, host: String, name: String, port: Int
    ) async throws(SMTPClientError) -> (SMTPClientConnection, TransactionResult) {
        if let kept = await connections.take(destination) {
            do {
                return (kept, try await kept.send(transaction, body: ByteBuffer(bytes: body)))
            } catch {
                await kept.close()
                guard error == .connectionClosed else { throw error }
            }
        }
        let connection = try await SMTPClientConnection.connect(
            host: host, port: port, serverName: name, configuration: clientConfiguration())
        do {
            if let credentials = configuration.smarthost?.credentials {
                try await authenticate(connection, credentials)
            }
            return (connection, try await connection.send(transaction, body: ByteBuffer(bytes: body)))
        } catch {
            await connection.close()
            throw error
        }
    }

    /// AUTH towards the smarthost: SCRAM-SHA-256 when offered (the password never crosses the wire), else PLAIN
    /// or LOGIN; never without TLS. A refusal defers the mail (an operator's mistake, fixable without bounces).
    private func authenticate(_ connection: SMTPClientConnection, _ credentials: (user: String, password: String))
        async throws(SMTPClientError)
    {
        guard await connection.isTLS else {
            throw .sessionEnded(Reply(454, .init(4, 7, 0), "Smarthost offers no TLS; not sending credentials"))
        }
        do {
            if await connection.extensions.authMechanisms.contains("SCRAM-SHA-256") {
                try await connection.authenticate(
                    using: SCRAMClient(user: credentials.user, password: credentials.password))
            } else {
                try await connection.authenticate(user: credentials.user, password: credentials.password)
            }
        } catch {
            let reply = error.reply
            throw .sessionEnded(Reply(454, .init(4, 7, 0), "Smarthost refused AUTH: \(reply)"))
        }
    }

    private func route(_ domain: String) async -> MailRoute {
        if let smarthost = configuration.smarthost {
            if let address = try? SocketAddress(ipAddress: smarthost.host, port: 0) {
                return .hosts([MailHost(name: smarthost.host, preference: 0, addresses: [address])])
            }
            guard let router else { return .temporaryFailure("no resolver for \(smarthost.host)") }
            guard let name = DNSName(smarthost.host) else {
                return .permanentFailure("bad smarthost \(smarthost.host)")
            }
            switch await router.addresses(of: name) {
            case .success(let found) where !found.isEmpty:
                return .hosts([MailHost(name: smarthost.host, preference: 0, addresses: found)])
            case .success: return .temporaryFailure("smarthost \(smarthost.host) has no address")
            case .failure(let failure): return .temporaryFailure(failure.reason)
            }
        }
        guard let router else { return .temporaryFailure("no DNS resolver configured") }
        return await router.route(domain)
    }

    private func clientConfiguration() -> SMTPClientConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return SMTPClientConfiguration(
            heloName: configuration.hostname, security: configuration.security, tls: tls,
            timeouts: configuration.timeouts, connectTimeout: .milliseconds(Int64(configuration.connectTimeout * 1000)))
    }

    /// Records one recipient's outcome and logs it, in the shape Postfix's users parse.
    private func settle(
        _ message: inout QueuedMessage, _ index: Int, _ reply: StoredReply, host: String?, tls: Bool, started: Double
    ) {
        var recipient = message.recipients[index]
        recipient.attempts += 1
        recipient.lastReply = reply
        recipient.lastHost = host
        let status: String
        switch reply.code {
        case ..<400:
            recipient.status = .delivered
            status = "sent"
        case 400..<500:
            status = "deferred"
        default:
            recipient.status = .failed
            status = "bounced"
        }
        message.recipients[index] = recipient
        DeliveryMetrics.attempt(status)
        let delay = String(Int((now() - message.arrival).rounded()))
        logger.notice(
            "\(message.id): to=<\(recipient.address)> relay=\(host ?? "none") delay=\(delay) tls=\(tls ? "yes" : "no") dsn=\(reply.status) status=\(status) (\(reply))"
        )
    }

    // MARK: Bounces

    private func bounce(_ message: QueuedMessage, _ failed: [QueuedRecipient], body: [UInt8], expired: Bool) async {
        let wanted = failed.filter(\.wantsFailureNotice)
        guard !wanted.isEmpty else { return }
        // A failed bounce (from the null sender) is never bounced to anyone else; the postmaster hears of it
        // (a double bounce), in a local mailbox only, so nothing can loop.
        let to: ForwardPath = Mailbox(address: message.sender).map { .mailbox($0) } ?? .postmaster
        let report = DeliveryStatusReport(
            reportingMTA: configuration.hostname, date: RFC5322Date.now(),
            arrivalDate: RFC5322Date.format(time_t(message.arrival)), token: FileQueue.makeID(now: now()))
        let bytes = report.bounce(for: message, failed: wanted, original: body, expired: expired)
        do {
            try await bounces.deliverBounce(bytes, to: to)
            logger.notice("\(message.id): non-delivery notification to \(to)")
        } catch {
            logger.error("\(message.id): cannot deliver the bounce to \(to): \(error)")
        }
    }

    /// One `delayed` report per message once it has waited `delayWarning` with recipients still pending.
    private func warnIfDelayed(_ message: inout QueuedMessage, body: [UInt8]) async {
        guard configuration.delayWarning > 0, !message.delayWarned,
            now() - message.arrival >= configuration.delayWarning,
            let sender = Mailbox(address: message.sender)
        else { return }
        let waiting = message.pending.filter(\.wantsDelayNotice)
        guard !waiting.isEmpty else { return }
        message.delayWarned = true
        let report = DeliveryStatusReport(
            reportingMTA: configuration.hostname, date: RFC5322Date.now(),
            arrivalDate: RFC5322Date.format(time_t(message.arrival)), token: FileQueue.makeID(now: now()))
        let until = RFC5322Date.format(time_t(message.arrival + configuration.retry.lifetime))
        do {
            try await bounces.deliverBounce(
                report.delayed(for: message, recipients: waiting, original: body, until: until), to: .mailbox(sender))
            logger.notice("\(message.id): sender delay notification to <\(message.sender)>")
        } catch {
            logger.error("\(message.id): cannot deliver the delay warning to <\(message.sender)>: \(error)")
        }
    }

    /// The `relayed` report (RFC 3461 §6.2.3.1) for recipients that asked for success reports.
    private func reportRelayed(_ message: QueuedMessage, _ recipients: [QueuedRecipient], body: [UInt8]) async {
        guard !recipients.isEmpty, let sender = Mailbox(address: message.sender) else { return }
        let report = DeliveryStatusReport(
            reportingMTA: configuration.hostname, date: RFC5322Date.now(),
            arrivalDate: RFC5322Date.format(time_t(message.arrival)), token: FileQueue.makeID(now: now()))
        do {
            try await bounces.deliverBounce(
                report.relayed(for: message, recipients: recipients, original: body), to: .mailbox(sender))
            logger.notice("\(message.id): sender delivery status notification (relayed) to <\(message.sender)>")
        } catch {
            logger.error("\(message.id): cannot deliver the success report to <\(message.sender)>: \(error)")
        }
    }

    /// `Received:` header fields of the message's header section.
    static func countReceived(_ body: [UInt8]) -> Int {
        var count = 0
        var lineStart = 0
        let received = Array("received:".utf8)
        var index = 0
        while index < body.count {
            if body[index] == UInt8(ascii: "\n") {
                let line = body[lineStart..<index]
                if line.count <= 1 { break }  // the empty line (CRLF) ends the header section
                if line.count >= received.count,
                    zip(line.prefix(received.count), received).allSatisfy({ ($0 | 0x20) == $1 })
                {
                    count += 1
                }
                lineStart = index + 1
            }
            index += 1
        }
        return count
    }
}
