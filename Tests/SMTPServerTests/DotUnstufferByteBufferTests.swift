import NIOCore
import SMTPCore
import Testing

@testable import SMTPServer

/// Decodes `reads` one after another as the connection handler does, keeping unconsumed bytes for the next read.
private func decode(_ reads: [String], _ mode: DotUnstuffer.BareLineEndings = .reject) -> (
    body: [UInt8], bodies: [ByteBuffer], complete: Bool
) {
    var decoder = DotUnstuffer(bareLineEndings: mode)
    var buffer = ByteBuffer()
    var bodies: [ByteBuffer] = []
    var body: [UInt8] = []
    for read in reads where !decoder.isComplete {
        buffer.writeString(read)
        let decoded = decoder.consume(buffer, allocator: ByteBufferAllocator())
        buffer.moveReaderIndex(forwardBy: decoded.consumed)
        if let content = decoded.body {
            #expect(content.readableBytes == decoded.count)
            body += content.readableBytesView
            bodies.append(content)
        } else {
            #expect(decoded.count == 0)
        }
    }
    return (body, bodies, decoder.isComplete)
}

@Suite("DotUnstuffer on ByteBuffer")
struct DotUnstufferByteBufferTests {
    @Test("a read without stuffed dots is a slice of the input, not a copy")
    func sliceWithoutCopy() {
        var buffer = ByteBuffer(string: "MAIL FROM:<a@b>\r\n")
        buffer.moveReaderIndex(forwardBy: 17)
        buffer.writeString("Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n")
        var decoder = DotUnstuffer()
        let decoded = decoder.consume(buffer, allocator: ByteBufferAllocator())
        #expect(decoder.isComplete)
        #expect(decoded.consumed == "Subject: x\r\n\r\nhello\r\n.\r\n".utf8.count)
        #expect(decoded.body.map { String(buffer: $0) } == "Subject: x\r\n\r\nhello\r\n")
        let start = buffer.withUnsafeReadableBytes { $0.baseAddress }
        let sliceStart = decoded.body?.withUnsafeReadableBytes { $0.baseAddress }
        #expect(start != nil && start == sliceStart)
    }

    @Test("stuffed dots, held CRs and normalized line ends give what the [UInt8] output gives, in any reads")
    func assembled() {
        let input = "a\r\n..b\r\nc\rd\ne\r\n.x\r\n.\r\r\n.\r\nQUIT\r\n"
        let bytes = Array(input.utf8)
        for mode in [DotUnstuffer.BareLineEndings.reject, .normalize] {
            // The array output is checked against a reference decoder in SMTPCoreTests.
            var whole = DotUnstuffer(bareLineEndings: mode)
            var expected: [UInt8] = []
            _ = bytes.withUnsafeBytes { whole.consume($0, into: &expected) }
            for first in 0...bytes.count {
                for second in first...bytes.count {
                    let reads = [bytes[..<first], bytes[first..<second], bytes[second...]].map {
                        String(decoding: $0, as: UTF8.self)
                    }
                    let outcome = decode(reads, mode)
                    #expect(outcome.complete)
                    #expect(outcome.body == expected, "cuts at \(first), \(second), \(mode)")
                }
            }
        }
    }

    @Test("nothing decoded gives no buffer")
    func empty() {
        let outcome = decode([".", "\r", "\n"])
        #expect(outcome.complete)
        #expect(outcome.bodies.isEmpty)
    }
}
