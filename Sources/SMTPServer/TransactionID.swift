/// Short random ids for connections and transactions, as they appear in logs, replies and `Received:` headers.
enum TransactionID {
    private static let alphabet = Array("0123456789BCDFGHJKLMNPQRSTVWXYZ".utf8)

    /// Up to 12 characters (31^12 < 2^64) from one random 64-bit number: one `getrandom` call instead of one per
    /// character.
    static func make(length: Int = 12) -> String {
        precondition(length <= 12, "a transaction id has at most 12 characters")
        var value = UInt64.random(in: .min ... .max)
        let radix = UInt64(alphabet.count)
        return String(unsafeUninitializedCapacity: length) { out in
            for index in 0..<length {
                out[index] = alphabet[Int(value % radix)]
                value /= radix
            }
            return length
        }
    }
}
