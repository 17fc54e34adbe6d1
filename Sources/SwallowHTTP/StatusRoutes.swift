import Hummingbird

/// `GET /status`: what `swallow status` prints. One `name: value` line per fact the daemon gives (version,
/// uptime, listeners, store, journal), then the readiness checks as `/readyz` runs them. Always 200: the status is
/// in the text, so that a person sees every line even when something is wrong.
public struct StatusRoutes: HTTPRoutes {
    public let facts: @Sendable () async -> [(name: String, value: String)]
    public let checks: [ReadinessCheck]

    public init(
        facts: @escaping @Sendable () async -> [(name: String, value: String)], checks: [ReadinessCheck] = []
    ) {
        self.facts = facts
        self.checks = checks
    }

    public func register(on router: Router<BasicRequestContext>) {
        let facts = self.facts
        let checks = self.checks
        router.get("/status") { _, _ -> Response in
            var lines = await facts().map { "\($0.name): \($0.value)" }
            for check in checks {
                lines.append("ready.\(check.name): \(await check.problem() ?? "ok")")
            }
            return .text(lines.joined(separator: "\n") + "\n")
        }
    }
}
