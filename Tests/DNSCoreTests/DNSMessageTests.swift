import Testing

@testable import DNSCore

private let example = DNSName("example.test")!

/// A response to an MX query for example.test, with names compressed against the question.
private func mxResponse(id: UInt16 = 0x1234, rcode: UInt8 = 0, truncated: Bool = false) -> [UInt8] {
    var out: [UInt8] = [
        UInt8(id >> 8), UInt8(id & 0xFF), 0x81 | (truncated ? 0x02 : 0), 0x80 | rcode, 0, 1, 0, 3, 0, 0, 0, 0,
    ]
    example.encode(into: &out)  // at offset 12
    out += [0, 15, 0, 1]
    // example.test MX 10 mx1.example.test (compressed)
    out += [0xC0, 12, 0, 15, 0, 1, 0, 0, 0x0E, 0x10, 0, 8, 0, 10, 3] + Array("mx1".utf8) + [0xC0, 12]
    // example.test MX 0 . (a null MX)
    out += [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 3, 0, 0, 0]
    // mx1.example.test A 192.0.2.1: the name points into the first record's data.
    let mx1Offset = 12 + 14 + 4 + 12 + 2
    out += [0xC0, UInt8(mx1Offset), 0, 1, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 4, 192, 0, 2, 1]
    return out
}

@Test func encodesAQuery() {
    let query = DNSMessage.query(id: 0xABCD, name: DNSName("mx.example.test.")!, type: .aaaa)
    #expect(
        query == [0xAB, 0xCD, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0x6D, 0x78, 7] + Array("example".utf8) + [4]
            + Array("test".utf8) + [0, 0, 28, 0, 1])
    let decoded = try? DNSMessage(decoding: query)
    #expect(decoded?.questions.first?.name == DNSName("MX.Example.TEST"))
    #expect(decoded?.isResponse == false)
}

@Test func decodesACompressedResponse() throws {
    let message = try DNSMessage(decoding: mxResponse())
    #expect(message.id == 0x1234 && message.isResponse && !message.isTruncated)
    #expect(message.responseCode == .noError)
    #expect(message.questions.map(\.name) == [example])
    #expect(message.answers.count == 3)
    #expect(message.answers[0].data == .mx(preference: 10, exchange: DNSName("mx1.example.test")!))
    #expect(message.answers[0].ttl == 3600)
    #expect(message.answers[1].data == .mx(preference: 0, exchange: DNSName(labels: [])))
    #expect(message.answers[2].name == DNSName("mx1.example.test")!)
    #expect(message.answers[2].data == .a([192, 0, 2, 1]))
    #expect(message.answers[2].ttl == 0, "a TTL above 2^31-1 counts as 0")
    #expect(message.answers(for: example, type: .mx).count == 2)
}

@Test func readsFlags() throws {
    #expect(try DNSMessage(decoding: mxResponse(rcode: 3)).responseCode == .nameError)
    #expect(try DNSMessage(decoding: mxResponse(rcode: 2)).responseCode == .serverFailure)
    #expect(try DNSMessage(decoding: mxResponse(truncated: true)).isTruncated)
}

@Test func refusesEveryTruncation() {
    let whole = mxResponse()
    for length in 0..<whole.count {
        #expect(throws: DNSDecodeError.self) { try DNSMessage(decoding: Array(whole.prefix(length))) }
    }
}

@Test func refusesPointerLoopsAndForwardPointers() {
    var header: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]
    // A name that points at itself.
    #expect(throws: DNSDecodeError.badPointer) { try DNSMessage(decoding: header + [0xC0, 12, 0, 1, 0, 1]) }
    // A name that points forward.
    #expect(throws: DNSDecodeError.badPointer) { try DNSMessage(decoding: header + [0xC0, 14, 0, 0, 1, 0, 1]) }
    // Two names pointing at each other: the second's pointer is backwards, the first's forward.
    header[5] = 2
    #expect(throws: DNSDecodeError.badPointer) {
        try DNSMessage(decoding: header + [1, 0x61, 0xC0, 20, 0, 1, 0, 1] + [1, 0x62, 0xC0, 12, 0, 1, 0, 1])
    }
    // Reserved label types.
    #expect(throws: DNSDecodeError.badName) { try DNSMessage(decoding: header + [0x40, 0, 0, 1, 0, 1]) }
}

@Test func refusesOverlongNames() {
    // 130 labels of one octet: 261 octets.
    let labels: [UInt8] = Array(repeating: [UInt8(1), 0x61], count: 130).flatMap { $0 }
    let header: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]
    let message: [UInt8] = header + labels + [0, 0, 1, 0, 1]
    #expect(throws: DNSDecodeError.badName) { try DNSMessage(decoding: message) }
    #expect(DNSName(String(repeating: "a.", count: 130)) == nil)
    #expect(DNSName(String(repeating: "a", count: 64) + ".test") == nil)
    #expect(DNSName("a..test") == nil)
}

@Test func refusesBadRecordData() {
    var message = mxResponse()
    // The A record's length says 5.
    message[message.count - 5] = 5
    message.append(0)
    #expect(throws: DNSDecodeError.badRecordData(type: 1)) { try DNSMessage(decoding: message) }
}

@Test func namesCompareWithoutCase() {
    #expect(DNSName("MX.Example.Test") == DNSName("mx.example.test."))
    #expect(Set([DNSName("A.test")!, DNSName("a.TEST")!]).count == 1)
    #expect(DNSName(".")!.isRoot)
    #expect(DNSName("mx.example.test")!.description == "mx.example.test")
}
