/// Finds the next CR or LF in raw memory eight octets at a time: the DATA decoder spends almost all its time here,
/// between line ends, and checking one octet at a time would hold it far below 1 GB/s.
enum LineEndingSearch {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080
    private static let crs: UInt64 = ones &* UInt64(UInt8.cr)
    private static let lfs: UInt64 = ones &* UInt64(UInt8.lf)

    /// The offset of the first CR or LF in `base[start..<end]`, or nil when there is none.
    @inline(__always)
    static func first(in base: UnsafeRawPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while end &- index >= 8 {
            // Little-endian order on every platform, so that the lowest set bit is the first octet in memory.
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let found = zeroOctets(word ^ crs) | zeroOctets(word ^ lfs)
            if found != 0 { return index &+ found.trailingZeroBitCount &>> 3 }
            index &+= 8
        }
        while index < end {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if byte == .cr || byte == .lf { return index }
            index &+= 1
        }
        return nil
    }

    /// The high bit of each zero octet of `word` is set (and possibly of octets above the first zero one, through
    /// the borrow; those never come before the first real match, which is all the caller looks at).
    @inline(__always)
    private static func zeroOctets(_ word: UInt64) -> UInt64 {
        (word &- ones) & ~word & highBits
    }
}
