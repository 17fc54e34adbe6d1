import NIOCore
import SMTPCore

extension DotUnstuffer {
    /// What one pass of the decoder over a `ByteBuffer` gave.
    struct ByteBufferResult {
        /// Octets of the buffer's readable bytes used; the rest (after the end marker) is the next command.
        var consumed: Int
        /// The decoded content, nil when there is none.
        var body: ByteBuffer?
        /// Octets in `body`, for the message size.
        var count: Int
    }

    /// Decodes from the readable bytes of `buffer`, without moving its reader index.
    ///
    /// The content is a slice of `buffer` when it is one unchanged run of it, which is nearly every read (no line
    /// in it starts with a dot, no bare line ending): no copy then. Otherwise it is copied once, run by run, into a
    /// buffer from `allocator`.
    mutating func consume(_ buffer: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBufferResult {
        let (consumed, content, count) = buffer.withUnsafeReadableBytes { input in
            var output = BodyOutput(input: input, allocator: allocator)
            let consumed = consume(input, into: &output)
            return (consumed, output.content, output.count)
        }
        return ByteBufferResult(consumed: consumed, body: content.buffer(in: buffer), count: count)
    }
}

/// Collects decoded content from one input (the readable bytes of a `ByteBuffer`): a range of it while the
/// decoder hands over a single run, a copy from the first change on.
struct BodyOutput: DotUnstufferOutput {
    enum Content {
        case empty
        case slice(Range<Int>)
        case assembled(ByteBuffer)

        /// The content as a buffer: a slice of `buffer`, whose readable bytes were the input, or the copy.
        func buffer(in buffer: ByteBuffer) -> ByteBuffer? {
            switch self {
            case .empty: nil
            case .slice(let range): buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)
            case .assembled(let assembled): assembled
            }
        }
    }

    /// The input being decoded; valid only during the `consume` call that uses this output.
    private let input: UnsafeRawBufferPointer
    private let allocator: ByteBufferAllocator
    private(set) var content = Content.empty
    private(set) var count = 0

    init(input: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) {
        self.input = input
        self.allocator = allocator
    }

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        count += range.count
        if case .empty = content {
            content = .slice(range)
            return
        }
        var assembled = takeAssembled()
        assembled.writeBytes(UnsafeRawBufferPointer(rebasing: input[range]))
        content = .assembled(assembled)
    }

    mutating func appendByte(_ byte: UInt8) {
        count += 1
        var assembled = takeAssembled()
        assembled.writeInteger(byte)
        content = .assembled(assembled)
    }

    /// The assembled buffer, made from the slice so far if need be, and no longer referenced by `content`, so
    /// that writing to it does not copy it.
    private mutating func takeAssembled() -> ByteBuffer {
        let current = content
        content = .empty
        switch current {
        case .assembled(let assembled):
            return assembled
        case .slice(let range):
            // Rarely larger than the input: only normalized bare line endings add octets.
            var assembled = allocator.buffer(capacity: input.count)
            assembled.writeBytes(UnsafeRawBufferPointer(rebasing: input[range]))
            return assembled
        case .empty:
            return allocator.buffer(capacity: input.count)
        }
    }
}
