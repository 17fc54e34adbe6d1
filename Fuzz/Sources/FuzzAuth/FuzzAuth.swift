import Crypto
import _CryptoExtras
import FuzzSupport
import SMTPAuth
import SMTPCore
import Synchronization

/// Fuzzes the AUTH exchanges: SMTPCore's `Base64` and SMTPAuth's `SASLServerExchange` for PLAIN, LOGIN and
/// SCRAM-SHA-256, with an in-memory credential (password "pencil", RFC 7677's salt, 4096 iterations) for every
/// user (for SCRAM: except those whose name starts with "nobody", who get the stand-in credential).
///
/// The front of the input is the client's messages, one per line; a decision from the back picks the mechanism
/// and whether the lines are raw bytes or base64 as on the wire (where `*` cancels and a line that is not base64
/// ends the exchange, as the state machine does). A fourth mode is a scripted SCRAM client: the first line is
/// its client-first message, the second an extension for its final message, and it computes a real proof (with
/// the right password or a wrong one), so the success path is fuzzed too.
///
/// Checks: no traps; base64 round-trips and decodes only canonical text; an exchange never succeeds without the
/// password (PLAIN, LOGIN) or a proof (SCRAM), does succeed with them, and after it ends answers every further
/// step with `.failure(.malformed)`; SCRAM's server-first and server-final messages are well-formed and its
/// server signature is the right one; a stored credential's text form round-trips.
@_cdecl("FuzzAuth_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in
        let all = bytes(data, size)
        checkBase64(all)
        if let text = String(validating: all, as: UTF8.self), let credential = SCRAMCredential(encoded: text) {
            require(SCRAMCredential(encoded: credential.encoded) == credential, "credential round trip of \(text)")
        }
        var input = FuzzInput(all)
        let mode = input.choiceByte()
        let initialResponse = mode & 0x10 == 0
        let base64 = mode & 0x20 != 0
        let messages = input
        switch mode & 3 {
        case 0: runBlocking { await exchange(.plain, messages, initialResponse: initialResponse, base64: base64) }
        case 1: runBlocking { await exchange(.login, messages, initialResponse: initialResponse, base64: base64) }
        case 2: runBlocking { await exchange(.scramSHA256, messages, initialResponse: initialResponse, base64: base64) }
        default: runBlocking { await scriptedSCRAM(messages, rightPassword: mode & 0x40 == 0) }
        }
        return 0
    }
}

// MARK: Credentials

private let password = "pencil"
private let salt = Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!
private let iterations = 4096

private struct Keys {
    var clientKey: [UInt8]
    var storedKey: [UInt8]
    var serverKey: [UInt8]

    /// RFC 5802 §3, independently of SMTPAuth's code.
    init(password: String) {
        let salted = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations
        ).withUnsafeBytes { Array($0) }
        clientKey = hmac(salted, Array("Client Key".utf8))
        storedKey = Array(SHA256.hash(data: clientKey))
        serverKey = hmac(salted, Array("Server Key".utf8))
    }
}

private func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
    Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
}

private let rightKeys = Keys(password: password)
private let wrongKeys = Keys(password: "pencil2")
private let credential = SCRAMCredential.derive(password: password, salt: salt, iterations: iterations)

/// The name of the last lookup, for the SCRAM client to know whether the user exists.
private let lastLookup = Mutex<String?>(nil)

private let lookup: @Sendable (String) async -> SCRAMCredential? = { name in
    require(!name.isEmpty, "lookup of an empty name")
    require(name == name.lowercased(), "lookup of a name not lowercased: \(name)")
    lastLookup.withLock { $0 = name }
    return name.hasPrefix("nobody") ? nil : credential
}

private let everyone: @Sendable (String) async -> SCRAMCredential? = { name in
    require(!name.isEmpty, "lookup of an empty name")
    require(name == name.lowercased(), "lookup of a name not lowercased: \(name)")
    return credential
}

// MARK: Base64

private func checkBase64(_ bytes: [UInt8]) {
    let encoded = Base64.encode(bytes)
    require(encoded.utf8.count == (bytes.count + 2) / 3 * 4, "base64 length")
    require(Base64.decode(encoded) == bytes, "base64 round trip of \(bytes)")
    if let decoded = Base64.decode(bytes) {
        // Strict decoding: only the canonical encoding of some bytes is accepted.
        require(Array(Base64.encode(decoded).utf8) == bytes, "accepted non-canonical base64 \(bytes)")
    }
}

