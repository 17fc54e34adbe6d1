import SMTPClient

/// Sessions kept open after a transaction so that the next message to the same host and port reuses them
/// (as Postfix's connection cache): no new TCP, TLS and AUTH per message. A session idle longer than
/// `idleTime` is closed with QUIT; at most `perDestination` sessions per destination are kept.
actor ConnectionCache {
    let idleTime: Duration
    let perDestination: Int
    private var idle: [String: [(connection: SMTPClientConnection, since: ContinuousClock.Instant)]] = [:]
    private let clock = ContinuousClock()

    init(idleTime: Duration, perDestination: Int = 4) {
        self.idleTime = idleTime
        self.perDestination = perDestination
    }

    /// A kept session for `destination` (`address:port`), if one is still fresh; the caller owns it now.
    func take(_ destination: String) -> SMTPClientConnection? {
        let now = clock.now
        while var list = idle[destination], let last = list.popLast() {
            idle[destination] = list.isEmpty ? nil : list
            if now - last.since < idleTime { return last.connection }
            Task { await last.connection.quit() }
        }
        return nil
    }

    /// Keeps `connection` for the next message to `destination`, or closes it when enough are kept.
    func give(_ connection: SMTPClientConnection, for destination: String) async {
        guard idleTime > .zero, (idle[destination]?.count ?? 0) < perDestination, await connection.isUsable else {
            await connection.quit()
            return
        }
        idle[destination, default: []].append((connection, clock.now))
    }

    /// Closes the sessions idle too long.
    func sweep() async {
        let now = clock.now
        var stale: [SMTPClientConnection] = []
        for (destination, list) in idle {
            let (fresh, old) = (list.filter { now - $0.since < idleTime }, list.filter { now - $0.since >= idleTime })
            idle[destination] = fresh.isEmpty ? nil : fresh
            stale += old.map(\.connection)
        }
        for connection in stale { await connection.quit() }
    }

    /// Closes every kept session (at shutdown).
    func closeAll() async {
        let all = idle.values.flatMap { $0.map(\.connection) }
        idle = [:]
        for connection in all { await connection.quit() }
    }
}
