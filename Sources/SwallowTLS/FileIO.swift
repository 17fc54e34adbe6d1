import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few file operations SwallowTLS needs, over the shared POSIX primitives (modes set exactly, fsync before
/// rename), with SwallowTLS's size limit and its errors: `TLSSetupError`s that name the file at fault.
enum FileIO {
    /// Certificate chains and keys are a few KiB; refusing larger files keeps a wrong path (a log, `/dev/zero`)
    /// from being read into memory.
    static let maximumSize = 1 << 20

    /// The whole file, or an error naming it.
    static func readFile(_ path: String) throws(TLSSetupError) -> [UInt8] {
        do throws(FileError) {
            return try POSIXFile.contents(of: path, maximumSize: maximumSize)
        } catch {
            guard error.code != EFBIG else {
                throw TLSSetupError(
                    file: path, reason: .unreadable,
                    message: "larger than \(maximumSize) bytes; not a certificate or key")
            }
            throw TLSSetupError(error, reason: .unreadable)
        }
    }

    /// Whether `path` names an existing file (of any kind).
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Replaces `path` with `contents` so that readers see the old file or the new one, never a part:
    /// written to a temporary file in the same directory, fsynced, renamed over `path`, directory fsynced.
    static func writeAtomically(_ path: String, contents: String, mode: mode_t) throws(TLSSetupError) {
        do throws(FileError) {
            try POSIXFile.replace(path, with: Array(contents.utf8), mode: mode)
        } catch {
            throw TLSSetupError(error, reason: .unwritable)
        }
    }

    /// Creates `path` and any missing parents with `mode`; existing directories are left as they are.
    static func makeDirectory(_ path: String, mode: mode_t) throws(TLSSetupError) {
        do throws(FileError) {
            try POSIXFile.makeDirectories(path, mode: mode)
        } catch {
            throw TLSSetupError(error, reason: .unwritable)
        }
    }
}

extension TLSSetupError {
    /// The failed call as SwallowTLS reports it: the path first, then what could not be done and why, as in
    /// `tls/key.pem: cannot open: Permission denied`.
    fileprivate init(_ failure: FileError, reason: Reason) {
        self.init(file: failure.path, reason: reason, message: "cannot \(failure.operation): \(failure.systemMessage)")
    }
}
