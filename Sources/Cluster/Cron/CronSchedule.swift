#if canImport(FoundationEssentials) && canImport(FoundationInternationalization)
// Linux: TimeZone with ICU's time-zone database and nothing else of Foundation. Essentials
// alone knows fixed offsets only (TimeZone(identifier: "Europe/Berlin") is nil unless
// FoundationInternationalization is loaded), so importing it here is what makes zones work.
import FoundationEssentials
import FoundationInternationalization
#else
import Foundation
#endif

// Cron schedules as Kubernetes reads `spec.schedule`: robfig/cron v3's standard parser and
// its `Next`, which kube-apiserver validates with and kube-controller-manager schedules by.
// Times are Unix seconds (Int), as everywhere in Netplane (APITime); this module imports
// nothing of the project, so the API server and the controllers share it.

/// Why a schedule cannot be read.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// An empty schedule.
        case empty
        /// Not five fields.
        case fieldCount
        /// A value that is neither a number nor a name the field knows ("FOO", "5x", "").
        case unknownValue
        /// A number outside the field's range (minute 60, day of week 7).
        case outOfRange
        /// A malformed range or step ("5-1", "*/0", "1-2-3", "*/2/3").
        case invalidRange
        /// An @-macro that does not exist, or an @every without a duration.
        case descriptor
        /// TZ= or CRON_TZ= in the schedule: Kubernetes wants `spec.timeZone`.
        case timeZoneInSchedule
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// kube-apiserver's message for a schedule with a time zone in it.
    public static let timeZoneInSchedule = CronError(.timeZoneInSchedule,
                                                     "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
}