// MARK: Exchanges

private func exchange(_ mechanism: SASLMechanism, _ input: FuzzInput, initialResponse: Bool, base64: Bool) async {
    var input = input
    // Unknown users cost PLAIN and LOGIN a derivation with the default count (tens of milliseconds), which would
    // slow the fuzzer down a hundredfold: every user exists for them.
    let exchange = SASLServerExchange(mechanism: mechanism, lookup: mechanism == .scramSHA256 ? lookup : everyone)
    var messages: [[UInt8]] = []
    var first = true
    while true {
        let response: [UInt8]?
        if first && !initialResponse {
            response = nil
        } else {
            if input.isEmpty { break }
            var line = Array(input.takeLine())
            if base64 {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                checkBase64(line)
                if line == [UInt8(ascii: "*")] { break }
                guard let decoded = Base64.decode(line) else { break }
                response = decoded
            } else {
                response = line
            }
        }
        if let response { messages.append(response) }
        first = false
        let outcome = await exchange.step(response)
        switch outcome {
        case .challenge(let bytes):
            require(Base64.decode(Base64.encode(bytes)) == bytes, "challenge base64")
            if mechanism == .scramSHA256 { checkSCRAMChallenge(bytes, after: messages) }
            if mechanism == .plain { require(bytes.isEmpty, "PLAIN challenge \(bytes)") }
        case .success(let user):
            require(mechanism != .scramSHA256, "SCRAM succeeded without a proof: \(messages)")
            checkPasswordSuccess(mechanism, user: user, messages: messages)
            await requireFinished(exchange)
            return
        case .failure(let failure):
            checkPasswordFailure(mechanism, failure, messages: messages)
            await requireFinished(exchange)
            return
        }
    }
}

private func requireFinished(_ exchange: SASLServerExchange) async {
    for response in [nil, [], Array("n,,n=user,r=abc".utf8), Array("\0user\0pencil".utf8)] as [[UInt8]?] {
        let after = await exchange.step(response)
        require(after == .failure(.malformed), "step after the end answered \(after)")
    }
}

/// A PLAIN or LOGIN success needs the password (ASCII "pencil", perhaps with characters SASLprep removes) and a
/// user name, which comes back lowercased.
private func checkPasswordSuccess(_ mechanism: SASLMechanism, user: String, messages: [[UInt8]]) {
    let (authcid, given) = credentials(mechanism, messages)
    require(given != nil && authcid != nil, "success without a user and password: \(messages)")
    let ascii = String(String.UnicodeScalarView(given!.unicodeScalars.filter(\.isASCII)))
    require(ascii == password, "success with the password \(given!.debugDescription)")
    require(!user.isEmpty, "success as an empty user")
    if authcid!.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
        require(user == authcid!.lowercased(), "success as \(user) for \(authcid!)")
    }
}

/// The right password for a plain user name (no authzid) must succeed.
private func checkPasswordFailure(_ mechanism: SASLMechanism, _ failure: SASLFailure, messages: [[UInt8]]) {
    guard mechanism != .scramSHA256 else { return }
    let (authcid, given) = credentials(mechanism, messages)
    guard let authcid, let given, given == password, !authcid.isEmpty,
        authcid.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
    else { return }
    if mechanism == .plain, messages.last?.first != 0 { return }  // an authzid: may be a mismatch
    require(false, "\(mechanism) failed (\(failure)) for \(authcid) with the right password")
}

/// The user name and password the client sent, when its messages have the mechanism's form.
private func credentials(_ mechanism: SASLMechanism, _ messages: [[UInt8]]) -> (String?, String?) {
    switch mechanism {
    case .plain:
        guard let last = messages.last else { return (nil, nil) }
        let fields = last.split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count == 3 else { return (nil, nil) }
        return (String(validating: fields[1], as: UTF8.self), String(validating: fields[2], as: UTF8.self))
    case .login:
        guard messages.count >= 2 else { return (nil, nil) }
        let tail = messages.suffix(2).map { String(validating: $0, as: UTF8.self) }
        return (tail[0], tail[1])
    case .scramSHA256:
        return (nil, nil)
    }
}

