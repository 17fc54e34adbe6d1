import FileSupport
import NIOCore

/// The journal's parsing, on bytes instead of files, for the libFuzzer target in `Fuzz/` (`import
/// @_spi(Fuzzing) MailStore`). Not an API: it exists so that the fuzzer reaches the decoder and recovery's choice
/// of records without writing anything to disk (replay writes to the paths records name, so it is never fuzzed).
@_spi(Fuzzing)
public enum JournalFuzzing {
    /// A decoded record.
    public typealias Record = JournalRecord

    /// The records recovery reads from a segment holding `bytes`, and the length of the valid prefix.
    public static func decodeSegment(_ bytes: [UInt8]) -> (records: [Record], length: Int) {
        bytes.withUnsafeBytes { raw in
            var records: [Record] = []
            var offset = 0
            while let (record, next) = JournalRecord.decode(raw, at: offset) {
                records.append(record)
                offset = next
            }
            return (records, offset)
        }
    }

    /// The bytes the journal writes for `record`, or nil when a path or the name is too long for the format.
    public static func encode(_ record: Record) -> [UInt8]? {
        guard
            JournalRecord.encodedSize(
                mailboxes: record.mailboxes, name: record.name, contentCount: record.content.count) != nil
        else { return nil }
        var buffer = ByteBuffer()
        JournalRecord.encode(
            sequence: record.sequence, mailboxes: record.mailboxes, name: record.name, content: record.content,
            into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Rewrites the checksum of every record header found from the start of `bytes` whose length fits, so that a
    /// fuzzer's mutations reach the payload parser instead of stopping at the checksum. Returns the offsets of
    /// the headers it sealed.
    @discardableResult
    public static func sealChecksums(_ bytes: inout [UInt8]) -> [Int] {
        var sealed: [Int] = []
        var offset = 0
        while bytes.count - offset >= JournalRecord.headerSize {
            let (magic, length) = bytes.withUnsafeBytes { raw in
                (
                    UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)),
                    Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)))
                )
            }
            let end = offset + JournalRecord.headerSize + length
            guard magic == JournalRecord.magic, end <= bytes.count else { break }
            let crc = bytes.withUnsafeBytes { raw in
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<end]))
            }
            withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange((offset + 4)..<(offset + 8), with: $0) }
            sealed.append(offset)
            offset = end
        }
        return sealed
    }

    /// What recovery delivers again from segments holding these records, after `checkpoint`.
    public static func select(_ segments: [[Record]], after checkpoint: UInt64) -> (
        pending: [Record], highest: UInt64
    ) {
        JournalRecovery.select(segments, after: checkpoint)
    }

    /// A checkpoint slot as the checkpointer writes it.
    public static func encodeCheckpoint(_ sequence: UInt64) -> [UInt8] {
        JournalCheckpoint.encode(sequence)
    }

    /// The sequence number in a checkpoint file's slot at `offset`, as recovery reads it.
    public static func decodeCheckpoint(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        JournalCheckpoint.decode(bytes, at: offset)
    }
}
