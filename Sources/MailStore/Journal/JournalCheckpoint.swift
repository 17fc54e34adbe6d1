import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The journal's checkpoint file: the highest sequence number whose message is durable in its Maildirs, so that
/// recovery delivers only what came after it.
///
/// Two 512-byte slots, written in turn, each holding magic, sequence and CRC-32C: a write torn by a crash spoils
/// at most the slot being written, and the other still holds the previous checkpoint.
final class JournalCheckpoint {
    static let slotSize = 512
    private static let magic: UInt32 = 0x434A_5753  // "SWJC"

    let path: String
    private let fd: Int32
    private var nextSlot = 0
    private(set) var sequence: UInt64

    /// Opens (or creates, durably) the checkpoint file at `path` and reads the checkpoint it holds.
    init(path: String) throws(FileError) {
        self.path = path
        var created = false
        var fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 && errno == ENOENT {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            created = true
        }
        guard fd >= 0 else { throw FileError(operation: "open", path: path) }
        self.fd = fd
        sequence = 0
        do throws(FileError) {
            if created {
                let zeros = [UInt8](repeating: 0, count: 2 * Self.slotSize)
                try POSIXFile.writeAll(fd, zeros, at: 0, path: path)
                try POSIXFile.syncData(fd, path: path)
                try POSIXFile.syncDirectory(POSIXFile.parentDirectory(of: path))
            }
            let bytes = try POSIXFile.readBytes(fd, count: 2 * Self.slotSize, at: 0, path: path)
            let slots = [0, Self.slotSize].map { Self.decode(bytes, at: $0) }
            if let newest = slots.compactMap({ $0 }).max() {
                sequence = newest
                nextSlot = slots[0] == newest ? 1 : 0
            }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Records `sequence` durably. Nothing up to it will be delivered again by recovery.
    func write(_ sequence: UInt64) throws(FileError) {
        try POSIXFile.writeAll(fd, Self.encode(sequence), at: nextSlot * Self.slotSize, path: path)
        try POSIXFile.syncData(fd, path: path)
        nextSlot = 1 - nextSlot
        self.sequence = sequence
    }

    /// A slot's 16 bytes: magic, sequence number, CRC-32C of both.
    static func encode(_ sequence: UInt64) -> [UInt8] {
        var slot: [UInt8] = []
        slot.reserveCapacity(16)
        withUnsafeBytes(of: Self.magic.littleEndian) { slot.append(contentsOf: $0) }
        withUnsafeBytes(of: sequence.littleEndian) { slot.append(contentsOf: $0) }
        let crc = slot.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { slot.append(contentsOf: $0) }
        return slot
    }

    /// The sequence number in the slot at `offset`, or nil when the slot is torn, empty or not a checkpoint.
    static func decode(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        guard offset >= 0, bytes.count - offset >= 16 else { return nil }
        return bytes.withUnsafeBytes { raw -> UInt64? in
            let magic = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let sequence = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt64.self))
            let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            guard magic == Self.magic,
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 12)])) == crc
            else { return nil }
            return sequence
        }
    }
}
