import FileSupport

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The outbound queue in a directory of one process: per message `<id>.body` (the message as accepted) and
/// `<id>.env` (the `QueuedMessage` as JSON). Each file is written to a temporary name, fsynced, renamed and the
/// directory fsynced (`POSIXFile.replace`); the body first, so an envelope never names a missing body. The
/// envelope is the commit point: a body without one (a crash during `enqueue`) is removed at start. Claims are
/// leases in memory: one process owns the directory (the daemon's data-directory lock).
public actor FileQueue: OutboundQueue {
    public nonisolated let directory: String
    private var messages: [String: QueuedMessage] = [:]
    private var leases: [String: Double] = [:]

    /// Opens (creating it when needed) the queue in `directory` and loads every message in it.
    public init(directory: String) throws(QueueError) {
        self.directory = directory
        do {
            try POSIXFile.makeDirectories(directory, mode: 0o700)
        } catch {
            throw QueueError("cannot create queue directory \(directory): \(error)")
        }
        var loaded: [String: QueuedMessage] = [:]
        let entries = POSIXFile.entries(of: directory)
        for name in entries where name.hasSuffix(".env") {
            let path = "\(directory)/\(name)"
            guard let bytes = try? POSIXFile.contents(of: path, maximumSize: 16 << 20),
                let message = try? JSONDecoder().decode(QueuedMessage.self, from: Data(bytes))
            else { continue }
            loaded[message.id] = message
        }
        for name in entries where name.hasSuffix(".body") || name.hasPrefix(".") {
            let id = String(name.dropLast(".body".count))
            if name.hasPrefix(".") || loaded[id] == nil { unlink("\(directory)/\(name)") }
        }
        messages = loaded
    }

    /// How many messages are queued.
    public var count: Int { messages.count }

    /// Every queued message (for `swallow queue list` and tests).
    public var all: [QueuedMessage] { messages.values.sorted { $0.arrival < $1.arrival } }

    public func enqueue(_ message: QueuedMessage, body: [UInt8]) throws(QueueError) {
        try write(body, to: bodyPath(message.id))
        do {
            try writeEnvelope(message)
        } catch {
            unlink(bodyPath(message.id))
            throw error
        }
        messages[message.id] = message
    }

    public func claim(now: Double, limit: Int, lease: Double) -> [QueuedMessage] {
        var claimed: [QueuedMessage] = []
        for message in messages.values.sorted(by: { $0.nextAttempt < $1.nextAttempt }) {
            guard claimed.count < limit, message.nextAttempt <= now else { break }
            if let until = leases[message.id], until > now { continue }
            leases[message.id] = now + lease
            claimed.append(message)
        }
        return claimed
    }

    public func body(of id: String) throws(QueueError) -> [UInt8] {
        do {
            return try POSIXFile.contents(of: bodyPath(id))
        } catch {
            throw QueueError("cannot read queued message \(id): \(error)")
        }
    }

    public func update(_ message: QueuedMessage) throws(QueueError) {
        try writeEnvelope(message)
        messages[message.id] = message
        leases[message.id] = nil
    }

    public func complete(_ id: String) throws(QueueError) {
        // The envelope goes first: a body left behind by a crash here is removed at the next start.
        unlink(envelopePath(id))
        unlink(bodyPath(id))
        do {
            try POSIXFile.syncDirectory(directory)
        } catch {
            throw QueueError("cannot sync queue directory: \(error)")
        }
        messages[id] = nil
        leases[id] = nil
    }

    public func summary() -> QueueSummary {
        QueueSummary(messages: messages.count, oldestArrival: messages.values.map(\.arrival).min())
    }

    public func nextDue() -> Double? {
        messages.values.filter { leases[$0.id] == nil }.map(\.nextAttempt).min()
    }

    /// A new queue ID: time and randomness, safe as a file name.
    public nonisolated static func makeID(now: Double) -> String {
        String(UInt64(now * 1000), radix: 36).uppercased()
            + String(UInt64.random(in: 0...UInt64.max), radix: 36).uppercased()
    }

    // MARK: Files

    private func bodyPath(_ id: String) -> String { "\(directory)/\(id).body" }
    private func envelopePath(_ id: String) -> String { "\(directory)/\(id).env" }

    private func writeEnvelope(_ message: QueuedMessage) throws(QueueError) {
        let bytes: [UInt8]
        do {
            bytes = Array(try JSONEncoder().encode(message))
        } catch {
            throw QueueError("cannot encode queue entry \(message.id): \(error)")
        }
        try write(bytes, to: envelopePath(message.id))
    }

    private func write(_ bytes: [UInt8], to path: String) throws(QueueError) {
        guard !path.contains("/../"), !path.dropFirst(directory.count + 1).contains("/") else {
            throw QueueError("bad queue ID in \(path)")
        }
        do {
            try POSIXFile.replace(path, with: bytes, mode: 0o600)
        } catch {
            throw QueueError("cannot write \(path): \(error)", isOutOfSpace: error.isOutOfSpace)
        }
    }
}