/// A parsed cron schedule: five fields (minute, hour, day of month, month, day of week) with
/// lists, ranges, steps (`*/5`, `1-10/2`, `5/15` = `5-59/15`), month and weekday names
/// (JAN-DEC, SUN-SAT, any case), `?` as `*`, and the macros @yearly @annually @monthly
/// @weekly @daily @midnight @hourly and @every <duration>. When both day of month and day
/// of week are restricted a day matching either runs (Vixie cron); when either is `*` both
/// must match. As robfig/cron, day of week is 0-6 (7 is out of range).
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The schedule as written.
    public let text: String
    let rule: Rule

    enum Rule: Sendable, Equatable {
        case fields(Fields)
        /// @every: a fixed period in whole seconds (at least one), counted from the last run.
        case every(Int)
    }

    public var description: String { text }

    public init(_ text: String) throws(CronError) {
        guard !text.isEmpty else { throw CronError(.empty, "empty spec string") }
        // robfig/cron would take a zone from here; Kubernetes refuses it for spec.timeZone.
        if text.hasPrefix("TZ=") || text.hasPrefix("CRON_TZ=") { throw .timeZoneInSchedule }
        self.text = text
        rule = try text.hasPrefix("@") ? Self.descriptor(text) : .fields(Fields(text))
    }

    /// The first time after `time` (strictly) the schedule runs, read on the wall clock of
    /// `zone`; nil if there is none within five years (robfig/cron's limit: "0 0 30 2 *").
    ///
    /// Daylight saving, as robfig/cron (so as Kubernetes): a wall time the change skips does
    /// not run that day ("30 2 * * *" in Berlin has no 31 March 2024 run); one the change
    /// repeats runs in both of its occurrences ("30 2 * * *" runs at 02:30 CEST and again at
    /// 02:30 CET on 27 October 2024). Schedules with `*` in the hour run every real hour.
    public func next(after time: Int, in zone: CronTimeZone = .utc) -> Int? {
        switch rule {
        case .every(let period): return time + period
        case .fields(let fields): return fields.next(after: time, in: zone)
        }
    }

    // MARK: - The five fields

    /// One field's bounds and names.
    struct Bounds: Sendable {
        var name: String
        var min: Int
        var max: Int
        var names: [String: Int] = [:]
        /// What the field takes, for messages.
        var allowed: String

        static let minute = Bounds(name: "minute", min: 0, max: 59, allowed: "0-59")
        static let hour = Bounds(name: "hour", min: 0, max: 23, allowed: "0-23")
        static let dayOfMonth = Bounds(name: "day of month", min: 1, max: 31, allowed: "1-31")
        static let month = Bounds(name: "month", min: 1, max: 12, names: [
            "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
            "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
        ], allowed: "1-12 or JAN-DEC")
        static let dayOfWeek = Bounds(name: "day of week", min: 0, max: 6, names: [
            "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
        ], allowed: "0-6 or SUN-SAT")
    }

    /// The five fields as bit sets (bit n set: value n runs), as robfig/cron keeps them.
    struct Fields: Sendable, Equatable {
        var minutes: UInt64
        var hours: UInt64
        var days: UInt64
        var months: UInt64
        var weekdays: UInt64
        /// Day of month or day of week given as `*`/`?` (robfig's star bit; `*/1` keeps it,
        /// `*/2` does not): then a day must match both, otherwise either.
        var daysStar: Bool
        var weekdaysStar: Bool

        init(minutes: UInt64, hours: UInt64, days: UInt64, months: UInt64, weekdays: UInt64,
             daysStar: Bool, weekdaysStar: Bool) {
            self.minutes = minutes
            self.hours = hours
            self.days = days
            self.months = months
            self.weekdays = weekdays
            self.daysStar = daysStar
            self.weekdaysStar = weekdaysStar
        }

        init(_ text: String) throws(CronError) {
            let parts = text.split(whereSeparator: \.isWhitespace)
            guard parts.count == 5 else {
                throw CronError(.fieldCount, "expected exactly 5 fields, found \(parts.count): [\(parts.joined(separator: " "))]")
            }
            let minute = try CronSchedule.field(parts[0], .minute)
            let hour = try CronSchedule.field(parts[1], .hour)
            let day = try CronSchedule.field(parts[2], .dayOfMonth)
            let month = try CronSchedule.field(parts[3], .month)
            let weekday = try CronSchedule.field(parts[4], .dayOfWeek)
            self.init(minutes: minute.bits, hours: hour.bits, days: day.bits, months: month.bits, weekdays: weekday.bits,
                      daysStar: day.star, weekdaysStar: weekday.star)
        }

        static func all(_ bounds: Bounds) -> UInt64 { CronSchedule.bits(bounds.min, bounds.max, 1) }

        func dayMatches(_ wall: Wall) -> Bool {
            let day = days.has(wall.day), weekday = weekdays.has(wall.weekday)
            return daysStar || weekdaysStar ? day && weekday : day || weekday
        }

        /// robfig/cron's SpecSchedule.Next, field by field: a field that does not match is
        /// advanced (the smaller ones reset once, to their first value), and advancing past
        /// its end starts over from the month, since the larger fields changed.
        func next(after time: Int, in zone: CronTimeZone) -> Int? {
            var t = time + 1
            var added = false
            let yearLimit = zone.wall(t).year + 5
            wrap: while true {
                var w = zone.wall(t)
                if w.year > yearLimit { return nil }
                while !months.has(w.month) {
                    if !added {
                        added = true
                        t = zone.instant(year: w.year, month: w.month, day: 1)
                    }
                    t = zone.adding(months: 1, to: t)
                    w = zone.wall(t)
                    if w.month == 1 { continue wrap }
                }
                while !dayMatches(w) {
                    if !added {
                        added = true
                        t = zone.instant(year: w.year, month: w.month, day: w.day)
                    }
                    t = zone.adding(days: 1, to: t)
                    w = zone.wall(t)
                    // Midnight may not exist (a change at 00:00): back to the day's first hour.
                    if w.hour != 0 {
                        t += w.hour > 12 ? (24 - w.hour) * 3600 : -w.hour * 3600
                        w = zone.wall(t)
                    }
                    if w.day == 1 { continue wrap }
                }
                while !hours.has(w.hour) {
                    if !added {
                        added = true
                        t = zone.instant(year: w.year, month: w.month, day: w.day, hour: w.hour)
                    }
                    // Real hours, not wall ones: this is what skips and repeats wall times.
                    t += 3600
                    w = zone.wall(t)
                    if w.hour == 0 { continue wrap }
                }
                while !minutes.has(w.minute) {
                    if !added {
                        added = true
                        t -= Civil.floorMod(t, 60)
                    }
                    t += 60
                    w = zone.wall(t)
                    if w.minute == 0 { continue wrap }
                }
                // The standard form runs at second 0; robfig steps a second at a time to it
                // and starts over, which is this one jump.
                if w.second != 0 {
                    added = true
                    t += 60 - w.second
                    continue wrap
                }
                return t
            }
        }
    }

    /// A comma-separated list of ranges, as bits and whether it was a star.
    static func field(_ text: Substring, _ bounds: Bounds) throws(CronError) -> (bits: UInt64, star: Bool) {
        var bits: UInt64 = 0
        var star = false
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let range = try Self.range(item, bounds)
            bits |= range.bits
            star = star || range.star
        }
        return (bits, star)
    }

    /// `*`, `?`, `N`, `N-M`, each optionally `/step`; `N/step` means `N-max/step`.
    static func range(_ expr: Substring, _ bounds: Bounds) throws(CronError) -> (bits: UInt64, star: Bool) {
        let rangeAndStep = expr.split(separator: "/", omittingEmptySubsequences: false)
        guard rangeAndStep.count <= 2 else { throw CronError(.invalidRange, "too many slashes in \(bounds.name): \"\(expr)\"") }
        let lowAndHigh = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false)
        guard lowAndHigh.count <= 2 else { throw CronError(.invalidRange, "too many hyphens in \(bounds.name): \"\(expr)\"") }
        let start: Int
        var end: Int
        var star = false
        if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
            // robfig ignores "-M" after a star; a typo like that is better refused.
            guard lowAndHigh.count == 1 else { throw unknown(rangeAndStep[0], bounds) }
            start = bounds.min
            end = bounds.max
            star = true
        } else {
            start = try value(lowAndHigh[0], bounds)
            end = try lowAndHigh.count == 2 ? value(lowAndHigh[1], bounds) : start
        }
        var step = 1
        if rangeAndStep.count == 2 {
            let text = rangeAndStep[1]
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(text) else {
                throw CronError(.invalidRange, "unknown field value \"\(text)\" as the step in \(bounds.name): \"\(expr)\" (expected a positive number)")
            }
            step = number
            if lowAndHigh.count == 1 { end = bounds.max }
            if step > 1 { star = false }
        }
        if start < bounds.min {
            throw CronError(.outOfRange, "out of range: \(start) is below the minimum \(bounds.min) of \(bounds.name) in \"\(expr)\" (expected \(bounds.allowed))")
        }
        if end > bounds.max {
            throw CronError(.outOfRange, "out of range: \(end) is above the maximum \(bounds.max) of \(bounds.name) in \"\(expr)\" (expected \(bounds.allowed))")
        }
        if start > end {
            throw CronError(.invalidRange, "beginning of range (\(start)) beyond end of range (\(end)) in \(bounds.name): \"\(expr)\"")
        }
        if step == 0 { throw CronError(.invalidRange, "step of range should be a positive number in \(bounds.name): \"\(expr)\"") }
        return (bits(start, end, step), star)
    }

    /// A number (ASCII digits) or one of the field's names, any case.
    static func value(_ text: Substring, _ bounds: Bounds) throws(CronError) -> Int {
        if let named = bounds.names[text.lowercased()] { return named }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { throw unknown(text, bounds) }
        // All digits but too long for Int: out of range whatever the field.
        guard let number = Int(text) else {
            throw CronError(.outOfRange, "out of range: \(text) is above the maximum \(bounds.max) of \(bounds.name) (expected \(bounds.allowed))")
        }
        return number
    }

    static func unknown(_ text: Substring, _ bounds: Bounds) -> CronError {
        CronError(.unknownValue, "unknown field value \"\(text)\" in \(bounds.name) (expected \(bounds.allowed))")
    }

    static func bits(_ start: Int, _ end: Int, _ step: Int) -> UInt64 {
        var bits: UInt64 = 0
        for v in stride(from: start, through: end, by: step) { bits |= 1 << UInt64(v) }
        return bits
    }

    // MARK: - Macros

    static func descriptor(_ text: String) throws(CronError) -> Rule {
        switch text {
        case "@yearly", "@annually": return macro(days: first(.dayOfMonth), months: first(.month), daysStar: false)
        case "@monthly": return macro(days: first(.dayOfMonth), daysStar: false)
        case "@weekly": return macro(weekdays: first(.dayOfWeek), weekdaysStar: false)
        case "@daily", "@midnight": return macro()
        case "@hourly": return macro(hours: Fields.all(.hour))
        default: break
        }
        let every = "@every "
        guard text.hasPrefix(every) else { throw CronError(.descriptor, "unrecognized descriptor: \(text)") }
        let duration = text.dropFirst(every.count)
        guard let seconds = goDuration(duration) else {
            throw CronError(.descriptor, "failed to parse duration \(text): invalid duration \"\(duration)\" (e.g. 90s, 5m, 1h30m)")
        }
        // robfig's Every: below a second is a second, and fractions of a second are dropped.
        return .every(max(1, Int(seconds)))
    }

    /// A macro as robfig/cron spells it out: minute 0, hour 0, every day, month and weekday
    /// unless given (a restricted day field is not a star, so the other must match too).
    static func macro(hours: UInt64 = CronSchedule.first(.hour), days: UInt64 = CronSchedule.Fields.all(.dayOfMonth),
                      months: UInt64 = CronSchedule.Fields.all(.month), weekdays: UInt64 = CronSchedule.Fields.all(.dayOfWeek),
                      daysStar: Bool = true, weekdaysStar: Bool = true) -> Rule {
        .fields(Fields(minutes: first(.minute), hours: hours, days: days, months: months, weekdays: weekdays,
                       daysStar: daysStar, weekdaysStar: weekdaysStar))
    }

    /// The bit of a field's first value.
    static func first(_ bounds: Bounds) -> UInt64 { 1 << UInt64(bounds.min) }

    /// Seconds of a Go duration ("1h30m", "90s", "1.5h", "300ms"), as time.ParseDuration
    /// reads it; nil if it is not one.
    static func goDuration(_ text: Substring) -> Double? {
        var rest = text
        var sign = 1.0
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        let units: [Substring: Double] = ["ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600]
        let isDigit = { (c: Character) in c.isASCII && c.isNumber }
        var total = 0.0
        while !rest.isEmpty {
            let whole = rest.prefix(while: isDigit)
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix(while: isDigit)
                rest = rest.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            let unit = rest.prefix { !isDigit($0) && $0 != "." }
            rest = rest.dropFirst(unit.count)
            guard let scale = units[unit], let number = Double("\(whole.isEmpty ? "0" : whole).\(fraction.isEmpty ? "0" : fraction)")
            else { return nil }
            total += number * scale
        }
        // Go refuses durations past ~292 years.
        guard total <= 9_223_372_036 else { return nil }
        return sign * total
    }
}

