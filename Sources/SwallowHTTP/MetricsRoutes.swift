import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// `GET /metrics`: every swift-metrics metric of the process in the Prometheus text exposition format (0.0.4).
public struct MetricsRoutes: HTTPRoutes {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func register(on router: Router<BasicRequestContext>) {
        let registry = self.registry
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            registry.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// Makes Prometheus the process's swift-metrics backend and returns the registry `/metrics` reads. Call once,
    /// before any metric is made: a metric made earlier stays with the no-op backend (swift-metrics allows one
    /// bootstrap per process).
    ///
    /// - Parameter valueBuckets: histogram buckets for aggregating recorders, by metric name (sizes, counts).
    public static func bootstrap(valueBuckets: [String: [Double]] = [:]) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // From a fraction of a millisecond (a journal commit) to ten seconds (a large message on a slow disk).
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets = valueBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
