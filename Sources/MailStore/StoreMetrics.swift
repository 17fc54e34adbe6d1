import Metrics
import NIOCore

/// The store's metrics (swift-metrics): group-commit rounds and journal checkpoints. Made once, on first use;
/// without a bootstrapped backend they cost nothing but the call.
///
/// | name | type | what |
/// | --- | --- | --- |
/// | `swallow_store_commit_round_messages` | histogram | messages made durable together in one round |
/// | `swallow_store_commit_round_seconds` | histogram | one round: writes, syncs and renames |
/// | `swallow_journal_checkpoints_total` | counter | `result`: ok, failed |
public enum StoreMetrics {
    /// The histogram buckets for round sizes: a backend that takes buckets per metric can use these.
    public static let roundSizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    public static let roundSizeLabel = "swallow_store_commit_round_messages"

    private static let roundSize = Recorder(label: roundSizeLabel, aggregate: true)
    private static let roundTime = Metrics.Timer(label: "swallow_store_commit_round_seconds")
    private static let checkpoints = Counter(label: "swallow_journal_checkpoints_total", dimensions: [("result", "ok")])
    private static let failedCheckpoints = Counter(
        label: "swallow_journal_checkpoints_total", dimensions: [("result", "failed")])

    static func round(messages: Int, since start: NIODeadline) {
        roundTime.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
        roundSize.record(messages)
    }

    static func checkpoint(succeeded: Bool) {
        (succeeded ? checkpoints : failedCheckpoints).increment()
    }
}
