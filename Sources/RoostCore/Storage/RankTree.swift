/// An order-statistics treap over (score, member) pairs: insert, remove, rank and select in O(log n) expected.
///
/// A treap (Seidel and Aragon, "Randomized Search Trees", 1996) is a binary search tree on the keys that is also a
/// heap on random priorities, which keeps its expected depth logarithmic whatever the insertion order. Each node also
/// stores the size of its subtree, so the rank of a key (how many are smaller) and the element of a given rank are
/// found on one root-to-leaf path (Cormen et al., "order-statistic trees"). Nodes live in one array addressed by
/// `Int32` (freed slots are reused), which keeps the structure a copy-on-write value.
///
/// Order: by score, then by member bytes (unsigned, a prefix first), as Redis's skip list orders a sorted set.
/// Priorities come from a seeded generator, so a tree's shape depends only on its operations.
struct RankTree: Sendable {
    struct Node: Sendable {
        var score: Double
        var member: [UInt8]
        var left: Int32 = -1
        var right: Int32 = -1
        var size: Int32 = 1
        var priority: UInt64
    }

    private(set) var nodes: [Node] = []
    private var freeSlots: [Int32] = []
    private var root: Int32 = -1
    private var seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Number of elements.
    var count: Int { root < 0 ? 0 : Int(nodes[Int(root)].size) }

    /// Whether `(score, member)` sorts before `(otherScore, other)`.
    @inline(__always)
    static func precedes(_ score: Double, _ member: [UInt8], _ otherScore: Double, _ other: [UInt8]) -> Bool {
        score < otherScore || (score == otherScore && member.lexicographicallyPrecedes(other))
    }

    private mutating func nextPriority() -> UInt64 {
        // SplitMix64.
        seed &+= 0x9E37_79B9_7F4A_7C15
        var z = seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always) private func size(_ node: Int32) -> Int32 { node < 0 ? 0 : nodes[Int(node)].size }

    @inline(__always) private mutating func update(_ node: Int32) {
        let n = Int(node)
        nodes[n].size = 1 + size(nodes[n].left) + size(nodes[n].right)
    }

    /// Splits `node` into the elements before `(score, member)` and the rest.
    private mutating func split(_ node: Int32, _ score: Double, _ member: [UInt8]) -> (Int32, Int32) {
        guard node >= 0 else { return (-1, -1) }
        let n = Int(node)
        if RankTree.precedes(nodes[n].score, nodes[n].member, score, member) {
            let (left, right) = split(nodes[n].right, score, member)
            nodes[n].right = left
            update(node)
            return (node, right)
        }
        let (left, right) = split(nodes[n].left, score, member)
        nodes[n].left = right
        update(node)
        return (left, node)
    }

    /// Joins two trees, every element of `left` before every element of `right`.
    private mutating func merge(_ left: Int32, _ right: Int32) -> Int32 {
        if left < 0 { return right }
        if right < 0 { return left }
        if nodes[Int(left)].priority > nodes[Int(right)].priority {
            nodes[Int(left)].right = merge(nodes[Int(left)].right, right)
            update(left)
            return left
        }
        nodes[Int(right)].left = merge(left, nodes[Int(right)].left)
        update(right)
        return right
    }

    /// Inserts an element that is not in the tree.
    mutating func insert(score: Double, member: [UInt8]) {
        let node = Node(score: score, member: member, priority: nextPriority())
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            nodes[Int(slot)] = node
        } else {
            slot = Int32(nodes.count)
            nodes.append(node)
        }
        let (left, right) = split(root, score, member)
        root = merge(merge(left, slot), right)
    }

    /// Removes the element `(score, member)`, which must be in the tree.
    mutating func remove(score: Double, member: [UInt8]) {
        root = remove(root, score, member)
        if root < 0 {
            nodes = []
            freeSlots = []
        }
    }

    private mutating func remove(_ node: Int32, _ score: Double, _ member: [UInt8]) -> Int32 {
        precondition(node >= 0, "RankTree.remove: element not in the tree")
        let n = Int(node)
        if nodes[n].score == score && nodes[n].member == member {
            let joined = merge(nodes[n].left, nodes[n].right)
            nodes[n].member = []
            freeSlots.append(node)
            return joined
        }
        if RankTree.precedes(score, member, nodes[n].score, nodes[n].member) {
            nodes[n].left = remove(nodes[n].left, score, member)
        } else {
            nodes[n].right = remove(nodes[n].right, score, member)
        }
        update(node)
        return node
    }

    /// How many elements sort before `(score, member)`.
    func rank(score: Double, member: [UInt8]) -> Int {
        countBefore { RankTree.precedes($0.score, $0.member, score, member) }
    }

    /// How many elements have a score below `score` (or at most `score` when `inclusive`).
    func count(scoreBelow score: Double, inclusive: Bool) -> Int {
        countBefore { inclusive ? $0.score <= score : $0.score < score }
    }

    /// How many elements have a member before `member` (or at most `member` when `inclusive`); meaningful when all
    /// scores are equal (Redis's lexicographic ranges).
    func count(memberBelow member: [UInt8], inclusive: Bool) -> Int {
        countBefore {
            inclusive ? !member.lexicographicallyPrecedes($0.member) : $0.member.lexicographicallyPrecedes(member)
        }
    }

    /// The number of elements for which `isBefore` holds, given that it holds for a prefix of the order.
    private func countBefore(_ isBefore: (Node) -> Bool) -> Int {
        var node = root
        var result = 0
        while node >= 0 {
            let n = nodes[Int(node)]
            if isBefore(n) {
                result += Int(size(n.left)) + 1
                node = n.right
            } else {
                node = n.left
            }
        }
        return result
    }

    /// The element of rank `rank` (`0..<count`).
    func element(at rank: Int) -> (score: Double, member: [UInt8]) {
        var node = root
        var remaining = Int32(rank)
        while true {
            let n = nodes[Int(node)]
            let leftSize = size(n.left)
            if remaining < leftSize {
                node = n.left
            } else if remaining == leftSize {
                return (n.score, n.member)
            } else {
                remaining -= leftSize + 1
                node = n.right
            }
        }
    }

    /// Heap bytes of the node array (members are counted by the owner).
    var footprint: Int {
        nodes.capacity == 0
            ? 0
            : HashValue.heapFootprint(elementBytes: nodes.capacity * MemoryLayout<Node>.stride)
                + (freeSlots.capacity == 0 ? 0 : HashValue.heapFootprint(elementBytes: freeSlots.capacity * 4))
    }
}
