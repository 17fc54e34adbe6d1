import SMTPAuth
import SMTPCore
import SMTPServer
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// AUTH against the users file: PLAIN, LOGIN and SCRAM-SHA-256 over the stored SCRAM keys. The file is re-read
/// when it changes, so `swallow user add` takes effect without a restart.
public final class LocalAuthenticator: SMTPAuthenticator {
    public let mechanisms: [String]
    private let file: UsersFile
    private let cache = Mutex<(stamp: FileStamp?, users: [String: SCRAMCredential])>((nil, [:]))

    public init(usersFile: String, mechanisms: [String]) {
        self.file = UsersFile(path: usersFile)
        self.mechanisms = mechanisms
    }

    public func makeExchange(mechanism: String, connection: ConnectionInfo) -> any SASLExchange {
        guard let kind = SASLMechanism(rawValue: mechanism) else { return RefusedExchange() }
        let exchange = SASLServerExchange(mechanism: kind) { user in self.credential(for: user) }
        return Exchange(exchange: exchange)
    }

    /// The credential of `user`, from the file as it is now.
    func credential(for user: String) -> SCRAMCredential? {
        let stamp = FileStamp(path: file.path)
        return cache.withLock { cache in
            if cache.stamp != stamp || stamp == nil {
                cache.users = (try? file.load()) ?? [:]
                cache.stamp = stamp
            }
            return cache.users[user.lowercased()]
        }
    }

    private struct Exchange: SASLExchange {
        let exchange: SASLServerExchange

        func step(_ response: [UInt8]?) async -> AuthStep {
            switch await exchange.step(response) {
            case .challenge(let bytes): .challenge(bytes)
            case .success(let user): .success(user)
            case .failure(.malformed): .failure(.malformed)
            case .failure: .failure(.badCredentials)
            }
        }
    }

    private struct RefusedExchange: SASLExchange {
        func step(_ response: [UInt8]?) async -> AuthStep { .failure(.temporary) }
    }
}

/// Modification time and size of a file, to notice when it was replaced.
struct FileStamp: Equatable {
    let seconds: Int
    let nanoseconds: Int
    let size: Int
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        seconds = Int(info.st_mtim.tv_sec)
        nanoseconds = Int(info.st_mtim.tv_nsec)
        size = Int(info.st_size)
        inode = UInt64(info.st_ino)
    }
}
