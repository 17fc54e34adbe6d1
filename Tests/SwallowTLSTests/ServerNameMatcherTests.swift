import Testing

@testable import SwallowTLS

@Suite("SNI matching")
struct ServerNameMatcherTests {
    let matcher = ServerNameMatcher([
        ["default.test"],
        ["a.test", "*.wild.test"],
        ["b.test", "specific.wild.test"],
        ["a.test", "*.wild.test", "*.other.test"],
    ])

    @Test("exact names, any case, with or without a trailing dot")
    func exact() {
        #expect(matcher.chainIndex(for: "default.test") == 0)
        #expect(matcher.chainIndex(for: "a.test") == 1)
        #expect(matcher.chainIndex(for: "B.Test") == 2)
        #expect(matcher.chainIndex(for: "b.test.") == 2)
    }

    @Test("a wildcard covers exactly one label; an exact name beats it; the first chain wins a tie")
    func wildcard() {
        #expect(matcher.chainIndex(for: "x.wild.test") == 1)
        #expect(matcher.chainIndex(for: "X.WILD.TEST") == 1)
        #expect(matcher.chainIndex(for: "specific.wild.test") == 2)
        #expect(matcher.chainIndex(for: "x.other.test") == 3)
        #expect(matcher.chainIndex(for: "wild.test") == nil)
        #expect(matcher.chainIndex(for: "y.x.wild.test") == nil)
        #expect(matcher.chainIndex(for: ".wild.test") == nil)
    }

    @Test("unknown names match nothing (the default chain is used)")
    func unknown() {
        #expect(matcher.chainIndex(for: "c.test") == nil)
        #expect(matcher.chainIndex(for: "") == nil)
        #expect(matcher.chainIndex(for: "test") == nil)
    }
}
