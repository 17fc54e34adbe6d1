import DNSCore
import FuzzSupport

/// Fuzzes `DNSMessage(decoding:)` with what a hostile nameserver (or a spoofer) could send:
/// - decoding never traps and its work is bounded (pointer loops end; counts cannot outrun the bytes);
/// - every decoded name is at most 255 octets in wire form with labels of at most 63;
/// - a decoded question encodes to a query that decodes to the same question.
@_cdecl("FuzzDNSMessage_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        check(bytes(data, size))
        return 0
    }
}

private func check(_ input: [UInt8]) {
    guard let message = try? DNSMessage(decoding: input) else { return }
    var names = message.questions.map(\.name)
    for record in message.answers + message.authorities {
        names.append(record.name)
        switch record.data {
        case .cname(let name), .mx(_, let name): names.append(name)
        case .a(let bytes): require(bytes.count == 4, "A of \(bytes.count) octets")
        case .aaaa(let bytes): require(bytes.count == 16, "AAAA of \(bytes.count) octets")
        case .other: break
        }
        require(record.ttl <= 0x7FFF_FFFF, "TTL \(record.ttl)")
    }
    for name in names {
        var wire: [UInt8] = []
        name.encode(into: &wire)
        require(wire.count <= DNSName.maximumLength, "name of \(wire.count) octets")
        require(name.labels.allSatisfy { !$0.isEmpty && $0.count <= DNSName.maximumLabelLength }, "label length")
    }
    if let question = message.questions.first {
        let query = DNSMessage.query(id: message.id, name: question.name, type: question.type)
        let again = try? DNSMessage(decoding: query)
        require(again?.questions.first?.name == question.name, "query round trip of \(question.name)")
        require(again?.questions.first?.type == question.type, "query type round trip")
    }
}
