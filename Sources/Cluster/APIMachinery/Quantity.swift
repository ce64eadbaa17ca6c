/// resource.Quantity's text ("100m", "1.5", "128Mi", "2G", "1e3") as a number: the forms
/// Kubernetes accepts, with its decimal (k, M, G, T, P, E), binary (Ki … Ei) and milli (m)
/// suffixes.
public enum Quantity {
    static let suffixes: [(String, Double)] = [
        ("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40), ("Pi", 0x1p50), ("Ei", 0x1p60),
        ("m", 0.001), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    /// The quantity's value in its base unit (cores, bytes); nil when it is not a quantity.
    public static func value(_ text: String) -> Double? {
        var number = Substring(text.trimmingSpaces)
        var scale = 1.0
        for (suffix, factor) in suffixes where number.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            scale = factor
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }), let value = Double(number) else {
            return nil
        }
        return value * scale
    }

    /// Thousandths of the base unit, rounded up (CPU in millicores), as Kubernetes' MilliValue.
    public static func milli(_ text: String) -> Int64? {
        value(text).map { Int64(($0 * 1000).rounded(.up)) }
    }

    /// The base unit, rounded up (memory in bytes), as Kubernetes' Value.
    public static func whole(_ text: String) -> Int64? {
        value(text).map { Int64($0.rounded(.up)) }
    }
}
