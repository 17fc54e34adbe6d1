/// The file operations Swallow's modules share, in plain POSIX calls that say exactly what happens: modes are set
/// with `fchmod` (no umask surprises), `EINTR` is retried, and whatever must survive a crash is fsynced, together
/// with the directory entry that names it.
///
/// Every failure is a `FileError` naming the path. Policies — size limits, modes, locking, ownership — belong to
/// the callers and come in as parameters.
public enum POSIXFile {}
