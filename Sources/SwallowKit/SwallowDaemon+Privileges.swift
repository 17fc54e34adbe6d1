import FileSupport
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SwallowDaemon {
    /// Gives the data directory to the account, as root, before setting up as the account: the directory itself
    /// (made if missing: its parent, such as /var/lib, is root's), and what is in it. The Maildirs are walked only
    /// when the directory was not the account's yet (a data directory of a run as root): after that, everything
    /// in them is made by the account, and a start does not stat every message.
    static func handOver(
        _ directory: String, to account: ServiceAccount, logger: Logger
    ) throws(DaemonSetupError) {
        do throws(FileError) {
            try POSIXFile.makeDirectories(directory, mode: 0o750)
        } catch {
            throw DaemonSetupError(message: "cannot use data directory \(directory): \(error)")
        }
        var info = stat()
        let owned = stat(directory, &info) == 0 && info.st_uid == account.uid
        if !owned {
            logger.notice("giving the data directory to \(account.user)", metadata: ["dir": "\(directory)"])
        }
        account.chownTree(directory, skipping: owned ? ["mail"] : [])
    }
}
