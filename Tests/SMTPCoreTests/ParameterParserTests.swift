import Testing

@testable import SMTPCore

/// MAIL FROM parameters that parse, with their meaning.
private let validMailParameters: [(parameters: String, expected: MailParameters)] = [
    ("", MailParameters()),
    ("SIZE=0", MailParameters(size: 0)),
    ("SIZE=1000", MailParameters(size: 1000)),
    ("size=1000", MailParameters(size: 1000)),
    ("Size=00042", MailParameters(size: 42)),
    ("SIZE=26214400", MailParameters(size: 26_214_400)),
    ("SIZE=9223372036854775807", MailParameters(size: Int.max)),
    // 20 digits do not fit an Int: the size saturates, so that the limit check refuses it.
    ("SIZE=99999999999999999999", MailParameters(size: Int.max)),
    ("BODY=7BIT", MailParameters(body: .sevenBit)),
    ("BODY=8BITMIME", MailParameters(body: .eightBitMIME)),
    ("body=8bitmime", MailParameters(body: .eightBitMIME)),
    ("BODY=BINARYMIME", MailParameters(body: .binaryMIME)),
    ("BODY=BinaryMime", MailParameters(body: .binaryMIME)),
    ("SMTPUTF8", MailParameters(smtpUTF8: true)),
    ("smtputf8", MailParameters(smtpUTF8: true)),
    ("RET=FULL", MailParameters(dsnReturn: .full)),
    ("RET=HDRS", MailParameters(dsnReturn: .headers)),
    ("ret=hdrs", MailParameters(dsnReturn: .headers)),
    ("ENVID=QQ314159", MailParameters(envelopeID: "QQ314159")),
    ("envid=QQ314159", MailParameters(envelopeID: "QQ314159")),
    ("ENVID=a+2Bb", MailParameters(envelopeID: "a+b")),
    ("ENVID=a+3Db", MailParameters(envelopeID: "a=b")),
    ("ENVID=+41+42+43", MailParameters(envelopeID: "ABC")),
    ("ENVID=a+20b", MailParameters(envelopeID: "a b")),
    ("ENVID=+C3+A9t+C3+A9", MailParameters(envelopeID: "\u{E9}t\u{E9}")),
    ("ENVID=\u{E9}t\u{E9}", MailParameters(envelopeID: "\u{E9}t\u{E9}")),
    ("ENVID=<1234@client.example>", MailParameters(envelopeID: "<1234@client.example>")),
    ("ENVID=" + String(repeating: "x", count: 100), MailParameters(envelopeID: String(repeating: "x", count: 100))),
    (
        "SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1",
        MailParameters(size: 100, body: .eightBitMIME, smtpUTF8: true, dsnReturn: .headers, envelopeID: "id1")
    ),
    (
        "ENVID=id1  RET=FULL   SMTPUTF8 BODY=BINARYMIME SIZE=5",
        MailParameters(size: 5, body: .binaryMIME, smtpUTF8: true, dsnReturn: .full, envelopeID: "id1")
    ),
]

/// MAIL FROM parameters with a bad keyword or value: 501 5.5.4.
private let malformedMailParameters: [String] = [
    "SIZE",
    "SIZE=",
    "SIZE=-1",
    "SIZE=+1",
    "SIZE=1k",
    "SIZE=1.5",
    "SIZE=0x10",
    "SIZE=123456789012345678901",
    "SIZE==1",
    "SIZE=1=2",
    "BODY",
    "BODY=",
    "BODY=9BIT",
    "BODY=8BIT",
    "BODY=8BITMIMEX",
    "BODY=8b\u{131}tm\u{131}me",  // dotless ı, which Unicode uppercases to I
    "BODY=7b\u{131}t",
    "SMTPUTF8=yes",
    "SMTPUTF8=",
    "RET",
    "RET=",
    "RET=ALL",
    "RET=HEADERS",
    "RET=fu\u{FB02}",  // ﬂ, which Unicode uppercases to FL
    "ENVID",
    "ENVID=",
    "ENVID=a+2",
    "ENVID=a+",
    "ENVID=a+2b",
    "ENVID=a+ZZ",
    "ENVID=a+G0",
    "ENVID=+FF",
    "ENVID=+C3",
    "ENVID=" + String(repeating: "x", count: 101),
    "ENVID=a+0D+0AX-Injected:+20yes",
    "ENVID=a+00b",
    "ENVID=a+7Fb",
    "ENVID=a+09b",
    "-SIZE=1",
    "=1",
    "SI_ZE=1",
    "SIZE:1",
    "\u{DC}BER=1",
    "FOO=a=b",
    "FOO=",
]

