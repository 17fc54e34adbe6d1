import ArgumentParser
import SwallowTLS

/// `swallow cert`: write a self-signed certificate and key for development and testing with STARTTLS.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Write a self-signed certificate and key (cert.pem, key.pem) for development.",
        discussion: """
            The key is P-256 ECDSA, written with mode 0600. Names that are IP addresses become IP address \
            subject alternative names, others DNS names; the first is also the subject's common name. \
            Existing files in the directory are replaced.
            """)

    @Option(name: .customLong("name"), help: "A DNS name or IP address the certificate is for (repeatable).")
    var names: [String] = ["localhost", "127.0.0.1", "::1"]

    @Option(name: .customLong("out"), help: "The directory for cert.pem and key.pem (created 0700).")
    var directory: String = "./swallow-data/tls"

    @Option(help: "How many days the certificate is valid.")
    var days: Int = 365

    init() {}

    func validate() throws {
        guard days >= 1 else { throw ValidationError("--days must be at least 1") }
    }

    func run() async throws {
        do {
            let files = try SelfSignedCertificate.write(names: names, to: directory, days: days)
            print("certificate: \(files.certificatePath)")
            print("key: \(files.keyPath)")
            print("names: \(names.joined(separator: ", "))")
            print("SHA-256 fingerprint: \(try files.sha256Fingerprint())")
        } catch {
            Options.printError(error)
            throw ExitCode.failure
        }
    }
}
