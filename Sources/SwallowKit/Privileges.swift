#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The account the daemon serves as when started as root (`user`, `group` in the configuration): it binds its
/// listeners as root, then gives root up for good before it reads a client byte.
///
/// While the daemon sets itself up (data directory, journal replay, certificates) it already acts as this account
/// through its effective ids, so every file it makes belongs to it and every file it needs must be readable by it,
/// as it will be after the drop; only binding the listeners is done as root.
public struct ServiceAccount: Sendable, Equatable {
    public let user: String
    public let uid: uid_t
    public let gid: gid_t

    /// Looks the account up: `group` names the group (default: the user's primary group).
    public init(user: String, group: String?) throws(DaemonSetupError) {
        guard let entry = getpwnam(user) else {
            throw DaemonSetupError(message: "user: no such user \"\(user)\"")
        }
        self.user = user
        uid = entry.pointee.pw_uid
        if let group {
            guard let groupEntry = getgrnam(group) else {
                throw DaemonSetupError(message: "group: no such group \"\(group)\"")
            }
            gid = groupEntry.pointee.gr_gid
        } else {
            gid = entry.pointee.pw_gid
        }
        guard uid != 0 else {
            throw DaemonSetupError(message: "user: \"\(user)\" is root; name an unprivileged user")
        }
    }

    /// Acts as the account for file access (effective ids) while keeping the right to become root again.
    func actAs() throws(DaemonSetupError) {
        guard setegid(gid) == 0, seteuid(uid) == 0 else {
            throw DaemonSetupError(message: "cannot act as user \(user): \(String(cString: strerror(errno)))")
        }
    }

    /// Takes the effective root ids back (to bind the listeners).
    func actAsRoot() throws(DaemonSetupError) {
        guard seteuid(0) == 0, setegid(0) == 0 else {
            throw DaemonSetupError(message: "cannot become root again: \(String(cString: strerror(errno)))")
        }
    }

    /// Gives root up for good: supplementary groups, then group, then user (in that order: once the uid is not
    /// 0, the others can no longer be changed). glibc applies each to every thread of the process. Checked after:
    /// a process that could become root again is refused.
    func drop() throws(DaemonSetupError) {
        if geteuid() != 0, seteuid(0) != 0 {
            throw DaemonSetupError(message: "cannot drop privileges: not root")
        }
        var groups = [gid]
        guard setgroups(1, &groups) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw DaemonSetupError(
                message: "cannot switch to user \(user): \(String(cString: strerror(errno)))")
        }
        guard getuid() == uid, geteuid() == uid, getgid() == gid, getegid() == gid, setuid(0) != 0 else {
            throw DaemonSetupError(message: "privileges were not dropped completely")
        }
    }

    /// Gives `path` and what is under it to the account, leaving alone what it already owns; `skipping` names
    /// entries of `path` itself not to descend into. Symbolic links are changed, not followed.
    public func chownTree(_ path: String, skipping: Set<String> = []) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_uid != uid || info.st_gid != gid { _ = lchown(path, uid, gid) }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR), let directory = opendir(path) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." || skipping.contains(name) { continue }
            chownTree(path + "/" + name)
        }
    }
}

/// What the daemon does about its user at start, decided from the configuration and who started it.
public enum PrivilegePlan: Sendable, Equatable {
    /// Run as whoever started the daemon: not root, or root with `allow_root`, or root on loopback only.
    case keep
    /// Started as root with `user`: bind as root, then serve as this account.
    case drop(ServiceAccount)

    /// Root without `user` is refused when any listener (SMTP or HTTP) is reachable from beyond this machine,
    /// unless `allow_root = true`: a server on the internet should not parse hostile input as root. On loopback
    /// only (development, test suites run as root) it is allowed with a warning.
    public static func decide(
        _ configuration: SwallowConfiguration, effectiveUID: uid_t = geteuid()
    ) throws(DaemonSetupError) -> PrivilegePlan {
        if let user = configuration.user {
            let account = try ServiceAccount(user: user, group: configuration.group)
            if effectiveUID == 0 { return .drop(account) }
            guard effectiveUID == account.uid else {
                throw DaemonSetupError(
                    message: "user: cannot switch to \"\(user)\": Swallow was not started as root (uid \(effectiveUID))"
                )
            }
            return .keep
        }
        guard effectiveUID == 0, !configuration.allowRoot else { return .keep }
        let hosts = configuration.listen.map(\.host) + (configuration.httpListen.map { [$0.host] } ?? [])
        if let open = hosts.first(where: { !isLoopback($0) }) {
            throw DaemonSetupError(
                message:
                    "refusing to serve as root on \(open): set user = \"…\" (the account to serve as after binding) or allow_root = true"
            )
        }
        return .keep
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
