import FileSupport
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `SyncStrategy` of each file system that holds mail or the journal, learned from `statfs` when the daemon
/// starts or a mailbox is first used, and logged once per file system.
///
/// A commit round and the journal's checkpoint ask by device: one lookup per batch, no system call once known. A
/// device never seen (a mailbox directory mounted after it was created) is looked up on the spot.
public final class SyncStrategies: Sendable {
    /// The strategies of the daemon's file systems, shared by its committer, journal and mailboxes.
    public static let shared = SyncStrategies()

    private let known = Mutex<[UInt64: SyncStrategy]>([:])
    private let forced: SyncStrategy?
    private let logger: Logger

    /// - Parameter forced: the strategy for every file system, whatever its type; for tests that must take a
    ///   path their own file system would not.
    public init(forcing forced: SyncStrategy? = nil, logger: Logger = Logger(label: "swallow.store")) {
        self.forced = forced
        self.logger = logger
    }

    /// The strategy of the file system holding the directory `path`; learns and logs it the first time.
    @discardableResult
    public func strategy(forDirectory path: String) throws(FileError) -> SyncStrategy {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileError(operation: "stat", path: path) }
        return try strategy(device: UInt64(info.st_dev), directory: path)
    }

    /// The strategy of `device`; `directory` (a directory on it) is asked with `statfs` the first time.
    func strategy(device: UInt64, directory: String) throws(FileError) -> SyncStrategy {
        if let strategy = known.withLock({ $0[device] }) { return strategy }
        let type = try FileSystemType.of(directory)
        let strategy = forced ?? SyncStrategy.forFileSystem(type)
        let isNew = known.withLock { known in
            defer { known[device] = strategy }
            return known[device] == nil
        }
        if isNew {
            logger.notice(
                "file system \(type) made durable by \(strategy)",
                metadata: ["directory": "\(directory)", "device": "\(device)"])
        }
        return strategy
    }
}
