import Foundation

/// The names in `directory` without `.` and `..` (hidden ones included: a leftover temporary file starts with a
/// dot), sorted; empty when it cannot be read.
public func listDirectory(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// The bytes of the file at `path`; empty when it cannot be read.
public func readFile(_ path: String) -> [UInt8] {
    (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Array($0) } ?? []
}
