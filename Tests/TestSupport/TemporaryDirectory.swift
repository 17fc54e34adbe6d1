import Foundation
import Synchronization

/// A fresh directory under `/tmp` for one test, removed with everything in it when the object goes away (Swift
/// Testing makes a suite instance per test, and so one of these per test when a suite holds one).
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "swallow-test") {
        path = makeDirectory(prefix: prefix)
    }

    /// The path of `name` inside the directory.
    public func callAsFunction(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A fresh directory under `/tmp`, removed with everything in it when the test process exits: for tests that
/// only need a path.
public func makeTemporaryDirectory(prefix: String = "swallow-test") -> String {
    let path = makeDirectory(prefix: prefix)
    LeftAtExit.shared.remember(path)
    return path
}

/// A fresh directory for the duration of `body`, removed afterwards.
public func withTemporaryDirectory<Result>(
    prefix: String = "swallow-test", _ body: (String) async throws -> Result
) async rethrows -> Result {
    let directory = TemporaryDirectory(prefix: prefix)
    defer { withExtendedLifetime(directory) {} }
    return try await body(directory.path)
}

private func makeDirectory(prefix: String) -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// The directories `makeTemporaryDirectory()` made, removed by an `atexit` handler.
private final class LeftAtExit: Sendable {
    static let shared = LeftAtExit()
    private let paths = Mutex<[String]>([])

    private init() {
        atexit { LeftAtExit.shared.removeAll() }
    }

    func remember(_ path: String) { paths.withLock { $0.append(path) } }

    private func removeAll() {
        for path in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
