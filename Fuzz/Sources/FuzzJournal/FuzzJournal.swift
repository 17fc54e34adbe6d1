import FuzzSupport
@_spi(Fuzzing) import MailStore

/// Fuzzes what the acceptance journal reads back at start: segment bytes (torn, stale or corrupt), recovery's
/// choice of records to deliver again, and checkpoint slots. Files are not involved: replay writes to the paths
/// records name, so it is not fuzzed. The input's data is cut into up to four segments at fuzzer-chosen points;
/// every record header whose length fits gets a correct checksum first (libFuzzer cannot forge CRC-32C), so that
/// mutations reach the payload parser. Checks:
/// - decoding stops within the bytes, at a record boundary, and finds no more records than headers were sealed;
/// - every record encodes again, and its encoding decodes to the same record and nothing else;
/// - recovery delivers again the records after the checkpoint with consecutive sequence numbers, each found in
///   some segment, up to the first number no segment holds, and reports the highest sequence number found;
/// - a checkpoint slot reads back the number written, and not at all once any byte of it is changed.
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
                // Invalid UTF-8 is decoded as U+FFFD, three bytes each: only that can make a field too long.
                let repaired = (record.mailboxes + [record.name]).contains { $0.unicodeScalars.contains("\u{FFFD}") }
                require(repaired, "a decoded record does not encode again")
                continue
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
    // Delivery runs up to the first missing number (0: it wrapped after the last one there is).
    if expected != 0 {
        require(!sequences.contains(expected), "recovery stops before \(expected), which a segment holds")
    }
}

/// Reads the input's first bytes as slots (no trap at any offset), then round-trips a slot for a sequence number
/// taken from the input and requires that any one changed byte makes it unreadable.
private func checkCheckpointSlots(_ bytes: [UInt8]) {
    for offset in [0, 512, bytes.count - 16, -1] {
        _ = JournalFuzzing.decodeCheckpoint(bytes, at: offset)
    }
    var sequence: UInt64 = 0
    for byte in bytes.prefix(8) { sequence = sequence << 8 | UInt64(byte) }
    let slot = JournalFuzzing.encodeCheckpoint(sequence)
    require(JournalFuzzing.decodeCheckpoint(slot, at: 0) == sequence, "slot for \(sequence) does not read back")
    guard bytes.count > 9 else { return }
    var damaged = slot
    damaged[Int(bytes[8]) % damaged.count] ^= max(bytes[9], 1)
    require(JournalFuzzing.decodeCheckpoint(damaged, at: 0) == nil, "a damaged slot reads as a checkpoint")
}
