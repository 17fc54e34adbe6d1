import NIOCore
import NIOPosix
import SMTPCore
import Synchronization
import Testing

@testable import SMTPServer

/// A SASL exchange that takes `duration` of wall time per step (as a hash does) and records where it ran.
private final class SlowExchange: SASLExchange, SMTPAuthenticator {
    let mechanisms = ["PLAIN"]
    let duration: Duration
    let onEventLoop = Mutex<[Bool]>([])

    init(duration: Duration) { self.duration = duration }

    func makeExchange(mechanism: String, connection: ConnectionInfo) -> any SASLExchange { self }

    func step(_ response: [UInt8]?) async -> AuthStep {
        onEventLoop.withLock { $0.append(MultiThreadedEventLoopGroup.currentEventLoop != nil) }
        // Blocks its thread, as PBKDF2 does: on an event loop this would stall every session there.
        usleep(UInt32(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000))
        return .success("alice@example.test")
    }
}

private final class Order: Sendable {
    private let values = Mutex<[Int]>([])
    func append(_ value: Int) { values.withLock { $0.append(value) } }
    var all: [Int] { values.withLock { $0 } }
}

@Suite struct AuthWorkPoolTests {
    @Test func aGateAdmitsItsWidthAndQueuesTheRestInOrder() async {
        let gate = ConcurrencyGate(width: 2)
        #expect(await gate.enter(timeout: .seconds(5)))
        #expect(await gate.enter(timeout: .seconds(5)))
        #expect(gate.load == (2, 0))
        let order = Order()
        let first = Task {
            let entered = await gate.enter(timeout: .seconds(5))
            order.append(1)
            return entered
        }
        while gate.load.waiting < 1 { await Task.yield() }
        let second = Task {
            let entered = await gate.enter(timeout: .seconds(5))
            order.append(2)
            return entered
        }
        while gate.load.waiting < 2 { await Task.yield() }
        gate.leave()
        #expect(await first.value)
        gate.leave()
        #expect(await second.value)
        #expect(order.all == [1, 2])
        #expect(gate.load == (2, 0))
    }

    @Test func aWaiterGivesUpAfterItsTimeout() async {
        let gate = ConcurrencyGate(width: 1)
        #expect(await gate.enter(timeout: .seconds(5)))
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await !gate.enter(timeout: .milliseconds(100)))
        #expect(clock.now - started >= .milliseconds(100))
        #expect(gate.load == (1, 0))
        gate.leave()
        #expect(gate.load == (0, 0))
    }

    @Test func aCancelledWaiterLeavesTheLineAtOnce() async {
        let gate = ConcurrencyGate(width: 1)
        #expect(await gate.enter(timeout: .seconds(5)))
        let waiter = Task { await gate.enter(timeout: .seconds(60)) }
        while gate.load.waiting < 1 { await Task.yield() }
        waiter.cancel()
        #expect(await !waiter.value)
        #expect(gate.load == (1, 0))
        gate.leave()
        #expect(gate.load == (0, 0))
    }

    @Test func saslStepsRunOffTheEventLoops() async throws {
        let exchange = SlowExchange(duration: .milliseconds(20))
        try await withServer({
            $0.authenticator = exchange
            $0.authWithoutTLSOnLoopback = true
        }) { port, _ in
            let client = try await TestClient(port: port)
            _ = try await client.reply()
            #expect(try await client.command("EHLO c").code == 250)
            #expect(try await client.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==").code == 235)
        }
        #expect(exchange.onEventLoop.withLock { $0 } == [false])
    }

    @Test func aStepThatWaitsTooLongForItsTurnIs454() async throws {
        let exchange = SlowExchange(duration: .milliseconds(1500))
        try await withServer({
            $0.authenticator = exchange
            $0.authWithoutTLSOnLoopback = true
            $0.authConcurrency = 1
            $0.authQueueTimeout = .milliseconds(200)
        }) { port, _ in
            let first = try await TestClient(port: port)
            let second = try await TestClient(port: port)
            for client in [first, second] {
                _ = try await client.reply()
                #expect(try await client.command("EHLO c").code == 250)
            }
            try await first.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
            while exchange.onEventLoop.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
            let refused = try await second.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
            #expect(refused.code == 454)
            #expect(refused.text.hasPrefix("4.7.0"))
            #expect(try await first.reply().code == 235)
        }
    }
}
