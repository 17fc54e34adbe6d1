/// Splits one fuzzer input into data and decisions, the way LLVM's FuzzedDataProvider does: data (lines, byte
/// runs) is taken from the front, decisions (small integers, booleans) from the back, so a seed that is a readable
/// SMTP session stays readable and libFuzzer's mutations of its text change the data, not the decisions.
/// When the input runs out, data is empty and every decision is 0.
public struct FuzzInput: Sendable {
    public private(set) var bytes: [UInt8]
    public private(set) var front: Int
    public private(set) var back: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        front = 0
        back = bytes.count
    }

    public var isEmpty: Bool { front >= back }
    public var remaining: Int { back - front }

    // MARK: Data from the front

    /// Up to `count` bytes.
    public mutating func take(_ count: Int) -> ArraySlice<UInt8> {
        let end = front + min(max(count, 0), remaining)
        defer { front = end }
        return bytes[front..<end]
    }

    /// Everything left.
    public mutating func takeRest() -> ArraySlice<UInt8> { take(remaining) }

    /// The bytes up to the next LF (not included), or the rest of the input when there is none.
    public mutating func takeLine() -> ArraySlice<UInt8> {
        let end = bytes[front..<back].firstIndex(of: UInt8(ascii: "\n")) ?? back
        defer { front = min(end + 1, back) }
        return bytes[front..<end]
    }

    /// The first front byte, or nil at the end.
    public mutating func takeByte() -> UInt8? {
        guard front < back else { return nil }
        defer { front += 1 }
        return bytes[front]
    }

    // MARK: Decisions from the back

    /// A byte from the back; 0 when the input is used up.
    public mutating func choiceByte() -> UInt8 {
        guard front < back else { return 0 }
        back -= 1
        return bytes[back]
    }

    /// A number in `0..<count` (count ≥ 1), from one byte at the back.
    public mutating func choice(_ count: Int) -> Int {
        precondition(count >= 1)
        return Int(choiceByte()) % count
    }

    public mutating func choiceBool() -> Bool { choiceByte() & 1 == 1 }

    /// A number in `range` from up to four back bytes.
    public mutating func choice(in range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        var value: UInt64 = 0
        var needed = width - 1
        while needed > 0 {
            value = value << 8 | UInt64(choiceByte())
            needed >>= 8
        }
        return range.lowerBound + Int(value % width)
    }
}
