/// Finds the stored credential of a user: given the prepared, lowercased address; nil for unknown users.
typealias CredentialLookup = @Sendable (String) async -> SCRAMCredential?
