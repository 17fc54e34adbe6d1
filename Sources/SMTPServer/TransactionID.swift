/// Short random ids for connections and transactions, as they appear in logs, replies and `Received:` headers.
enum TransactionID {
    private static let alphabet = Array("0123456789BCDFGHJKLMNPQRSTVWXYZ".utf8)

    static func make(length: Int = 12) -> String {
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
    }
}
