#if canImport(Glibc)
import Glibc
#endif

/// Kubernetes timestamps (RFC 3339, UTC, whole seconds: "2026-11-24T10:00:00Z") and ages.
public enum APITime {
    public static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_sec
    }

    public static func format(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
    }

    /// Seconds since the epoch of an RFC 3339 time ("…Z" or with an offset; fractions ignored).
    public static func parse(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var v: Int32 = 0
            for i in range {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int32(b[i] - 48)
            }
            return v
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var seconds = Int(timegm(&parts))
        var i = 19
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
        }
        if i + 6 == b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"),
           let oh = number(i + 1..<i + 3), let om = number(i + 4..<i + 6) {
            let offset = Int(oh) * 3600 + Int(om) * 60
            seconds += b[i] == UInt8(ascii: "+") ? -offset : offset
        }
        return seconds
    }

    /// kubectl's short age: "45s", "12m", "3h", "5d", "2y".
    public static func age(since seconds: Int, now: Int = now()) -> String {
        let d = max(0, now - seconds)
        switch d {
        case ..<120: return "\(d)s"
        case ..<(60 * 60 * 2): return "\(d / 60)m"
        case ..<(60 * 60 * 48): return "\(d / 3600)h"
        case ..<(60 * 60 * 24 * 365 * 2): return "\(d / 86400)d"
        default: return "\(d / (86400 * 365))y"
        }
    }
}

/// Random RFC 4122 version-4 UUIDs for `metadata.uid`.
public enum UIDGenerator {
    public static func make() -> String {
        // Two draws of 8 bytes (each is a getrandom call; one per byte made it 16), printed
        // straight into the string's storage.
        var g = SystemRandomNumberGenerator()
        let high = g.next(), low = g.next()
        let hex: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { out in
            var at = 0
            for i in 0..<16 {
                var byte = UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> UInt64(8 * (i % 8)))
                if i == 6 { byte = byte & 0x0F | 0x40 }
                if i == 8 { byte = byte & 0x3F | 0x80 }
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[at] = UInt8(ascii: "-")
                    at += 1
                }
                out[at] = hex.utf8Start[Int(byte >> 4)]
                out[at + 1] = hex.utf8Start[Int(byte & 0xF)]
                at += 2
            }
            return at
        }
    }

    /// The random suffix `generateName` gets: five of kubernetes' unambiguous alphanumerics.
    public static func nameSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<5).map { _ in alphabet.randomElement(using: &g)! })
    }
}
