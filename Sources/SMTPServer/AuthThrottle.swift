import NIOCore
import Synchronization

/// Counts failed authentications per key (a client address, an account), so that guessing passwords stops
/// working after a few tries: refused until the window has passed.
public final class AuthThrottle: Sendable {
    private struct Entry {
        var failures: Int
        var windowStart: NIODeadline
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let limit: Int
    private let window: TimeAmount

    public init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = .nanoseconds(window.timeAmount)
    }

    public func isBlocked(_ client: String, now: NIODeadline = .now()) -> Bool {
        guard limit > 0 else { return false }
        return entries.withLock { entries in
            guard let entry = entries[client] else { return false }
            if now - entry.windowStart > window {
                entries[client] = nil
                return false
            }
            return entry.failures >= limit
        }
    }

    public func recordFailure(_ client: String, now: NIODeadline = .now()) {
        entries.withLock { entries in
            if var entry = entries[client], now - entry.windowStart <= window {
                entry.failures += 1
                entries[client] = entry
            } else {
                entries[client] = Entry(failures: 1, windowStart: now)
            }
            // Bound memory under a flood from many addresses: forget the oldest windows.
            if entries.count > 100_000 {
                for (key, value) in entries where now - value.windowStart > window { entries[key] = nil }
            }
        }
    }
}
