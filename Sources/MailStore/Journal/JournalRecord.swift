import FileSupport
import NIOCore

/// One accepted message as the journal holds it: its sequence number, the Maildirs it goes to, its file name in
/// `new`, and its bytes. Encoding and decoding are pure, so recovery can be tested on any bytes.
///
/// Layout, little-endian: a 24-byte header (magic, CRC-32C of everything after the CRC field, sequence, payload
/// length, reserved), then the payload: the mailbox count (UInt16), each mailbox path (UInt16 length + bytes), the
/// file name (UInt16 length + bytes) and the message. A record whose magic, length or checksum does not hold is
/// the end of the journal: torn by a crash, or stale from the segment's previous use.
///
/// SPI so that the fuzz target (`import @_spi(Fuzzing) MailStore`, see `JournalFuzzing`) can make and compare
/// records; not an API.
@_spi(Fuzzing)
public struct JournalRecord: Equatable, Sendable {
    public var sequence: UInt64
    public var mailboxes: [String]
    public var name: String
    public var content: [UInt8]

    public init(sequence: UInt64, mailboxes: [String], name: String, content: [UInt8]) {
        self.sequence = sequence
        self.mailboxes = mailboxes
        self.name = name
        self.content = content
    }

    static let magic: UInt32 = 0x314A_5753  // "SWJ1"
    static let headerSize = 24

    /// The size `encode` will write for these fields, or nil when a path or the name does not fit a UInt16 length.
    static func encodedSize(mailboxes: [String], name: String, contentCount: Int) -> Int? {
        guard mailboxes.count <= Int(UInt16.max), name.utf8.count <= Int(UInt16.max) else { return nil }
        var size = headerSize + 2 + 2 + name.utf8.count + contentCount
        for mailbox in mailboxes {
            guard mailbox.utf8.count <= Int(UInt16.max) else { return nil }
            size += 2 + mailbox.utf8.count
        }
        return size
    }

    /// Appends the record to `buffer`; `content` appends exactly `contentCount` bytes of message. The caller has
    /// checked `encodedSize`.
    static func encode(
        sequence: UInt64, mailboxes: [String], name: String, contentCount: Int, into buffer: inout ByteBuffer,
        content: (inout ByteBuffer) throws(FileError) -> Void
    ) throws(FileError) {
        let start = buffer.writerIndex
        let payloadSize = encodedSize(mailboxes: mailboxes, name: name, contentCount: contentCount)! - headerSize
        buffer.writeInteger(magic, endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)  // the checksum, filled in below
        buffer.writeInteger(sequence, endianness: .little)
        buffer.writeInteger(UInt32(payloadSize), endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(UInt16(mailboxes.count), endianness: .little)
        for mailbox in mailboxes { writeString(mailbox, to: &buffer) }
        writeString(name, to: &buffer)
        let contentStart = buffer.writerIndex
        try content(&buffer)
        precondition(buffer.writerIndex - contentStart == contentCount, "the content is not the size announced")
        let crc = buffer.withUnsafeReadableBytes { bytes in
            let base = start - buffer.readerIndex
            return CRC32C.checksum(
                UnsafeRawBufferPointer(rebasing: bytes[(base + 8)..<(base + headerSize + payloadSize)]))
        }
        buffer.setInteger(crc, at: start + 4, endianness: .little)
    }

    /// `encode` with the message at hand.
    static func encode(
        sequence: UInt64, mailboxes: [String], name: String, content: [UInt8], into buffer: inout ByteBuffer
    ) {
        let result = Result { () throws(FileError) in
            try encode(
                sequence: sequence, mailboxes: mailboxes, name: name, contentCount: content.count, into: &buffer
            ) { buffer in buffer.writeBytes(content) }
        }
        try! result.get()  // the closure cannot fail
    }

    /// The record at `offset` in `bytes` and the offset after it, or nil where no whole, valid record starts.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> (record: JournalRecord, next: Int)? {
        guard offset >= 0, bytes.count - offset >= headerSize else { return nil }
        var reader = Reader(bytes: bytes, offset: offset)
        guard reader.uint32() == magic, let crc = reader.uint32(), let sequence = reader.uint64(),
            let payloadSize = reader.uint32().map(Int.init), reader.uint32() != nil
        else { return nil }
        let end = offset + headerSize + payloadSize
        guard end <= bytes.count,
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<end])) == crc
        else { return nil }
        reader.limit = end
        guard let count = reader.uint16() else { return nil }
        var mailboxes: [String] = []
        for _ in 0..<count {
            guard let mailbox = reader.string() else { return nil }
            mailboxes.append(mailbox)
        }
        guard let name = reader.string() else { return nil }
        let content = Array(bytes[reader.offset..<end])
        return (JournalRecord(sequence: sequence, mailboxes: mailboxes, name: name, content: content), end)
    }

    /// Every valid record from the start of a segment's bytes, up to the first that is not.
    static func decodeAll(_ bytes: UnsafeRawBufferPointer) -> [JournalRecord] {
        var records: [JournalRecord] = []
        var offset = 0
        while let (record, next) = decode(bytes, at: offset) {
            records.append(record)
            offset = next
        }
        return records
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(string.utf8.count), endianness: .little)
        buffer.writeString(string)
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset: Int
        lazy var limit = bytes.count

        init(bytes: UnsafeRawBufferPointer, offset: Int) {
            self.bytes = bytes
            self.offset = offset
        }

        mutating func integer<Integer: FixedWidthInteger>(_: Integer.Type) -> Integer? {
            let size = MemoryLayout<Integer>.size
            guard limit - offset >= size else { return nil }
            defer { offset += size }
            return Integer(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Integer.self))
        }

        mutating func uint16() -> UInt16? { integer(UInt16.self) }
        mutating func uint32() -> UInt32? { integer(UInt32.self) }
        mutating func uint64() -> UInt64? { integer(UInt64.self) }

        mutating func string() -> String? {
            guard let count = uint16().map(Int.init), limit - offset >= count else { return nil }
            defer { offset += count }
            return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
        }
    }
}
