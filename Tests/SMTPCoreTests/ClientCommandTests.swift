import Testing

@testable import SMTPCore

private let alice = Mailbox(localPart: "alice", domain: "example.test")

@Test func encodesCommands() {
    #expect(ClientCommand.ehlo("client.test").wireText == "EHLO client.test\r\n")
    #expect(ClientCommand.helo("client.test").wireText == "HELO client.test\r\n")
    #expect(ClientCommand.mail(.null, parameters: []).wireText == "MAIL FROM:<>\r\n")
    #expect(
        ClientCommand.mail(.mailbox(alice), parameters: ["SIZE=10", "BODY=8BITMIME"]).wireText
            == "MAIL FROM:<alice@example.test> SIZE=10 BODY=8BITMIME\r\n")
    #expect(ClientCommand.rcpt(.mailbox(alice), parameters: []).wireText == "RCPT TO:<alice@example.test>\r\n")
    #expect(ClientCommand.rcpt(.postmaster, parameters: []).wireText == "RCPT TO:<Postmaster>\r\n")
    #expect(
        ClientCommand.auth(mechanism: "PLAIN", initialResponse: Array("\0a\0b".utf8)).wireText
            == "AUTH PLAIN AGEAYg==\r\n")
    #expect(ClientCommand.auth(mechanism: "PLAIN", initialResponse: []).wireText == "AUTH PLAIN =\r\n")
    #expect(ClientCommand.auth(mechanism: "LOGIN", initialResponse: nil).wireText == "AUTH LOGIN\r\n")
    #expect(ClientCommand.authResponse(Array("bob".utf8)).wireText == "Ym9i\r\n")
    #expect(ClientCommand.authCancel.wireText == "*\r\n")
    for command in [ClientCommand.data, .rset, .noop, .quit, .startTLS] { #expect(command.isSafe) }
}

@Test func refusesCommandInjection() {
    let evil = Mailbox(localPart: "a", domain: "b.test>\r\nRCPT TO:<victim@c.test")
    #expect(!ClientCommand.mail(.mailbox(evil), parameters: []).isSafe)
    #expect(!ClientCommand.ehlo("x\ny").isSafe)
    #expect(ClientCommand.mail(.mailbox(alice), parameters: []).isSafe)
}

@Test func parsesEHLOExtensions() {
    let reply = Reply(
        250, nil,
        lines: [
            "mx.example greets you", "PIPELINING", "SIZE 1000", "8BITMIME", "auth plain LOGIN", "STARTTLS",
            "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN", "CHUNKING", "X-ODD!", "",
        ])
    let extensions = ServerExtensions(ehloReply: reply)
    #expect(extensions.pipelining && extensions.eightBitMIME && extensions.startTLS && extensions.smtpUTF8)
    #expect(extensions.dsn && extensions.chunking && extensions.enhancedStatusCodes)
    #expect(extensions.maximumSize == 1000)
    #expect(extensions.authMechanisms == ["PLAIN", "LOGIN"])
    #expect(!extensions.offers("X-ODD!"))
    #expect(!extensions.offers("GREETS"))
    #expect(ServerExtensions(ehloReply: Reply(250, nil, lines: ["mx", "SIZE"])).maximumSize == nil)
    #expect(ServerExtensions(ehloReply: Reply(250, nil, lines: ["mx", "SIZE 0"])).maximumSize == nil)
    #expect(ServerExtensions(ehloReply: Reply(250, nil, lines: ["mx", "SIZE -5"])).maximumSize == nil)
}

@Test func stuffsDots() {
    var stuffer = DotStuffer()
    var out = stuffer.stuff(Array(".start\r\nmid.dle\r\n".utf8))
    out += stuffer.stuff(Array(".".utf8))
    out += stuffer.stuff(Array(".two\r\n.\r\n".utf8))
    out += stuffer.terminator()
    #expect(String(decoding: out, as: UTF8.self) == "..start\r\nmid.dle\r\n...two\r\n..\r\n.\r\n")

    var unterminated = DotStuffer()
    out = unterminated.stuff(Array("no end".utf8)) + unterminated.terminator()
    #expect(String(decoding: out, as: UTF8.self) == "no end\r\n.\r\n")
    #expect(DotStuffer().terminator() == Array(".\r\n".utf8))
}

/// Stuffing then unstuffing gives the body back, whatever the chunking.
@Test(arguments: [1, 2, 3, 5, 1000])
func stuffingRoundTrips(chunk: Int) {
    let body = Array(".\r\n..\r\nx\r\n.x\r\n\r\n.\r\n".utf8)
    var stuffer = DotStuffer()
    var wire: [UInt8] = []
    var index = 0
    while index < body.count {
        let end = min(body.count, index + chunk)
        wire += stuffer.stuff(body[index..<end])
        index = end
    }
    wire += stuffer.terminator()
    var unstuffer = DotUnstuffer()
    var output: [UInt8] = []
    let consumed = wire.withUnsafeBytes { unstuffer.consume($0, into: &output) }
    #expect(consumed == wire.count)
    #expect(unstuffer.isComplete)
    #expect(output == body)
}

@Test func clientSASL() {
    var plain = ClientSASL(mechanism: .plain, user: "alice@example.test", password: "pw")
    #expect(plain.initialResponse() == Array("\0alice@example.test\0pw".utf8))
    _ = plain.respond(to: [])
    var login = ClientSASL(mechanism: .login, user: "alice", password: "pw")
    #expect(login.initialResponse() == nil)
    #expect(login.respond(to: Array("Username:".utf8)) == Array("alice".utf8))
    #expect(login.respond(to: Array("Password:".utf8)) == Array("pw".utf8))
    #expect(ClientSASL.choose(offered: ["LOGIN", "PLAIN"]) == .plain)
    #expect(ClientSASL.choose(offered: ["LOGIN"]) == .login)
    #expect(ClientSASL.choose(offered: ["CRAM-MD5"]) == nil)
}
