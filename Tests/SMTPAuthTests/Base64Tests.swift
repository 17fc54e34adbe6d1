import Testing

@testable import SMTPAuth

@Suite struct Base64Tests {
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func allByteValuesRoundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "Zm9v!", "Zm 9", "=Zm9", "Zg==Zg==", "Zm9vY===", "Zm9v\n"])
    func rejectsMalformed(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
