import FuzzSupport
@_spi(Fuzzing) import MailStore

/// Fuzzes what the acceptance journal reads back at start: segment bytes (torn, stale or corrupt), recovery's
/// choice of records to deliver again, and checkpoint slots. Files are not involved: replay writes to the paths
/// records name, so it is not fuzzed. The input's data is cut into up to four segments at fuzzer-chosen points;
/// every record header whose length fits gets a correct checksum first (libFuzzer cannot forge CRC-32C), so that
/// mutations reach the payload parser. Checks:
/// - decoding stops within the bytes, at a record boundary, and finds no more records than headers were sealed;
/// - every record encodes again, and its encoding decodes to the same record and nothing else;
/// - recovery delivers again exactly the records after the checkpoint with consecutive sequence numbers, each
///   found in some segment, and reports the highest sequence number found;
/// - a checkpoint slot decodes only where it starts with the checkpoint magic.
@_cdecl("FuzzJournal_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        var input = FuzzInput(bytes(data, size))
        let checkpointChoice = input.choiceByte()
        let cuts = (0..<Int(input.choiceByte() % 4)).map { _ in input.choice(in: 0...4096) }
        let rest = Array(input.takeRest())
        checkCheckpointSlots(rest)
        var segments: [[UInt8]] = []
        var offset = 0
        for cut in cuts + [rest.count] {
            let end = min(offset + cut, rest.count)
            segments.append(Array(rest[offset..<end]))
            offset = end
        }
        check(segments, checkpointChoice: checkpointChoice)
        return 0
    }
}

private func check(_ segments: [[UInt8]], checkpointChoice: UInt8) {
    var decoded: [[JournalFuzzing.Record]] = []
    for var bytes in segments {
        let sealed = JournalFuzzing.sealChecksums(&bytes)
        let (records, length) = JournalFuzzing.decodeSegment(bytes)
        require(length >= 0 && length <= bytes.count, "decoded \(length) of \(bytes.count) bytes")
        require(records.count <= sealed.count, "\(records.count) records from \(sealed.count) sealed headers")
        require(records.isEmpty == (length == 0), "\(records.count) records in \(length) bytes")
        for record in records {
            guard let encoded = JournalFuzzing.encode(record) else {
                require(false, "a decoded record does not encode again")
                return
            }
            let again = JournalFuzzing.decodeSegment(encoded)
            require(again.records == [record], "a record does not survive encoding and decoding")
            require(again.length == encoded.count, "decoding an encoded record stops at \(again.length)")
        }
        decoded.append(records)
    }
    let all = decoded.joined()
    let sequences = all.map(\.sequence)
    // The checkpoint: 0, one of the records' sequence numbers, or a value next to one.
    let checkpoint: UInt64
    if checkpointChoice == 0 || sequences.isEmpty {
        checkpoint = 0
    } else {
        let base = sequences[Int(checkpointChoice) % sequences.count]
        checkpoint = checkpointChoice & 0x80 != 0 ? base &- 1 : base
    }
    let (pending, highest) = JournalFuzzing.select(decoded, after: checkpoint)
    require(highest == (sequences.max() ?? 0), "highest \(highest), expected \(sequences.max() ?? 0)")
    var expected = checkpoint &+ 1
    for record in pending {
        require(record.sequence == expected, "pending sequence \(record.sequence), expected \(expected)")
        require(all.contains(record), "a pending record is in no segment")
        expected &+= 1
    }
    if checkpoint != .max, !pending.contains(where: { $0.sequence == checkpoint + 1 }) {
        require(!sequences.contains(checkpoint + 1), "the record after the checkpoint is not delivered again")
    }
}

private func checkCheckpointSlots(_ bytes: [UInt8]) {
    let magic: [UInt8] = Array("SWJC".utf8)
    for offset in [0, 512, bytes.count - 16] {
        guard JournalFuzzing.decodeCheckpoint(bytes, at: offset) != nil else { continue }
        require(offset >= 0 && Array(bytes[offset..<(offset + 4)]) == magic, "a checkpoint without its magic")
    }
}
