import Metrics

/// What the delivery worker counts, for `/metrics`: every recipient's outcome of an attempt, and the queue's size
/// and the age of its oldest message after each round.
enum DeliveryMetrics {
    private static let outcomes: [String: Counter] = Dictionary(
        uniqueKeysWithValues: ["sent", "deferred", "bounced", "expired"].map {
            ($0, Counter(label: "swallow_delivery_attempts_total", dimensions: [("result", $0)]))
        })
    private static let queued = Gauge(label: "swallow_queue_messages")
    private static let oldest = Gauge(label: "swallow_queue_oldest_message_age_seconds")

    /// One recipient's attempt ended so: sent, deferred, bounced (refused for good) or expired.
    static func attempt(_ status: String) {
        outcomes[status]?.increment()
    }

    static func queue(messages: Int, oldestAge: Double) {
        queued.record(messages)
        oldest.record(oldestAge)
    }
}
