import SMTPServer
import SwallowKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Merges the configuration file (or the embedded defaults) with command-line flags.
enum Options {
    static func resolve(
        file: String?, listen: [String], dataDir: String?, hostname: String?, logLevel: String?
    ) throws -> SwallowConfiguration {
        var configuration =
            try file.map { path throws(ConfigurationError) in try ConfigurationLoader.load(file: path) }
            ?? SwallowConfiguration()
        if !listen.isEmpty {
            configuration.listen = try listen.map { entry in
                guard let address = ListenAddress(parsing: entry) else {
                    throw ConfigurationError(
                        file: "command line", key: "--listen", message: "\"\(entry)\" is not HOST:PORT")
                }
                return address
            }
        }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let hostname { configuration.hostname = hostname }
        if let logLevel { configuration.logLevel = logLevel }
        return configuration
    }

    static func printError(_ error: Any) {
        let text = Array("swallow: error: \(error)\n".utf8)
        _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
