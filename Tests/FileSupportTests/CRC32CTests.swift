import CFileSupport
import FileSupport
import Testing

/// Bit by bit, as RFC 3720's definition reads: the reference the fast versions are checked against.
private func reference(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
    }
    return ~crc
}

@Suite struct CRC32CTests {
    @Test func theStandardCheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        #expect(reference(bytes) == 0xE306_9283)
    }

    @Test func everyLengthAndAlignmentMatchesTheReference() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<9 {
            for end in stride(from: start, through: data.count, by: 7) {
                let slice = Array(data[start..<end])
                let expected = reference(slice)
                #expect(slice.withUnsafeBytes { CRC32C.checksum($0) } == expected)
                #expect(slice.withUnsafeBytes { swallow_crc32c_portable(0, $0.baseAddress, $0.count) } == expected)
            }
        }
    }

    @Test func aChecksumCanBeContinued() {
        let first = Array("Subject: split\r\n".utf8)
        let second = Array("\r\nbody\r\n".utf8)
        let continued = second.withUnsafeBytes { tail in
            CRC32C.checksum(tail, continuing: first.withUnsafeBytes { CRC32C.checksum($0) })
        }
        #expect(continued == reference(first + second))
    }
}
