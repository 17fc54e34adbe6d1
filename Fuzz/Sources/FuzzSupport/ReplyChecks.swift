import SMTPCore

/// A reply as it goes on the wire must be `NNN-text` CRLF lines ending with one `NNN text` CRLF line, the code
/// three digits from 2xx to 5xx, and no CR or LF anywhere else (RFC 5321 §4.2): otherwise a client's input
/// could inject a reply of its own.
public func requireWellFormed(_ reply: Reply, _ context: @autoclosure () -> String = "") {
    require((200...599).contains(reply.code), "reply code \(reply.code) \(context())")
    let wire = Array(reply.wireText.utf8)
    require(wire.count >= 6 && wire.suffix(2) == [0x0D, 0x0A], "reply not ended by CRLF: \(reply) \(context())")
    var lines: [ArraySlice<UInt8>] = []
    var start = 0
    var index = 0
    while index < wire.count {
        if wire[index] == 0x0D {
            require(index + 1 < wire.count && wire[index + 1] == 0x0A, "bare CR in reply \(reply) \(context())")
            lines.append(wire[start..<index])
            index += 2
            start = index
            continue
        }
        require(wire[index] != 0x0A, "bare LF in reply \(reply) \(context())")
        index += 1
    }
    require(lines.count == reply.lines.count, "reply has \(lines.count) wire lines for \(reply.lines.count)")
    let code = Array(String(reply.code).utf8)
    for (number, line) in lines.enumerated() {
        require(line.count >= 4 && Array(line.prefix(3)) == code, "reply line without its code: \(reply)")
        let separator = line[line.startIndex + 3]
        require(
            separator == (number == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-")),
            "reply line with the wrong separator: \(reply)")
    }
}
