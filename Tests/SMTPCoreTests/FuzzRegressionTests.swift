import Testing

@testable import SMTPCore

/// Inputs found by the libFuzzer targets in Fuzz/ (see Fuzz/README.md), kept as regression tests.
@Suite struct FuzzRegressionTests {
    /// Fuzz/auth: `Base64.decode` accepted text whose last character carries bits that the padding discards, so
    /// several texts decoded to the same bytes although the decoder promises canonical base64 only.
    @Test(arguments: [
        // The fuzzer's input: a SCRAM client-first message whose last quantum ends in "U7=" instead of "U8=".
        "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU7=",
        "QR==", "QX==", "Qf==", "QUJ=", "QUL=", "Zm9vYmF=",
    ])
    func base64RefusesNonZeroPaddingBits(text: String) {
        #expect(Base64.decode(text.utf8) == nil)
    }

    @Test func base64StillDecodesTheCanonicalForms() {
        #expect(Base64.decode("QQ==".utf8) == Array("A".utf8))
        #expect(Base64.decode("QUI=".utf8) == Array("AB".utf8))
        #expect(
            Base64.decode("biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=".utf8)
                == Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes).utf8) == bytes)
        }
    }
}
