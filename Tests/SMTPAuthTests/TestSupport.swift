import Synchronization
import Testing

@testable import SMTPAuth

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RFC 7677's minimum: enough for real keys while keeping each derivation in the tests short.
let testIterations = 4096

/// Known users and their passwords, derived once for all tests.
enum TestUsers {
    static let passwords = ["alice@example.test": "secret", "we,ird=name@example.test": "pa55"]
    static let credentials: [String: SCRAMCredential] = passwords.mapValues {
        SCRAMCredential.derive(password: $0, iterations: testIterations)
    }
}

/// A lookup over `TestUsers` that remembers the names it was asked for.
final class RecordingLookup: Sendable {
    private let store: [String: SCRAMCredential]
    private let asked = Mutex<[String]>([])

    init(_ store: [String: SCRAMCredential] = TestUsers.credentials) { self.store = store }

    var names: [String] { asked.withLock { $0 } }

    var function: @Sendable (String) async -> SCRAMCredential? {
        { name in
            self.asked.withLock { $0.append(name) }
            return self.store[name]
        }
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ outcome: SASLOutcome) -> String? {
    guard case .challenge(let bytes) = outcome else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/smtpauth-test-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

func writeFile(_ path: String, _ contents: [UInt8]) {
    let file = fopen(path, "wb")!
    _ = contents.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { bytes += chunk[..<count] }
    return String(decoding: bytes, as: UTF8.self)
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}
