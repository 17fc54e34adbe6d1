extension String {
    /// The string these bytes encode, or nil when they are not valid UTF-8.
    ///
    /// `String(validating:as:)` would do, but needs macOS 15; decoding repairs invalid sequences with U+FFFD,
    /// so a round trip that changes the bytes reveals them.
    init?(validUTF8 bytes: some Collection<UInt8>) {
        let string = String(decoding: bytes, as: UTF8.self)
        guard string.utf8.elementsEqual(bytes) else { return nil }
        self = string
    }
}
