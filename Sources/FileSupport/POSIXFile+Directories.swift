#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension POSIXFile {
    /// `mkdir -p`: creates `path` and any missing parents with `mode` (filtered by the umask, as `mkdir` does),
    /// fsyncing the parent of each directory it creates. Existing directories are left as they are; anything
    /// else in the way is an error.
    public static func makeDirectories(_ path: String, mode: mode_t) throws(FileError) {
        // A relative path starts from ".", so that the first component's parent is a real directory to fsync.
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix, mode: mode)
        }
    }

    /// Creates the directory `path` with `mode` unless it already exists, and fsyncs its parent when it created
    /// it: a new directory is only durable once its entry in the parent is on disk. `path` existing as anything
    /// but a directory is an error.
    public static func makeDirectory(_ path: String, mode: mode_t) throws(FileError) {
        if mkdir(path, mode) == 0 {
            try syncDirectory(parentDirectory(of: path))
            return
        }
        let code = errno
        var info = stat()
        guard code == EEXIST, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw FileError(operation: "mkdir", path: path, code: code)
        }
    }

    /// Fsyncs the directory `path`, making the entries created, renamed or removed in it durable.
    public static func syncDirectory(_ path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: path) }
    }
}

extension POSIXFile {
    /// The names in the directory `path`, without `.` and `..`, in no order; none when it cannot be read.
    public static func entries(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
