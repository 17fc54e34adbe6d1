/// Random bytes for salts and nonces.
///
/// `SystemRandomNumberGenerator` is documented as cryptographically secure on every platform (getrandom(2) on
/// Linux, arc4random on Darwin), which is what salts and SCRAM nonces need.
enum SecureRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
