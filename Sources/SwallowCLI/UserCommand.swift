import ArgumentParser
import MailStore
import SMTPAuth
import SwallowKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `swallow user add|passwd|remove|list`: the accounts that may AUTH. Passwords come from a terminal prompt
/// (not echoed) or from standard input, never from the command line, where `ps` and shell history would see them.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage the users who may authenticate (AUTH).",
        subcommands: [Add.self, Passwd.self, Remove.self, List.self])

    struct FileOptions: ParsableArguments {
        @Option(name: .shortAndLong, help: "The configuration file whose users file to use.")
        var config: String?

        @Option(name: .long, help: "The users file (default: <data dir>/users).")
        var usersFile: String?

        @Option(name: .long, help: "The data directory, when there is no configuration file.")
        var dataDir: String?

        /// Run as root for a server that serves as another user (`user` in the configuration): gives the users
        /// file to that user, so that the running server can still read it (each change replaces the file). A data
        /// directory this command made is handed over when the server starts.
        func giveToServer(_ file: UsersFile) throws {
            guard geteuid() == 0, let config else { return }
            var configuration = try ConfigurationLoader.load(file: config)
            guard let user = configuration.user else { return }
            if let dataDir { configuration.dataDirectory = dataDir }
            let account = try ServiceAccount(user: user, group: configuration.group)
            account.chownTree(file.path)
        }

        func file() throws -> UsersFile {
            if let usersFile { return UsersFile(path: usersFile) }
            var configuration =
                try config.map { path throws(ConfigurationError) in try ConfigurationLoader.load(file: path) }
                ?? SwallowConfiguration()
            if let dataDir { configuration.dataDirectory = dataDir }
            return UsersFile(path: configuration.resolvedUsersFile)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user, or replace its password.")
        @OptionGroup var options: FileOptions
        @Argument(help: "The user's address, e.g. alice@example.test.") var user: String

        func run() async throws {
            let file = try options.file()
            try setPassword(user: user, file: file, mustExist: false)
            try options.giveToServer(file)
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's password.")
        @OptionGroup var options: FileOptions
        @Argument(help: "The user's address.") var user: String

        func run() async throws {
            let file = try options.file()
            try setPassword(user: user, file: file, mustExist: true)
            try options.giveToServer(file)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @OptionGroup var options: FileOptions
        @Argument(help: "The user's address.") var user: String

        func run() async throws {
            let file = try options.file()
            guard try file.remove(user) else {
                Options.printError("no such user: \(user)")
                throw ExitCode.failure
            }
            try options.giveToServer(file)
            print("removed \(user.lowercased())")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users.")
        @OptionGroup var options: FileOptions

        func run() async throws {
            for user in try options.file().users() { print(user) }
        }
    }
}

private func setPassword(user: String, file: UsersFile, mustExist: Bool) throws {
    let parts = user.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !user.contains(":"), !user.contains(" ") else {
        Options.printError("\"\(user)\" is not an address like alice@example.test")
        throw ExitCode.failure
    }
    let exists = try file.users().contains(user.lowercased())
    if mustExist && !exists {
        Options.printError("no such user: \(user)")
        throw ExitCode.failure
    }
    // The data directory may not exist yet on a fresh machine: make the file's folder (0700).
    if let slash = file.path.lastIndex(of: "/") {
        try Maildir(path: String(file.path[..<slash])).createRoot()
    }
    guard let password = PasswordInput.read(confirm: isatty(0) == 1) else {
        Options.printError("no password given (or the two entries differ)")
        throw ExitCode.failure
    }
    try file.set(user.lowercased(), credential: SCRAMCredential.derive(password: password))
    print("\(exists ? "updated" : "added") \(user.lowercased()) in \(file.path)")
}

/// Reads a password from the terminal without echo, or one line from standard input when it is not a terminal.
enum PasswordInput {
    static func read(confirm: Bool) -> String? {
        guard isatty(0) == 1 else { return readLine(strippingNewline: true).flatMap { $0.isEmpty ? nil : $0 } }
        guard let first = prompt("Password: "), !first.isEmpty else { return nil }
        if confirm {
            guard prompt("Again: ") == first else { return nil }
        }
        return first
    }

    private static func prompt(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        var saved = termios()
        tcgetattr(0, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSAFLUSH, &silent)
        defer {
            tcsetattr(0, TCSAFLUSH, &saved)
            _ = write(2, "\n", 1)
        }
        return readLine(strippingNewline: true)
    }
}