/// server-first `r=<client nonce><server nonce>,s=<salt>,i=<count>` or server-final `v=<signature>`.
private func checkSCRAMChallenge(_ bytes: [UInt8], after messages: [[UInt8]]) {
    guard !bytes.isEmpty else {
        require(messages.isEmpty, "empty SCRAM challenge after \(messages)")
        return
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        require(false, "SCRAM challenge not UTF-8")
        return
    }
    let fields = text.split(separator: ",", omittingEmptySubsequences: false)
    if text.hasPrefix("v=") {
        require(false, "server-final without a proof: \(text) after \(messages)")
        return
    }
    require(fields.count == 3, "server-first \(text)")
    require(fields[0].hasPrefix("r=") && fields[1].hasPrefix("s=") && fields[2].hasPrefix("i="), "server-first \(text)")
    require(fields[0].utf8.dropFirst(2).allSatisfy { (0x21...0x7E).contains($0) }, "nonce in \(text)")
    require(Base64.decode(fields[1].dropFirst(2).utf8)?.isEmpty == false, "salt in \(text)")
    require(Int(fields[2].dropFirst(2)).map(SCRAMCredential.allowedIterations.contains) == true, "count in \(text)")
}

// MARK: Scripted SCRAM client

private func scriptedSCRAM(_ input: FuzzInput, rightPassword: Bool) async {
    var input = input
    let clientFirst = Array(input.takeLine())
    let extensionLine = Array(input.takeLine())
    let exchange = SASLServerExchange(mechanism: .scramSHA256, lookup: lookup)
    lastLookup.withLock { $0 = nil }
    let first = await exchange.step(clientFirst)
    guard case .challenge(let serverFirstBytes) = first else {
        await requireFinished(exchange)
        return
    }
    checkSCRAMChallenge(serverFirstBytes, after: [clientFirst])
    let serverFirst = String(decoding: serverFirstBytes, as: UTF8.self)
    // The server accepted client-first, so it is `gs2-header bare` with the header up to the second comma.
    let text = String(decoding: clientFirst, as: UTF8.self)
    let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
    require(parts.count == 3, "server-first for client-first \(text)")
    let gs2Header = "\(parts[0]),\(parts[1]),"
    let bare = String(parts[2])
    let nonce = String(serverFirst.split(separator: ",")[0].dropFirst(2))
    require(bare.contains(",r=") && nonce.hasPrefix(bare.split(separator: ",")[1].dropFirst(2)), "nonce \(nonce)")

    var extensionText = ""
    if let name = extensionLine.first {
        let letter = (0x41...0x5A).contains(name) || (0x61...0x7A).contains(name) ? name : UInt8(ascii: "x")
        let value = extensionLine.dropFirst().filter { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ",") }
        extensionText = "," + String(decoding: [letter, UInt8(ascii: "=")] + value, as: UTF8.self)
    }
    let withoutProof = "c=\(Base64.encode(Array(gs2Header.utf8))),r=\(nonce)\(extensionText)"
    let authMessage = Array("\(bare),\(serverFirst),\(withoutProof)".utf8)
    let keys = rightPassword ? rightKeys : wrongKeys
    let proof = zip(keys.clientKey, hmac(keys.storedKey, authMessage)).map { $0 ^ $1 }
    let final = await exchange.step(Array("\(withoutProof),p=\(Base64.encode(proof))".utf8))

    // The user exists unless the server's lookup (of the prepared, lowercased name) was for "nobody…".
    let looked = lastLookup.withLock { $0 }
    require(looked != nil, "server-first without a lookup")
    let exists = !looked!.hasPrefix("nobody")
    guard rightPassword && exists else {
        require(final == .failure(.badCredentials), "SCRAM without the right proof answered \(final)")
        await requireFinished(exchange)
        return
    }
    let signature = hmac(rightKeys.serverKey, authMessage)
    require(final == .challenge(Array("v=\(Base64.encode(signature))".utf8)), "server-final \(final) for \(text)")
    let done = await exchange.step(input.choiceBool() ? nil : [])
    guard case .success(let name) = done else {
        require(false, "SCRAM with the right proof answered \(done)")
        return
    }
    require(!name.isEmpty && !name.hasPrefix("nobody"), "SCRAM success as \(name)")
    await requireFinished(exchange)
}
