import CFileSupport

/// CRC-32C (Castagnoli), the checksum that tells a whole record from a torn or stale one.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `crc` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return swallow_crc32c(crc, base, bytes.count)
    }
}
