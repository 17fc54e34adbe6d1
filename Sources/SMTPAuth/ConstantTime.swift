/// Byte-string equality whose running time depends only on the lengths, never on where the first difference is,
/// so comparing a key an attacker influences cannot tell them how many leading bytes they got right.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}
