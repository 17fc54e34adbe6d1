/// The version `swallow --version` and `swallow status` print.
public enum SwallowVersion {
    public static let current = "0.1.0-dev"
}
