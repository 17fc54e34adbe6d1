import NIOCore
import Synchronization

/// What the registry knows of a connection between events: whether it has said HELO or EHLO, and when it last
/// did anything. Written by the connection's handler without locks, read when the server is full.
final class ConnectionStatus: Sendable {
    private let greetedFlag = Atomic<Bool>(false)
    private let lastActivityNanoseconds = Atomic<UInt64>(0)
    private let evictedFlag = Atomic<Bool>(false)

    init(now: NIODeadline) { touch(now) }

    var greeted: Bool { greetedFlag.load(ordering: .relaxed) }
    func markGreeted() { greetedFlag.store(true, ordering: .relaxed) }

    var lastActivity: UInt64 { lastActivityNanoseconds.load(ordering: .relaxed) }
    func touch(_ now: NIODeadline) { lastActivityNanoseconds.store(now.uptimeNanoseconds, ordering: .relaxed) }

    var isEvicted: Bool { evictedFlag.load(ordering: .relaxed) }
    /// Marks the connection as chosen to make room; false when it already was.
    func evict() -> Bool { !evictedFlag.exchange(true, ordering: .relaxed) }
}

/// The open connections of a server: enforces the connection limits, makes room when full, and reaches every
/// connection at shutdown.
///
/// When every place is taken, a newcomer is not refused while some connection has not said HELO or EHLO: the one
/// of those idle longest is closed instead (421 4.7.0), as a server under a flood of silent connections must shed
/// the ones that do no work. Past `pressureThreshold` open connections the server is under pressure, and idle
/// clients that have not authenticated get shorter timeouts (`ConnectionTimeouts.underPressure`).
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        let status: ConnectionStatus
    }

    private struct State {
        var channels: [ObjectIdentifier: Entry] = [:]
        var perClient: [String: Int] = [:]
        var draining = false
        var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let maxConnections: Int
    private let maxPerClient: Int
    let pressureThreshold: Int
    /// The number of open connections, readable without the lock on every command.
    private let open = Atomic<Int>(0)

    init(maxConnections: Int, maxPerClient: Int) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
        pressureThreshold = maxConnections > 0 ? max(maxConnections * 3 / 4, 1) : .max
    }

    enum Admission {
        case admitted(ConnectionStatus)
        case tooMany
        case shuttingDown
    }

    /// Most places are taken: idle clients get less time.
    var isUnderPressure: Bool { open.load(ordering: .relaxed) >= pressureThreshold }

    func admit(_ channel: any Channel, client: String) -> Admission {
        let (admission, victim): (Admission, (any Channel)?) = state.withLock { state in
            if state.draining { return (.shuttingDown, nil) }
            if maxPerClient > 0, state.perClient[client, default: 0] >= maxPerClient { return (.tooMany, nil) }
            var victim: (any Channel)?
            if maxConnections > 0, state.channels.count >= maxConnections {
                guard let chosen = Self.longestIdleUngreeted(state.channels.values) else { return (.tooMany, nil) }
                victim = chosen
            }
            let status = ConnectionStatus(now: .now())
            state.channels[ObjectIdentifier(channel)] = Entry(channel: channel, status: status)
            state.perClient[client, default: 0] += 1
            open.store(state.channels.count, ordering: .relaxed)
            return (.admitted(status), victim)
        }
        victim?.pipeline.fireUserInboundEventTriggered(EvictionEvent())
        return admission
    }

    /// The connection to close to make room: the one idle longest among those that have not said HELO or EHLO
    /// and are not already on their way out. A scan, but only when the server is full.
    private static func longestIdleUngreeted(_ entries: some Sequence<Entry>) -> (any Channel)? {
        var best: Entry?
        for entry in entries where !entry.status.greeted && !entry.status.isEvicted {
            if best == nil || entry.status.lastActivity < best!.status.lastActivity { best = entry }
        }
        guard let best, best.status.evict() else { return nil }
        return best.channel
    }

    func remove(_ channel: any Channel, client: String) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard state.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return [] }
            open.store(state.channels.count, ordering: .relaxed)
            state.perClient[client, default: 1] -= 1
            if state.perClient[client] == 0 { state.perClient[client] = nil }
            guard state.channels.isEmpty else { return [] }
            defer { state.emptyWaiters = [] }
            return state.emptyWaiters
        }
        waiters.forEach { $0.resume() }
    }

    var count: Int { state.withLock { $0.channels.count } }

    /// Stops admitting connections and sends `event` to every open one.
    func beginDraining(_ event: ShutdownEvent) {
        let channels = state.withLock { state in
            state.draining = true
            return state.channels.values.map(\.channel)
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(event) }
    }

    func broadcast(_ event: ShutdownEvent) {
        let channels = state.withLock { $0.channels.values.map(\.channel) }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(event) }
    }

    /// Returns once no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.channels.isEmpty { return true }
                state.emptyWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

/// Sent to every connection handler when the server shuts down.
enum ShutdownEvent: Sendable {
    /// Finish the transaction in flight, then say 421 and close; idle sessions close at once.
    case drain
    /// The grace period is over: 421 and close now.
    case now
}

/// Sent to a connection the server closes to make room for a newcomer.
struct EvictionEvent: Sendable {}
