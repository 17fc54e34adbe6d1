/// Salted SCRAM-SHA-256 keys (RFC 5802, RFC 7677): the only thing stored per user.
///
/// PLAIN and LOGIN passwords are verified by deriving the same keys again:
///
///     SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
///     ClientKey      = HMAC(SaltedPassword, "Client Key")
///     StoredKey      = SHA-256(ClientKey)
///     ServerKey      = HMAC(SaltedPassword, "Server Key")
///
/// so the server never holds a password or anything from which one could be computed other than by guessing,
/// and the same record serves SCRAM clients, who never send the password at all.
///
/// Passwords go through ``SASLPrep`` (a minimal SASLprep) before derivation, as RFC 5802 asks.
/// `description` leaves the keys out, so a credential that reaches a log reveals nothing useful.
public struct SCRAMCredential: Sendable, Hashable, CustomStringConvertible {
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    /// The PBKDF2 iteration count for new credentials.
    ///
    /// Measured on the development machine (x86_64, BoringSSL's SHA-256): one derivation takes about 42 ms in
    /// a release build (about 160 ms in a debug build), so every guess at a password from a stolen users file
    /// costs as much, while a login stays quick. SCRAM clients pay it too, once per login.
    public static let defaultIterations = 200_000

    /// The iteration counts a credential may have. The floor is RFC 7677's minimum; the ceiling keeps a
    /// mistyped count in the users file from turning every login into minutes of work.
    public static let allowedIterations = 4096...10_000_000

    /// The length of a salt that `derive` makes up.
    static let saltByteCount = 16

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the keys for `password`, with a random 16-byte salt when `salt` is nil.
    ///
    /// This is deliberately slow (see ``defaultIterations``): call it off any event loop.
    /// - Precondition: `salt` is not empty and `iterations` is within ``allowedIterations``.
    public static func derive(
        password: String, salt: [UInt8]? = nil, iterations: Int = defaultIterations
    ) -> SCRAMCredential {
        let salt = salt ?? SecureRandom.bytes(saltByteCount)
        precondition(!salt.isEmpty, "a SCRAM salt must not be empty")
        precondition(allowedIterations.contains(iterations), "SCRAM iterations out of \(allowedIterations)")
        let keys = clientKeyAndServerKey(password: password, salt: salt, iterations: iterations)
        return SCRAMCredential(
            salt: salt, iterations: iterations, storedKey: SCRAMFunctions.hash(keys.client), serverKey: keys.server)
    }

    /// Whether `password` is the one these keys were derived from. Costs one full derivation whatever the
    /// answer, and compares StoredKey in constant time.
    public func verify(password: String) -> Bool {
        // A credential decoded or built by hand could hold values PBKDF2 must not see; it matches nothing.
        guard !salt.isEmpty, Self.allowedIterations.contains(iterations) else { return false }
        let keys = Self.clientKeyAndServerKey(password: password, salt: salt, iterations: iterations)
        return constantTimeEquals(SCRAMFunctions.hash(keys.client), storedKey)
    }

    /// A credential that matches no password, used for unknown users so that the time a login takes does not
    /// reveal whether an account exists: verifying against it costs a full derivation, like a real user.
    ///
    /// Its keys are random, so finding a password for it means finding a SHA-256 preimage.
    public static func decoy(iterations: Int = defaultIterations) -> SCRAMCredential {
        SCRAMCredential(
            salt: SecureRandom.bytes(saltByteCount), iterations: iterations, storedKey: SecureRandom.bytes(32),
            serverKey: SecureRandom.bytes(32))
    }

    public var description: String { "SCRAM-SHA-256 credential (\(iterations) iterations)" }

    private static func clientKeyAndServerKey(
        password: String, salt: [UInt8], iterations: Int
    ) -> (client: [UInt8], server: [UInt8]) {
        let salted = SCRAMFunctions.saltedPassword(
            Array(SASLPrep.prepare(password).utf8), salt: salt, iterations: iterations)
        return (
            SCRAMFunctions.hmac(key: salted, SCRAMFunctions.clientKeyLabel),
            SCRAMFunctions.hmac(key: salted, SCRAMFunctions.serverKeyLabel)
        )
    }
}
