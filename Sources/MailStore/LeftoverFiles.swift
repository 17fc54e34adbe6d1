import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Removes what crashed deliveries leave in the mailboxes' `tmp` directories. Nothing there was ever acknowledged
/// or visible in `new`; left alone it would only take space.
public enum LeftoverFiles {
    /// Files in `tmp` older than this are abandoned whoever wrote them (the Maildir convention: 36 hours).
    public static let abandonedAfter: time_t = 36 * 3600

    /// Removes, from `<root>/<domain>/<mailbox>/tmp`, the files an earlier Swallow process named for `hostname`
    /// left (any process id but ours: call this only while holding the data directory's lock) and any file older
    /// than `abandonedAfter`. Returns how many files were removed.
    @discardableResult
    public static func remove(under root: String, hostname: String) -> Int {
        let ourSuffix = "." + UniqueName.hostPart(hostname)
        let ourProcess = "P\(getpid())Q"
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var removed = 0
        for domain in POSIXFile.entries(of: root) {
            for mailbox in POSIXFile.entries(of: root + "/" + domain) {
                let tmp = root + "/" + domain + "/" + mailbox + "/tmp"
                for name in POSIXFile.entries(of: tmp) {
                    let path = tmp + "/" + name
                    var info = stat()
                    guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                    let ours = name.hasSuffix(ourSuffix) && !name.contains(ourProcess)
                    let abandoned = now.tv_sec - info.st_mtim.tv_sec > abandonedAfter
                    if (ours || abandoned) && unlink(path) == 0 { removed += 1 }
                }
            }
        }
        return removed
    }
}
