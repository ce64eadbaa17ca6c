/// CNI spec versions and their ordering.
public enum CNIVersion {
    /// Versions whose results this library reads and writes.
    public static let all = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    public static let latest = "1.1.0"

    /// Compares dotted versions numerically; nil if either is malformed.
    public static func compare(_ a: String, _ b: String) -> Int? {
        guard let x = parts(a), let y = parts(b) else { return nil }
        for (p, q) in zip(x, y) where p != q { return p < q ? -1 : 1 }
        return 0
    }

    public static func atLeast(_ version: String, _ minimum: String) -> Bool {
        (compare(version, minimum) ?? -1) >= 0
    }

    static func parts(_ v: String) -> [Int]? {
        let p = v.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard p.count == 3, p.allSatisfy({ $0 != nil }) else { return nil }
        return p.map { $0! }
    }
}
