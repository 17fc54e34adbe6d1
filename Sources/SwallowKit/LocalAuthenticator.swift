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
///
/// An account that has failed too often within the window (whatever the client address) cannot log in until the
/// window passes: its attempts fail exactly like a wrong password, so the lock reveals nothing to a guesser.
public final class LocalAuthenticator: SMTPAuthenticator {
    public let mechanisms: [String]
    private let file: UsersFile
    private let accounts: AuthThrottle
    private let cache = Mutex<(stamp: FileStamp?, users: [String: SCRAMCredential])>((nil, [:]))

    public init(usersFile: String, mechanisms: [String], failuresPerAccount: Int = 20, window: Duration = .seconds(300))
    {
        self.file = UsersFile(path: usersFile)
        self.mechanisms = mechanisms
        self.accounts = AuthThrottle(limit: failuresPerAccount, window: window)
    }

    public func makeExchange(mechanism: String, connection: ConnectionInfo) -> any SASLExchange {
        guard let kind = SASLMechanism(rawValue: mechanism) else { return RefusedExchange() }
        let attempted = Attempt()
        let exchange = SASLServerExchange(mechanism: kind) { user in
            attempted.user.withLock { $0 = user.lowercased() }
            // A locked account gets the decoy's treatment: same work, same failure.
            return self.accounts.isBlocked(user.lowercased()) ? nil : self.credential(for: user)
        }
        return Exchange(exchange: exchange, attempted: attempted, accounts: accounts)
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
        let attempted: Attempt
        let accounts: AuthThrottle

        func step(_ response: [UInt8]?) async -> AuthStep {
            switch await exchange.step(response) {
            case .challenge(let bytes): return .challenge(bytes)
            case .success(let user): return .success(user)
            case .failure(.malformed): return .failure(.malformed)
            case .failure:
                if let user = attempted.user.withLock({ $0 }) { accounts.recordFailure(user) }
                return .failure(.badCredentials)
            }
        }
    }

    /// The account an exchange tried, once the mechanism has named it.
    private final class Attempt: Sendable {
        let user = Mutex<String?>(nil)
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
