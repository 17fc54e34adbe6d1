import Synchronization

/// Mailboxes this process has already created, so that delivering a message costs no `mkdir` calls and no trip to
/// the thread pool. Bounded: a catch-all domain can name any number of mailboxes.
final class CreatedMailboxes: Sendable {
    private let known = Mutex<Set<String>>([])
    private let limit: Int

    init(limit: Int = 10_000) {
        self.limit = limit
    }

    func contains(all mailboxes: [Maildir]) -> Bool {
        known.withLock { known in mailboxes.allSatisfy { known.contains($0.path) } }
    }

    func insert(_ mailboxes: [Maildir]) {
        known.withLock { known in
            if known.count + mailboxes.count > limit { known.removeAll(keepingCapacity: true) }
            for mailbox in mailboxes { known.insert(mailbox.path) }
        }
    }

    /// A mailbox was removed behind our back: make it again next time.
    func forget(_ mailboxes: [Maildir]) {
        known.withLock { known in for mailbox in mailboxes { known.remove(mailbox.path) } }
    }
}
