import Hummingbird

/// One condition `/readyz` checks: it returns nil when all is well, or what is wrong.
public struct ReadinessCheck: Sendable {
    public let name: String
    public let problem: @Sendable () async -> String?

    public init(name: String, problem: @escaping @Sendable () async -> String?) {
        self.name = name
        self.problem = problem
    }
}

/// `GET /healthz`: 200 while the process serves HTTP at all (alive). `GET /readyz`: 200 when every readiness
/// check passes, else 503; the body has one line per check (`name: ok` or `name: problem`), for a person or a
/// load balancer's log.
public struct HealthRoutes: HTTPRoutes {
    public let checks: [ReadinessCheck]

    public init(checks: [ReadinessCheck]) {
        self.checks = checks
    }

    public func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ -> Response in .text("ok\n") }
        let checks = self.checks
        router.get("/readyz") { _, _ -> Response in
            var lines: [String] = []
            var ready = true
            for check in checks {
                if let problem = await check.problem() {
                    ready = false
                    lines.append("\(check.name): \(problem)")
                } else {
                    lines.append("\(check.name): ok")
                }
            }
            return .text(lines.joined(separator: "\n") + "\n", status: ready ? .ok : .serviceUnavailable)
        }
    }
}
