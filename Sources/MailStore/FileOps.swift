import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// MailStore's use of the shared file primitives: its policy (mailbox directories are the owner's alone) and its
/// error type (`MaildirError`, which the delivery backend turns into SMTP replies).
enum FileOps {
    /// Mail is private: nobody but the mailbox's owner may list or read it.
    static let directoryMode: mode_t = 0o700

    static func makeDirectories(_ path: String) throws(MaildirError) {
        try maildirErrors { () throws(FileError) in try POSIXFile.makeDirectories(path, mode: directoryMode) }
    }

    /// `mkdir` that tolerates an existing directory and fsyncs the parent when it created one.
    static func makeDirectory(_ path: String) throws(MaildirError) {
        try maildirErrors { () throws(FileError) in try POSIXFile.makeDirectory(path, mode: directoryMode) }
    }

    static func syncDirectory(_ path: String) throws(MaildirError) {
        try maildirErrors { () throws(FileError) in try POSIXFile.syncDirectory(path) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(MaildirError) {
        try maildirErrors { () throws(FileError) in try POSIXFile.writeAll(fd, bytes, path: path) }
    }

    private static func maildirErrors(_ body: () throws(FileError) -> Void) throws(MaildirError) {
        do { try body() } catch { throw MaildirError(error) }
    }
}
