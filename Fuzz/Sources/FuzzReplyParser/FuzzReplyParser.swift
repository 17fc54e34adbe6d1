import FuzzSupport
import SMTPCore

/// Fuzzes `ReplyParser` with what a hostile server could send, and drives a `ClientStateMachine` with the replies:
/// - parsing never traps, and stays within its line-length and line-count limits;
/// - the same bytes give the same replies (or the same error) whether fed at once or one octet at a time;
/// - every reply is well-formed, and its wire form parses back to itself;
/// - the state machine, fed these replies through a session and a transaction, never traps and answers with a
///   result for every recipient.
@_cdecl("FuzzReplyParser_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        check(bytes(data, size))
        return 0
    }
}

private func parse(_ input: [UInt8], pieces: Int) -> (replies: [Reply], error: ReplySyntaxError?) {
    var parser = ReplyParser(maximumLineLength: 256, maximumLines: 16)
    var replies: [Reply] = []
    var index = 0
    do {
        while index < input.count {
            let end = min(input.count, index + pieces)
            parser.append(input[index..<end])
            index = end
            while let reply = try parser.next() { replies.append(reply) }
        }
    } catch {
        return (replies, error)
    }
    return (replies, nil)
}

private func check(_ input: [UInt8]) {
    let whole = parse(input, pieces: max(1, input.count))
    let bytewise = parse(input, pieces: 1)
    require(whole.replies == bytewise.replies, "chunking changed the replies")
    // An over-long line is seen earlier when fed bytewise only if unterminated; the kind of error must agree.
    require(
        (whole.error == nil) == (bytewise.error == nil),
        "chunking changed the outcome: \(whole.error as Any) vs \(bytewise.error as Any)")
    for reply in whole.replies {
        requireWellFormed(reply)
        require(reply.lines.count <= 16, "reply of \(reply.lines.count) lines")
        // What the parser read, written out again, reads back the same (control characters aside).
        if !reply.lines.contains(where: { $0.utf8.contains { $0 < 0x20 || $0 == 0x7F } }) {
            var again = ReplyParser(maximumLineLength: 4096, maximumLines: 16)
            again.append(Array(reply.wireText.utf8))
            let parsed = try? again.next()
            require(parsed?.code == reply.code, "round trip of \(reply)")
        }
    }
    drive(whole.replies)
}

private func drive(_ replies: [Reply]) {
    var machine = ClientStateMachine(heloName: "client.test", tlsPolicy: .opportunistic)
    let recipients = (0..<3).map { Recipient(path: .mailbox(Mailbox(localPart: "r\($0)", domain: "b.test"))) }
    let transaction = OutboundTransaction(
        sender: .mailbox(Mailbox(localPart: "a", domain: "a.test")), recipients: recipients, size: 10,
        hasEightBitBody: false)
    var started = false
    var action = ClientAction.read
    for reply in replies {
        action = machine.replyReceived(reply)
        loop: while true {
            switch action {
            case .startTLS: action = machine.tlsEstablished()
            case .authChallenge: action = machine.authRespond([0x61])
            case .sendBody: action = machine.bodySent()
            case .ready where !started:
                started = true
                action = machine.startTransaction(transaction)
            case .transactionFinished(let result):
                require(result.recipients.count == recipients.count, "results for \(result.recipients.count)")
                action = machine.quit()
            case .transactionAborted(let result, let reply):
                require(result.recipients.count == recipients.count, "results for \(result.recipients.count)")
                require(reply.code == 421, "aborted by \(reply)")
                return
            case .close: return
            default: break loop
            }
        }
    }
}
