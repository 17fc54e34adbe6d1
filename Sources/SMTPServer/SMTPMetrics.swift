import Metrics
import NIOCore
import NIOSSL
import SMTPCore

/// The server's metrics (swift-metrics), in one place so that the connection handler records each with one call.
///
/// Nothing is exported here: the process bootstraps a metrics backend (the `swallow` daemon exports Prometheus text
/// on its HTTP service's `/metrics`); without one every call goes to swift-metrics' no-op handler. The metric
/// objects touched per connection or per read are made once, on first use (after the bootstrap), since making
/// one costs a lock and a dictionary lookup in the backend; an increment is then one atomic add.
///
/// | name | type | labels |
/// | --- | --- | --- |
/// | `swallow_smtp_connections_total` | counter | `listener` |
/// | `swallow_smtp_connections_open` | gauge | `listener` |
/// | `swallow_smtp_received_bytes_total` | counter | |
/// | `swallow_smtp_commands_total` | counter | `verb` (`MAIL`, …, `unknown`) |
/// | `swallow_smtp_replies_total` | counter | `class` (`2xx`, `3xx`, `4xx`, `5xx`) |
/// | `swallow_smtp_messages_total` | counter | `result` (accepted, refused) |
/// | `swallow_smtp_refusals_total` | counter | `code`, `enhanced` (of the refusing reply) |
/// | `swallow_smtp_commit_seconds` | histogram | end of data to the final reply |
/// | `swallow_smtp_hangups_total` | counter | `reason` |
/// | `swallow_smtp_tls_handshakes_total` | counter | `result` (ok, failed) |
/// | `swallow_smtp_auth_total` | counter | `result` (success, failure, throttled) |
public enum SMTPMetrics {
    /// Per listener kind, so that an operator sees port 25 apart from submission.
    private struct PerListener: Sendable {
        let total: Counter
        let open: Meter

        init(_ kind: ListenerKind) {
            total = Counter(label: "swallow_smtp_connections_total", dimensions: [("listener", kind.rawValue)])
            open = Meter(label: "swallow_smtp_connections_open", dimensions: [("listener", kind.rawValue)])
        }
    }

    private static let smtp = PerListener(.smtp)
    private static let submission = PerListener(.submission)
    private static let submissions = PerListener(.submissions)

    private static func listener(_ kind: ListenerKind) -> PerListener {
        switch kind {
        case .smtp: smtp
        case .submission: submission
        case .submissions: submissions
        }
    }

    private static let receivedBytes = Counter(label: "swallow_smtp_received_bytes_total")
    private static let accepted = Counter(label: "swallow_smtp_messages_total", dimensions: [("result", "accepted")])
    private static let refused = Counter(label: "swallow_smtp_messages_total", dimensions: [("result", "refused")])
    private static let commitTime = Metrics.Timer(label: "swallow_smtp_commit_seconds")
    private static let tlsOK = Counter(label: "swallow_smtp_tls_handshakes_total", dimensions: [("result", "ok")])
    private static let tlsFailed = Counter(
        label: "swallow_smtp_tls_handshakes_total", dimensions: [("result", "failed")])

    private static let commands: [Verb: Counter] = Dictionary(
        uniqueKeysWithValues: Verb.allCases.map { verb in
            (verb, Counter(label: "swallow_smtp_commands_total", dimensions: [("verb", verb.rawValue)]))
        })
    private static let unknownCommands = Counter(
        label: "swallow_smtp_commands_total", dimensions: [("verb", "unknown")])
    private static let replyClasses: [Counter] = (2...5).map { first in
        Counter(label: "swallow_smtp_replies_total", dimensions: [("class", "\(first)xx")])
    }

    /// A command line arrived, counted by verb (nil: not a known verb).
    public static func command(_ verb: Verb?) {
        if let verb, let counter = commands[verb] {
            counter.increment()
        } else {
            unknownCommands.increment()
        }
    }

    /// A reply went to the client, counted by class (2xx, 3xx, 4xx, 5xx).
    public static func replied(_ reply: Reply) {
        let index = reply.code / 100 - 2
        if replyClasses.indices.contains(index) { replyClasses[index].increment() }
    }

    /// A connection was accepted on a listener of this kind (before the connection limits are applied).
    public static func connectionOpened(_ kind: ListenerKind) {
        let metrics = listener(kind)
        metrics.total.increment()
        metrics.open.increment()
    }

    /// The connection that `connectionOpened` counted is gone.
    public static func connectionClosed(_ kind: ListenerKind) {
        listener(kind).open.decrement()
    }

    /// Octets read from a client, commands and bodies alike (after TLS decryption: the handler sees plaintext).
    public static func received(bytes: Int) {
        receivedBytes.increment(by: bytes)
    }

    /// A mail transaction ended with this final reply (250 accepted; anything else refused, counted by reply).
    public static func transaction(_ reply: Reply) {
        if reply.isPositive {
            accepted.increment()
        } else {
            refused.increment()
            // Rare, and the codes are the server's own: a counter per reply is made when needed.
            Counter(
                label: "swallow_smtp_refusals_total",
                dimensions: [("code", "\(reply.code)"), ("enhanced", reply.enhancedCode?.description ?? "")]
            ).increment()
        }
    }

    /// The time from the end of a message's data to its final reply, `start` taken at the end of data.
    public static func committed(since start: NIODeadline) {
        commitTime.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    /// The server ended a connection for this reason (a limit, a broken rule).
    public static func hangUp(_ reason: HangUpReason) {
        Counter(label: "swallow_smtp_hangups_total", dimensions: [("reason", reason.rawValue)]).increment()
    }

    /// A TLS handshake (implicit TLS or STARTTLS) completed.
    public static func tlsHandshakeCompleted() {
        tlsOK.increment()
    }

    /// A connection ended on an error; counted as a failed TLS handshake when TLS was being negotiated, that is
    /// when the error came from TLS before a handshake completed.
    public static func connectionError(_ error: any Error, tlsEstablished: Bool) {
        guard !tlsEstablished, error is NIOSSLError || error is BoringSSLError else { return }
        tlsFailed.increment()
    }

    /// What became of an AUTH command.
    public enum AuthResult: String, Sendable {
        /// 235: authenticated.
        case success
        /// Wrong credentials or a malformed exchange (535, 501).
        case failure
        /// Refused before any check: too many failures from the client's address (454).
        case throttled
    }

    private static let authCounters: [AuthResult: Counter] = [
        .success: Counter(label: "swallow_smtp_auth_total", dimensions: [("result", "success")]),
        .failure: Counter(label: "swallow_smtp_auth_total", dimensions: [("result", "failure")]),
        .throttled: Counter(label: "swallow_smtp_auth_total", dimensions: [("result", "throttled")]),
    ]

    public static func auth(_ result: AuthResult) {
        authCounters[result]?.increment()
    }
}
