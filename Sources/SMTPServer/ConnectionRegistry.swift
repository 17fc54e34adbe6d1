import NIOCore
import Synchronization

/// The open connections of a server: enforces the connection limits and reaches every connection at shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perClient: [String: Int] = [:]
        var draining = false
        var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let maxConnections: Int
    private let maxPerClient: Int

    init(maxConnections: Int, maxPerClient: Int) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
    }

    enum Admission { case admitted, tooMany, shuttingDown }

    func admit(_ channel: any Channel, client: String) -> Admission {
        state.withLock { state in
            if state.draining { return .shuttingDown }
            if maxConnections > 0, state.channels.count >= maxConnections { return .tooMany }
            if maxPerClient > 0, state.perClient[client, default: 0] >= maxPerClient { return .tooMany }
            state.channels[ObjectIdentifier(channel)] = channel
            state.perClient[client, default: 0] += 1
            return .admitted
        }
    }

    func remove(_ channel: any Channel, client: String) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard state.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return [] }
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
            return Array(state.channels.values)
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(event) }
    }

    func broadcast(_ event: ShutdownEvent) {
        let channels = state.withLock { Array($0.channels.values) }
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
