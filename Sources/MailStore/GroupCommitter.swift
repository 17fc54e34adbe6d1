import NIOCore
import NIOPosix
import Synchronization

/// Makes many messages durable with one round of syncs, as databases do with their log ("group commit").
///
/// Messages that finish while a round is in progress wait for the next one, which takes all of them at once (see
/// `CommitRound`). With one client the cost equals the per-message path; with many, the syncs are shared. No
/// message is acknowledged before both its file and its directory entry are on disk.
public final class GroupCommitter: Sendable {
    /// The committer used by messages that do not name one.
    public static let shared = GroupCommitter()

    private struct Job {
        let message: MaildirMessage
        let continuation: CheckedContinuation<[String], any Error>
    }

    private struct Queue: ~Copyable {
        var jobs: [Job] = []
        var draining = false
        var rounds = 0
        var committed = 0
    }

    private let queue = Mutex(Queue())
    /// One thread: rounds run one after another, and a round's fsync wait is when the next round's messages gather.
    private let thread: NIOThreadPool

    /// The journal that makes small messages durable, if any (see `DeliveryJournal`).
    public let journal: DeliveryJournal?
    /// How each file system's files and directories are made durable.
    public let strategies: SyncStrategies

    public init(journal: DeliveryJournal? = nil, strategies: SyncStrategies = .shared) {
        self.journal = journal
        self.strategies = strategies
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    deinit {
        // `shared` lives as long as the process; any other committer takes its thread down with it (a round in
        // progress holds the committer, so none is running now). Without this each one leaked a thread.
        thread.shutdownGracefully { _ in }
    }

    /// Rounds run and messages committed so far: their ratio is the mean batch size.
    public var statistics: (rounds: Int, messages: Int) {
        queue.withLock { ($0.rounds, $0.committed) }
    }

    func commit(_ message: MaildirMessage) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            let start = queue.withLock { queue in
                queue.jobs.append(Job(message: message, continuation: continuation))
                defer { queue.draining = true }
                return !queue.draining
            }
            if start { thread.submit { _ in self.drain() } }
        }
    }

    private func drain() {
        while true {
            let batch = queue.withLock { queue in
                let batch = queue.jobs
                queue.jobs.removeAll(keepingCapacity: true)
                if batch.isEmpty { queue.draining = false } else { queue.rounds += 1 }
                return batch
            }
            if batch.isEmpty { return }
            let started = NIODeadline.now()
            var round = CommitRound(batch.map(\.message), journal: journal, strategies: strategies)
            let results = round.run()
            StoreMetrics.round(messages: batch.count, since: started)
            // Counted before anyone is resumed, so that a caller reading `statistics` after its commit sees it.
            let committed = results.count { if case .success = $0 { true } else { false } }
            queue.withLock { $0.committed += committed }
            for (job, result) in zip(batch, results) {
                job.continuation.resume(with: result.mapError { $0 as any Error })
            }
        }
    }
}
