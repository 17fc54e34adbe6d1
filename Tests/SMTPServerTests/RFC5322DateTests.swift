import Testing

@testable import SMTPServer

@Suite struct RFC5322DateTests {
    @Test func formatsInUTC() {
        #expect(RFC5322Date.format(0) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(RFC5322Date.format(1_796_029_729) == "Mon, 30 Nov 2026 09:08:49 +0000")
    }

    /// The per-second cache must not hand out the previous second's text.
    @Test func eachSecondGetsItsOwnText() {
        #expect(RFC5322Date.format(86_399) == "Thu, 01 Jan 1970 23:59:59 +0000")
        #expect(RFC5322Date.format(86_399) == "Thu, 01 Jan 1970 23:59:59 +0000")
        #expect(RFC5322Date.format(86_400) == "Fri, 02 Jan 1970 00:00:00 +0000")
        #expect(RFC5322Date.format(86_399) == "Thu, 01 Jan 1970 23:59:59 +0000")
    }
}
