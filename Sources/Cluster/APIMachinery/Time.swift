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
        // Digits written straight into the string (interpolating padded pieces cost a create ~1 µs).
        return String(unsafeUninitializedCapacity: 20) { out in
            func put(_ value: Int32, _ width: Int, at end: Int) {
                var v = value
                for i in stride(from: end - 1, through: end - width, by: -1) {
                    out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(parts.tm_year + 1900, 4, at: 4); out[4] = UInt8(ascii: "-")
            put(parts.tm_mon + 1, 2, at: 7); out[7] = UInt8(ascii: "-")
            put(parts.tm_mday, 2, at: 10); out[10] = UInt8(ascii: "T")
            put(parts.tm_hour, 2, at: 13); out[13] = UInt8(ascii: ":")
            put(parts.tm_min, 2, at: 16); out[16] = UInt8(ascii: ":")
            put(parts.tm_sec, 2, at: 19); out[19] = UInt8(ascii: "Z")
            return 20
        }
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

    /// An age as kube-apiserver's printers write it (apimachinery's HumanDuration): seconds up
    /// to two minutes, then "4m12s" under ten minutes, minutes under three hours, "5h30m" under
    /// eight hours, hours under two days, "3d4h" under eight days, days under two years, then
    /// "3y20d" under eight years and years. A time a second ahead is "0s", further "<invalid>".
    public static func age(since seconds: Int, now: Int = now()) -> String {
        humanDuration(now - seconds)
    }

    /// apimachinery's HumanDuration of `seconds`.
    public static func humanDuration(_ seconds: Int) -> String {
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 60 * 2 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let s = seconds % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 60 * 3 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let days = (hours / 24) % 365
            return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d"
        }
        return "\(hours / 24 / 365)y"
    }
}

/// Random RFC 4122 version-4 UUIDs for `metadata.uid`.
public enum UIDGenerator {
    public static func make() -> String {
        // The 16 bytes in one getrandom call (glibc's arc4random_buf; SystemRandomNumberGenerator
        // makes one per 8 bytes, and the calls are most of a UID's cost), printed straight
        // into the string's storage.
        var words = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &words) { arc4random_buf($0.baseAddress!, 16) }
        let (high, low) = words
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