/// RCPT TO parameters that parse, with their meaning.
private let validRcptParameters: [(parameters: String, expected: RcptParameters)] = [
    ("", RcptParameters()),
    ("NOTIFY=NEVER", RcptParameters(notify: DSNNotify(never: true))),
    ("notify=never", RcptParameters(notify: DSNNotify(never: true))),
    ("NOTIFY=SUCCESS", RcptParameters(notify: DSNNotify(success: true))),
    ("NOTIFY=FAILURE", RcptParameters(notify: DSNNotify(failure: true))),
    ("NOTIFY=DELAY", RcptParameters(notify: DSNNotify(delay: true))),
    ("NOTIFY=SUCCESS,FAILURE", RcptParameters(notify: DSNNotify(success: true, failure: true))),
    ("NOTIFY=delay,Success", RcptParameters(notify: DSNNotify(success: true, delay: true))),
    (
        "NOTIFY=SUCCESS,FAILURE,DELAY",
        RcptParameters(notify: DSNNotify(success: true, failure: true, delay: true))
    ),
    ("NOTIFY=FAILURE,FAILURE", RcptParameters(notify: DSNNotify(failure: true))),
    (
        "ORCPT=rfc822;bob@example.org",
        RcptParameters(originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob@example.org"))
    ),
    (
        "orcpt=RFC822;bob@example.org",
        RcptParameters(originalRecipient: OriginalRecipient(addressType: "RFC822", address: "bob@example.org"))
    ),
    (
        "ORCPT=rfc822;bob+2Btag@example.org",
        RcptParameters(originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob+tag@example.org"))
    ),
    (
        "ORCPT=utf-8;b+C3+B6b@example.org",
        RcptParameters(originalRecipient: OriginalRecipient(addressType: "utf-8", address: "b\u{F6}b@example.org"))
    ),
    (
        "ORCPT=rfc822;a;b@example.org",
        RcptParameters(originalRecipient: OriginalRecipient(addressType: "rfc822", address: "a;b@example.org"))
    ),
    (
        "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org",
        RcptParameters(
            notify: DSNNotify(success: true, failure: true),
            originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob@example.org"))
    ),
    (
        "ORCPT=rfc822;bob@example.org   NOTIFY=NEVER",
        RcptParameters(
            notify: DSNNotify(never: true),
            originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob@example.org"))
    ),
]

/// RCPT TO parameters with a bad keyword or value: 501 5.5.4.
private let malformedRcptParameters: [String] = [
    "NOTIFY",
    "NOTIFY=",
    "NOTIFY=ALWAYS",
    "NOTIFY=NEVER,SUCCESS",
    "NOTIFY=FAILURE,NEVER",
    "NOTIFY=NEVER,NEVER",
    "NOTIFY=SUCCESS,",
    "NOTIFY=,SUCCESS",
    "NOTIFY=SUCCESS,,FAILURE",
    "NOTIFY=SUCCESS;FAILURE",
    "NOTIFY=\u{17F}uccess",  // ſ, which Unicode uppercases to S
    "NOTIFY=fa\u{131}lure",
    "ORCPT",
    "ORCPT=",
    "ORCPT=rfc822",
    "ORCPT=;bob@example.org",
    "ORCPT=rfc822;",
    "ORCPT=rfc_822;bob@example.org",
    "ORCPT=rfc822;bob+zz@example.org",
    "ORCPT=rfc822;bob+2",
    "ORCPT=rfc822;+FF",
    "ORCPT=rfc822;bob@example.org+0D+0ABcc:+20eve@example.net",
    "ORCPT=rfc822;bob+00@example.org",
    "-NOTIFY=NEVER",
    "NOTIFY=NEVER=1",
]

@Suite("ParameterParser, through CommandParser")
struct ParameterParserTests {
    @Test("MAIL parameters", arguments: validMailParameters)
    func mail(parameters: String, expected: MailParameters) {
        #expect(mailParameters(parameters) == expected)
    }

    @Test("malformed MAIL parameters are 501 5.5.4", arguments: malformedMailParameters)
    func malformedMail(parameters: String) {
        #expect(refusal("MAIL FROM:<a@example.com> \(parameters)")?.codes == "501 5.5.4")
    }

    @Test("RCPT parameters", arguments: validRcptParameters)
    func rcpt(parameters: String, expected: RcptParameters) {
        #expect(rcptParameters(parameters) == expected)
    }

    @Test("malformed RCPT parameters are 501 5.5.4", arguments: malformedRcptParameters)
    func malformedRcpt(parameters: String) {
        #expect(refusal("RCPT TO:<b@example.com> \(parameters)")?.codes == "501 5.5.4")
    }

    @Test(
        "unknown MAIL parameters are 555 5.5.4",
        arguments: [
            "FOO", "FOO=bar", "X-FOO=1", "NOTIFY=NEVER",
            "ORCPT=rfc822;bob@example.org", "MT-PRIORITY=3", "REQUIRETLS", "HOLDFOR=10", "BY=120;R", "FOO=\u{FC}",
            "SIZE=1 XYZ", "SMTPUTF8 BODY=8BITMIME TRANSID=1",
        ])
    func unknownMail(parameters: String) {
        let reply = refusal("MAIL FROM:<a@example.com> \(parameters)")
        #expect(reply == ParameterParser.unknownParameter)
        #expect(reply?.codes == "555 5.5.4")
    }

    @Test(
        "unknown RCPT parameters are 555 5.5.4",
        arguments: ["FOO", "SIZE=10", "BODY=8BITMIME", "SMTPUTF8", "RET=FULL", "ENVID=x", "RRVS=2030-01-01T00:00:00Z"])
    func unknownRcpt(parameters: String) {
        #expect(refusal("RCPT TO:<b@example.com> \(parameters)")?.codes == "555 5.5.4")
    }

    @Test(
        "a parameter may appear only once, in any case",
        arguments: [
            ("MAIL FROM:<a@example.com> SIZE=1 SIZE=2", "SIZE"),
            ("MAIL FROM:<a@example.com> SIZE=1 size=1", "SIZE"),
            ("MAIL FROM:<a@example.com> SMTPUTF8 BODY=7BIT SmtpUtf8", "SMTPUTF8"),
            ("MAIL FROM:<a@example.com> BODY=7BIT BODY=8BITMIME", "BODY"),
            ("MAIL FROM:<a@example.com> RET=FULL RET=HDRS", "RET"),
            ("MAIL FROM:<a@example.com> ENVID=a ENVID=b", "ENVID"),
            ("MAIL FROM:<a@example.com> FOO FOO", "FOO"),
            ("RCPT TO:<b@example.com> NOTIFY=NEVER NOTIFY=NEVER", "NOTIFY"),
            ("RCPT TO:<b@example.com> ORCPT=rfc822;a@b ORCPT=rfc822;c@d", "ORCPT"),
        ])
    func duplicate(line: String, keyword: String) {
        #expect(refusal(line) == Reply(501, .init(5, 5, 4), "Duplicate parameter \(keyword)"))
    }

    @Test("the path and the parameters must be separated by a space")
    func missingSpace() {
        #expect(
            refusal("MAIL FROM:<a@example.com>SIZE=1")
                == Reply(501, .init(5, 5, 4), "Expected a space after the address"))
        #expect(refusal("RCPT TO:<b@example.com>NOTIFY=NEVER")?.codes == "501 5.5.4")
        #expect(refusal("MAIL FROM:<>SIZE=1")?.codes == "501 5.5.4")
    }

    @Test(
        "parameter values that are not UTF-8 are 501 5.5.4",
        arguments: [[0xFF], [0xC3], [0xED, 0xA0, 0x80]] as [[UInt8]])
    func valueNotUTF8(sequence: [UInt8]) {
        #expect(refusal(Array("MAIL FROM:<a@example.com> ENVID=a".utf8) + sequence)?.codes == "501 5.5.4")
        #expect(refusal(Array("RCPT TO:<b@example.com> ORCPT=rfc822;".utf8) + sequence)?.codes == "501 5.5.4")
    }

    @Test("a keyword is judged before its value; the first problem in the line wins")
    func order() {
        #expect(refusal("MAIL FROM:<a@example.com> FOO=1 SIZE=x")?.codes == "555 5.5.4")
        #expect(refusal("MAIL FROM:<a@example.com> SIZE=x FOO=1")?.codes == "501 5.5.4")
    }

    @Test("the unknown-parameter reply is 555 5.5.4")
    func unknownParameterReply() {
        #expect(ParameterParser.unknownParameter.codes == "555 5.5.4")
    }
}

@Suite("ParameterParser, directly")
struct ParameterParserDirectTests {
    @Test("split returns uppercased keywords and raw values in order")
    func split() throws {
        var scanner = ByteScanner(Array(" size=10  Body=8bitmime smtputf8".utf8))
        let list = try ParameterParser.split(&scanner)
        #expect(list.map(\.keyword) == ["SIZE", "BODY", "SMTPUTF8"])
        #expect(list.map(\.value) == ["10", "8bitmime", nil])
    }

    @Test("split of nothing is no parameters")
    func splitNothing() throws {
        var empty = ByteScanner([])
        #expect(try ParameterParser.split(&empty).isEmpty)
        var spaces = ByteScanner(Array("   ".utf8))
        #expect(try ParameterParser.split(&spaces).isEmpty)
    }
}

/// Strings and their xtext (RFC 3461 §4).
private let xtextPairs: [(text: String, xtext: String)] = [
    ("", ""),
    ("abc", "abc"),
    ("a+b", "a+2Bb"),
    ("a=b", "a+3Db"),
    ("a b", "a+20b"),
    ("<id@client.example>", "<id@client.example>"),
    ("\u{E9}", "+C3+A9"),
    ("\u{1}", "+01"),
    ("\r\n", "+0D+0A"),
    ("~!", "~!"),
]

@Suite("XText")
struct XTextTests {
    @Test("encode", arguments: xtextPairs)
    func encode(text: String, xtext: String) {
        #expect(XText.encode(text) == xtext)
    }

    @Test("decode", arguments: xtextPairs)
    func decode(text: String, xtext: String) {
        #expect(XText.decode(xtext) == text)
    }

    @Test(
        "decode(encode(s)) is s",
        arguments: [
            "hello world", "+=+=", "\u{1F600} emoji", "tab\there", "\u{0}", "100%", String(repeating: "+", count: 50),
        ])
    func roundTrip(text: String) {
        let encoded = XText.encode(text)
        #expect(encoded.utf8.allSatisfy { (33...126).contains($0) && $0 != UInt8(ascii: "=") })
        #expect(XText.decode(encoded) == text)
    }

    @Test(
        "decode refuses malformed xtext",
        arguments: ["+", "+4", "a+4", "+4g", "+4a", "+ab", "+GG", "a=b", "a b", "a\tb", "\u{7F}", "+FF", "+C3"])
    func decodeRefuses(xtext: String) {
        #expect(XText.decode(xtext) == nil)
    }

    @Test("decode keeps UTF-8 characters as they are (RFC 6533 utf-8-addr-xtext)")
    func decodeUTF8() {
        #expect(XText.decode("b\u{F6}b") == "b\u{F6}b")
    }
}
