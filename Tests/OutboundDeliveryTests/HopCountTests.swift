import Testing

@testable import OutboundDelivery

@Test func countsReceivedHeadersOfTheHeaderSectionOnly() {
    let message = Array(
        ("Received: from a\r\n\tby b\r\nRECEIVED: x\r\nreceived:y\r\nX-Received: no\r\nSubject: s\r\n\r\n"
            + "Received: in the body\r\n").utf8)
    #expect(DeliveryWorker.countReceived(message) == 3)
    #expect(DeliveryWorker.countReceived([]) == 0)
    let loop = Array((String(repeating: "Received: hop\r\n", count: 51) + "\r\nbody\r\n").utf8)
    #expect(DeliveryWorker.countReceived(loop) == 51)
}