extension UInt64 {
    fileprivate func has(_ value: Int) -> Bool { value >= 0 && value < 64 && (self >> UInt64(value)) & 1 == 1 }
}

// MARK: - Time zones and wall clocks

/// A time zone the schedule is read in: an IANA zone from the time-zone database Foundation
/// carries (ICU's, built in: no files are read), or a fixed offset.
public struct CronTimeZone: Sendable, CustomStringConvertible {
    public let identifier: String
    let offsetAt: @Sendable (Int) -> Int

    public var description: String { identifier }

    /// UTC: what a CronJob without `spec.timeZone` is scheduled in. (kube-controller-manager
    /// uses its own local zone there, UTC in the images it ships in; Netplane says UTC.)
    public static let utc = CronTimeZone(identifier: "UTC", secondsFromUTC: 0)

    /// A zone `seconds` east of UTC all year.
    public init(identifier: String, secondsFromUTC seconds: Int) {
        self.identifier = identifier
        offsetAt = { _ in seconds }
    }

    /// An IANA zone ("Europe/Berlin", "America/New_York", "UTC"), or nil if the database has
    /// none of that name. As Go's time.LoadLocation (what kube checks with): "" is UTC, and
    /// "Local" is not a zone a CronJob can name.
    public init?(identifier: String) {
        if identifier.isEmpty || identifier == "UTC" {
            self = .utc
            return
        }
        guard identifier.lowercased() != "local",
              identifier.utf8.allSatisfy({ Self.identifierBytes.contains($0) }),
              let zone = TimeZone(identifier: identifier)
        else { return nil }
        self.identifier = identifier
        offsetAt = { zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double($0))) }
    }

    /// What a tz database name is made of (Go refuses the rest before it looks).
    static let identifierBytes = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-+.".utf8)

    /// Seconds east of UTC in force at `time`.
    public func secondsFromUTC(at time: Int) -> Int { offsetAt(time) }

    /// RFC 3339 on this zone's clock, as Go's time.RFC3339 prints it: "2024-03-31T03:30:00+02:00",
    /// "…Z" when the offset is zero.
    public func rfc3339(_ time: Int) -> String {
        let w = wall(time)
        let offset = secondsFromUTC(at: time)
        let zone = offset == 0 ? "Z" : "\(offset < 0 ? "-" : "+")\(pad(abs(offset) / 3600)):\(pad(abs(offset) % 3600 / 60))"
        return "\(pad(w.year, 4))-\(pad(w.month))-\(pad(w.day))T\(pad(w.hour)):\(pad(w.minute)):\(pad(w.second))\(zone)"
    }

    /// RFC 1123 with a numeric zone, as Go's time.RFC1123Z: "Sun, 31 Mar 2024 01:00:00 +0000".
    public func rfc1123Z(_ time: Int) -> String {
        let w = wall(time)
        let offset = secondsFromUTC(at: time)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(days[w.weekday]), \(pad(w.day)) \(months[w.month - 1]) \(pad(w.year, 4)) \(pad(w.hour)):\(pad(w.minute)):\(pad(w.second)) "
            + "\(offset < 0 ? "-" : "+")\(pad(abs(offset) / 3600))\(pad(abs(offset) % 3600 / 60))"
    }

    func pad(_ value: Int, _ width: Int = 2) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The wall clock at `time`.
    func wall(_ time: Int) -> Wall {
        let local = time + secondsFromUTC(at: time)
        let days = Civil.floorDiv(local, 86_400)
        let seconds = local - days * 86_400
        let date = Civil.date(days: days)
        // 1970-01-01 was a Thursday (4; Sunday is 0).
        return Wall(year: date.year, month: date.month, day: date.day, hour: seconds / 3600, minute: seconds % 3600 / 60,
                    second: seconds % 60, weekday: Civil.floorMod(days + 4, 7))
    }

    /// The time of a wall-clock reading, as Go's time.Date makes it: fields past their range
    /// carry into the next (day 32 is the next month's first), and the offset is the one in
    /// force at the reading taken as UTC, corrected once if that lands across a change. So a
    /// reading the change skips gives the time after it (02:30 on Berlin's spring day is
    /// 03:30 CEST), and a repeated one gives the occurrence Go gives.
    func instant(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Int {
        let y = year + Civil.floorDiv(month - 1, 12)
        let m = Civil.floorMod(month - 1, 12) + 1
        let local = (Civil.days(year: y, month: m, day: 1) + day - 1) * 86_400 + hour * 3600 + minute * 60 + second
        let guess = local - secondsFromUTC(at: local)
        return local - secondsFromUTC(at: guess)
    }

    /// Go's Time.AddDate: the same wall-clock reading `months` and `days` on.
    func adding(months: Int = 0, days: Int = 0, to time: Int) -> Int {
        let w = wall(time)
        return instant(year: w.year, month: w.month + months, day: w.day + days, hour: w.hour, minute: w.minute, second: w.second)
    }
}

/// A wall-clock reading (weekday 0 is Sunday).
struct Wall: Sendable, Equatable {
    var year, month, day, hour, minute, second, weekday: Int
}

/// Proleptic Gregorian dates as days since 1970-01-01 and back (Howard Hinnant's algorithms).
enum Civil {
    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int, _ b: Int) -> Int { a - floorDiv(a, b) * b }

    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1   // counted from 1 March
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
