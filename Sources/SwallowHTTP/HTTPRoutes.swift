import Hummingbird
import NIOCore

/// One group of routes of the daemon's HTTP service: metrics, health, and later the web inbox. A new feature adds
/// a type conforming to this and passes it to `HTTPService`; the service stays the same.
public protocol HTTPRoutes: Sendable {
    /// Adds this group's routes to the service's router.
    func register(on router: Router<BasicRequestContext>)
}

extension Response {
    /// A small plain-text response (health, errors).
    static func text(
        _ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8"
    )
        -> Response
    {
        Response(
            status: status, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
