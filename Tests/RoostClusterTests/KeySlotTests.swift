import RoostCluster
import Testing

@Suite("Key slots")
struct KeySlotTests {
    /// Answers of `CLUSTER KEYSLOT` from Debian's redis-server 7.0.15 in cluster mode.
    @Test(
        "CLUSTER KEYSLOT answers of redis-server 7.0.15",
        arguments: [
            ("foo", 12182), ("bar", 5061), ("{user1000}.following", 3443), ("{user1000}.followers", 3443),
            ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061), ("", 0), ("{", 4092),
            ("}", 12090), ("{}", 15257), ("a{b}", 3300),
        ])
    func redisAnswers(key: String, slot: Int) {
        #expect(keySlot(key) == slot)
        #expect(keySlot(Array(key.utf8)) == slot)
    }

    @Test("Hash tag rules: first open brace, first close brace after it, non-empty tag")
    func hashTags() {
        #expect(keySlot("foo{}{bar}") == Int(CRC16.checksum(Array("foo{}{bar}".utf8)) & 0x3FFF))
        #expect(keySlot("foo{{bar}}zap") == keySlot("{bar"))
        #expect(keySlot("foo{bar}{zap}") == keySlot("bar"))
        #expect(keySlot("x{tag}y") == keySlot("{tag}"))
        #expect(keySlot("}{tag}") == keySlot("tag"))
        #expect(keySlot("{unterminated") == Int(CRC16.checksum(Array("{unterminated".utf8)) & 0x3FFF))
    }

    @Test("CRC16/XMODEM check value")
    func checkValue() {
        #expect(CRC16.checksum(Array("123456789".utf8)) == 0x31C3)
        #expect(CRC16.checksum([]) == 0)
    }

    @Test("Every slot is in range, and binary keys work")
    func range() {
        var generator = SplitMix64(seed: 7)
        for length in 0..<200 {
            let key = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let slot = keySlot(key)
            #expect((0..<clusterSlotCount).contains(slot))
        }
    }
}
