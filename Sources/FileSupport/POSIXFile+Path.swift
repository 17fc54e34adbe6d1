extension POSIXFile {
    /// The directory holding `path`: the one whose entry changes when `path` is created or renamed, and so the
    /// one to fsync. `"."` for a bare name, `"/"` for an entry of the root.
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
