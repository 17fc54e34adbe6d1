import Synchronization

/// At most `width` holders at once; the others wait their turn in order, each for a bounded time. A waiter
/// whose task is cancelled (its connection closed) leaves the line at once.
final class ConcurrencyGate: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var holders = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// Waiters cancelled before they joined the line.
        var cancelled: Set<UInt64> = []
    }

    let width: Int
    private let state = Mutex(State())

    init(width: Int) {
        precondition(width > 0, "a gate needs room for one holder")
        self.width = width
    }

    /// Holders and waiters now, for tests and logs.
    var load: (holders: Int, waiting: Int) { state.withLock { ($0.holders, $0.waiters.count) } }

    /// Waits for a place: true once it is held (call `leave()` after), false when `timeout` passed or the task
    /// was cancelled first.
    func enter(timeout: Duration) async -> Bool {
        let id: UInt64? = state.withLock { state in
            if state.holders < width, state.waiters.isEmpty {
                state.holders += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let joined = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return false }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return true
                }
                guard joined else { return continuation.resume(returning: false) }
                Task {
                    try? await Task.sleep(for: timeout)
                    self.giveUp(id)
                }
            }
        } onCancel: {
            self.giveUp(id, cancelled: true)
        }
    }

    /// Gives the place to the first waiter, or frees it.
    func leave() {
        let next: Waiter? = state.withLock { state in
            if state.waiters.isEmpty {
                state.holders -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume(returning: true)
    }

    private func giveUp(_ id: UInt64, cancelled: Bool = false) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                if cancelled { state.cancelled.insert(id) }
                return nil
            }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
    }
}
