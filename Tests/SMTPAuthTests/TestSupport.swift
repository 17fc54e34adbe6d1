import Foundation
import Synchronization
import TestSupport
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

func writeFile(_ path: String, _ contents: [UInt8]) {
    let file = fopen(path, "wb")!
    _ = contents.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

/// The text of the file at `path`, nil when there is none.
func readText(_ path: String) -> String? {
    FileManager.default.fileExists(atPath: path) ? String(decoding: readFile(path), as: UTF8.self) : nil
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}
