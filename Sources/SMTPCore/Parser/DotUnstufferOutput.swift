/// Where `DotUnstuffer` puts the body it decodes.
///
/// The decoder hands over runs of its input that belong to the body unchanged, and the few octets it supplies
/// itself, so that an output can keep slices of the input (a network buffer, say) instead of copying every octet.
/// A well-formed body gives one run per `consume` call unless a line starts with a stuffed dot.
public protocol DotUnstufferOutput {
    /// The octets `range` of `input` (the buffer given to `consume`) are the next part of the body, unchanged.
    /// `range` is never empty; ranges of one `consume` call come in increasing order and do not overlap.
    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer)
    /// The decoder supplies `byte` as the next part of the body: a CR that ended the previous input (held back
    /// until the next octet showed what it was), or the CR or LF that completes a bare line ending under
    /// `.normalize`.
    mutating func appendByte(_ byte: UInt8)
}

/// Collects decoded octets into an array, for `DotUnstuffer.consume(_:into:)` with `[UInt8]`.
struct ByteArrayOutput: DotUnstufferOutput {
    var bytes: [UInt8] = []

    mutating func appendInput(_ range: Range<Int>, of input: UnsafeRawBufferPointer) {
        // Through a typed buffer: appending one is a single memcpy.
        UnsafeRawBufferPointer(rebasing: input[range]).withMemoryRebound(to: UInt8.self) {
            bytes.append(contentsOf: $0)
        }
    }

    mutating func appendByte(_ byte: UInt8) {
        bytes.append(byte)
    }
}
