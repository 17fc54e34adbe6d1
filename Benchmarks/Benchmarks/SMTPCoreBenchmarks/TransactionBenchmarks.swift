import Benchmark
import SMTPCore

/// One whole transaction through `ServerStateMachine`, driven the way the I/O layer drives it, with a backend
/// that accepts everything: EHLO, MAIL, RCPT, DATA, a 4 KB body through `DotUnstuffer`, the end marker, QUIT.
/// Message delivery itself (the sink) is not part of it.
func registerTransactionBenchmarks() {
    let configuration = SessionConfiguration(hostname: "mx.example")
    let ehlo = Array("EHLO client.example.com".utf8)
    let mail = Array("MAIL FROM:<alice@example.com> SIZE=4096 BODY=8BITMIME".utf8)
    let rcpt = Array("RCPT TO:<bob@example.org>".utf8)
    let data = Array("DATA".utf8)
    let quit = Array("QUIT".utf8)
    let body = Fixtures.body(size: 4096)
    let queued = Reply(250, .init(2, 0, 0), "OK queued as 4F2A9C")

    Benchmark(
        "ServerStateMachine, one transaction with a 4 KB body (# = transaction)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .mallocBytesCount])
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            var machine = ServerStateMachine(configuration: configuration)
            blackHole(machine.greetingReply)
            blackHole(machine.receive(line: ehlo))
            guard case .checkSender = machine.receive(line: mail) else { fatalError("MAIL") }
            blackHole(machine.senderChecked(nil))
            guard case .checkRecipient(let recipient) = machine.receive(line: rcpt) else { fatalError("RCPT") }
            blackHole(machine.recipientChecked(recipient, refusal: nil))
            guard case .openMessage(let envelope) = machine.receive(line: data) else { fatalError("DATA") }
            blackHole(envelope)
            blackHole(machine.messageOpened(refusal: nil))
            // As ranges of the input, the way the server slices its buffer rather than copying the body.
            var decoder = DotUnstuffer()
            var content = RangeCounter()
            let consumed = body.withUnsafeBytes { decoder.consume($0, into: &content) }
            precondition(consumed == body.count && decoder.isComplete)
            guard case .commit = machine.dataReceived(size: content.octets, sawBareLineEnding: false) else {
                fatalError("end of DATA")
            }
            blackHole(machine.messageCommitted(queued))
            blackHole(machine.receive(line: quit))
        }
    }
}
