import APIMachinery
import Cron
import Testing

/// Cron schedules as Kubernetes reads them (robfig/cron's standard parser and its Next):
/// every syntax form, the day-of-month/day-of-week rule, time zones and their daylight-saving
/// changes, and the errors for what is not a schedule.
@Suite struct CronScheduleTests {
    static let berlin = CronTimeZone(identifier: "Europe/Berlin")!
    static let newYork = CronTimeZone(identifier: "America/New_York")!

    static func time(_ text: String) -> Int { APITime.parse(text)! }

    /// The next `count` runs of `schedule` after `start`, on `zone`'s clock ("none" when the
    /// schedule has no further run).
    func runs(_ schedule: String, after start: String, _ count: Int = 1, in zone: CronTimeZone = .utc) throws -> [String] {
        let parsed = try CronSchedule(schedule)
        var t = Self.time(start)
        var out: [String] = []
        for _ in 0..<count {
            guard let next = parsed.next(after: t, in: zone) else { return out + ["none"] }
            out.append(zone.rfc3339(next))
            t = next
        }
        return out
    }

    /// The error `schedule` is refused with.
    func refusal(_ schedule: String) -> CronError? {
        do throws(CronError) {
            _ = try CronSchedule(schedule)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Syntax

    @Test func everyMinuteAndFixedTimes() throws {
        #expect(try runs("* * * * *", after: "2024-01-01T10:00:30Z", 2) == ["2024-01-01T10:01:00Z", "2024-01-01T10:02:00Z"])
        // Strictly after: a time on the schedule gives the one after it.
        #expect(try runs("* * * * *", after: "2024-01-01T10:01:00Z") == ["2024-01-01T10:02:00Z"])
        #expect(try runs("30 8 * * *", after: "2024-01-01T10:00:00Z", 2) == ["2024-01-02T08:30:00Z", "2024-01-03T08:30:00Z"])
        #expect(try runs("0 0 1 1 *", after: "2024-01-01T00:00:00Z") == ["2025-01-01T00:00:00Z"])
        // Minute, hour, day, month and year all roll over at once.
        #expect(try runs("* * * * *", after: "2024-12-31T23:59:30Z") == ["2025-01-01T00:00:00Z"])
        // Extra spaces and tabs between fields are fine, as strings.Fields reads them.
        #expect(try runs("  0\t12  *  * *", after: "2024-01-01T13:00:00Z") == ["2024-01-02T12:00:00Z"])
    }

    @Test func listsRangesAndSteps() throws {
        #expect(try runs("0,15,30,45 * * * *", after: "2024-01-01T10:07:00Z", 3)
            == ["2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z", "2024-01-01T10:45:00Z"])
        #expect(try runs("*/15 * * * *", after: "2024-01-01T10:07:00Z", 4)
            == ["2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z", "2024-01-01T10:45:00Z", "2024-01-01T11:00:00Z"])
        #expect(try runs("1-10/2 * * * *", after: "2024-01-01T10:00:00Z", 6)
            == ["2024-01-01T10:01:00Z", "2024-01-01T10:03:00Z", "2024-01-01T10:05:00Z", "2024-01-01T10:07:00Z",
                "2024-01-01T10:09:00Z", "2024-01-01T11:01:00Z"])
        // N/step is N-max/step.
        #expect(try runs("5/15 * * * *", after: "2024-01-01T10:00:00Z", 5)
            == ["2024-01-01T10:05:00Z", "2024-01-01T10:20:00Z", "2024-01-01T10:35:00Z", "2024-01-01T10:50:00Z",
                "2024-01-01T11:05:00Z"])
        #expect(try runs("0 9-17/4 * * *", after: "2024-01-01T00:00:00Z", 4)
            == ["2024-01-01T09:00:00Z", "2024-01-01T13:00:00Z", "2024-01-01T17:00:00Z", "2024-01-02T09:00:00Z"])
        #expect(try runs("10-12,40 3 * * *", after: "2024-01-01T03:11:00Z", 3)
            == ["2024-01-01T03:12:00Z", "2024-01-01T03:40:00Z", "2024-01-02T03:10:00Z"])
    }

    @Test func monthAndWeekdayNamesInAnyCase() throws {
        #expect(try runs("0 0 1 JAN,jul *", after: "2024-02-01T00:00:00Z", 2) == ["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"])
        // 2024-06-14 is a Friday.
        #expect(try runs("0 9 * * MON-FRI", after: "2024-06-14T10:00:00Z", 3)
            == ["2024-06-17T09:00:00Z", "2024-06-18T09:00:00Z", "2024-06-19T09:00:00Z"])
        #expect(try runs("0 0 * feb-Mar sun", after: "2024-01-01T00:00:00Z", 2) == ["2024-02-04T00:00:00Z", "2024-02-11T00:00:00Z"])
        #expect(try runs("0 9 * * Mon-Fri", after: "2024-06-14T10:00:00Z") == runs("0 9 * * 1-5", after: "2024-06-14T10:00:00Z"))
    }

    @Test func questionMarkIsAStar() throws {
        #expect(try runs("0 12 ? * ?", after: "2024-01-01T13:00:00Z") == ["2024-01-02T12:00:00Z"])
        #expect(try CronSchedule("0 12 ? * ?").next(after: 0) == CronSchedule("0 12 * * *").next(after: 0))
    }

    @Test func macros() throws {
        let start = "2024-06-15T12:34:00Z"   // a Saturday
        #expect(try runs("@yearly", after: start) == ["2025-01-01T00:00:00Z"])
        #expect(try runs("@annually", after: start) == ["2025-01-01T00:00:00Z"])
        #expect(try runs("@monthly", after: start) == ["2024-07-01T00:00:00Z"])
        #expect(try runs("@weekly", after: start, 2) == ["2024-06-16T00:00:00Z", "2024-06-23T00:00:00Z"])
        #expect(try runs("@daily", after: start) == ["2024-06-16T00:00:00Z"])
        #expect(try runs("@midnight", after: start) == ["2024-06-16T00:00:00Z"])
        #expect(try runs("@hourly", after: start) == ["2024-06-15T13:00:00Z"])
        // @every counts from the time given, whatever the clock says; under a second is one.
        let t = Self.time(start)
        #expect(try CronSchedule("@every 90s").next(after: t) == t + 90)
        #expect(try CronSchedule("@every 1h30m").next(after: t, in: Self.berlin) == t + 5400)
        #expect(try CronSchedule("@every 1.5h").next(after: t) == t + 5400)
        #expect(try CronSchedule("@every 500ms").next(after: t) == t + 1)
        #expect(try CronSchedule("@every 2m30.9s").next(after: t) == t + 150)
    }

    /// Vixie cron's rule, as robfig keeps it: both day fields restricted, either runs; one a
    /// star (`*`, `?`, `*/1`), both must match.
    @Test func dayOfMonthOrDayOfWeek() throws {
        // Every Friday, and every 13th (2024-10-13 is a Sunday).
        #expect(try runs("0 0 13 * 5", after: "2024-09-01T00:00:00Z", 8)
            == ["2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z",
                "2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z", "2024-10-18T00:00:00Z"])
        #expect(try runs("0 0 1,15 * SUN", after: "2024-09-01T00:00:00Z", 5)
            == ["2024-09-08T00:00:00Z", "2024-09-15T00:00:00Z", "2024-09-22T00:00:00Z", "2024-09-29T00:00:00Z",
                "2024-10-01T00:00:00Z"])
        // */2 restricts the day of month; the weekday star then asks nothing more.
        #expect(try runs("0 0 */2 * *", after: "2024-09-01T00:00:00Z", 3)
            == ["2024-09-03T00:00:00Z", "2024-09-05T00:00:00Z", "2024-09-07T00:00:00Z"])
        // */1 is still a star: Mondays only. 1-31 is not: every day (a Monday or any day 1-31).
        #expect(try runs("0 0 */1 * MON", after: "2024-09-01T00:00:00Z", 2) == ["2024-09-02T00:00:00Z", "2024-09-09T00:00:00Z"])
        #expect(try runs("0 0 1-31 * MON", after: "2024-09-01T00:00:00Z", 2) == ["2024-09-02T00:00:00Z", "2024-09-03T00:00:00Z"])
    }

    @Test func datesThatRarelyOrNeverComeBack() throws {
        #expect(try runs("0 0 29 2 *", after: "2025-03-01T00:00:00Z") == ["2028-02-29T00:00:00Z"])
        // Parsed (kube accepts them too), but never due: none within five years.
        #expect(try runs("0 0 30 2 *", after: "2024-01-01T00:00:00Z") == ["none"])
        #expect(try runs("0 0 31 4 *", after: "2024-01-01T00:00:00Z") == ["none"])
    }

    // MARK: - Errors

    @Test func fieldCounts() {
        #expect(refusal("")?.kind == .empty)
        #expect(refusal("* * * *") == CronError(.fieldCount, "expected exactly 5 fields, found 4: [* * * *]"))
        #expect(refusal("0 * * * * *")?.message == "expected exactly 5 fields, found 6: [0 * * * * *]")
        #expect(refusal("hourly")?.kind == .fieldCount)
        // A macro is the whole schedule.
        #expect(refusal(" @daily")?.kind == .fieldCount)
    }

    @Test func valuesOutOfRange() {
        for (schedule, field) in [("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day of month"),
                                  ("* * 32 * *", "day of month"), ("* * * 13 *", "month"), ("* * * 0 *", "month"),
                                  ("* * * * 7", "day of week"), ("50-60 * * * *", "minute"),
                                  ("99999999999999999999 * * * *", "minute")] {
            let error = refusal(schedule)
            #expect(error?.kind == .outOfRange, "\(schedule)")
            #expect(error?.message.contains("out of range") == true && error?.message.contains(field) == true, "\(error?.message ?? "")")
        }
        #expect(refusal("* * * * 7")?.message == "out of range: 7 is above the maximum 6 of day of week in \"7\" (expected 0-6 or SUN-SAT)")
    }

    @Test func unknownValues() {
        #expect(refusal("* * * FOO *") == CronError(.unknownValue, "unknown field value \"FOO\" in month (expected 1-12 or JAN-DEC)"))
        #expect(refusal("* * * * MON-FUN")?.message == "unknown field value \"FUN\" in day of week (expected 0-6 or SUN-SAT)")
        // Names belong to their own fields only.
        #expect(refusal("MON * * * *")?.kind == .unknownValue)
        #expect(refusal("* * * * JAN")?.kind == .unknownValue)
        for schedule in ["x * * * *", "1,,2 * * * *", "-5 * * * *", "*-5 * * * *", "+5 * * * *", "5x * * * *"] {
            #expect(refusal(schedule)?.kind == .unknownValue, "\(schedule)")
            #expect(refusal(schedule)?.message.hasPrefix("unknown field value") == true, "\(schedule)")
        }
    }

    @Test func malformedRangesAndSteps() {
        #expect(refusal("5-1 * * * *") == CronError(.invalidRange, "beginning of range (5) beyond end of range (1) in minute: \"5-1\""))
        #expect(refusal("*/0 * * * *")?.message == "step of range should be a positive number in minute: \"*/0\"")
        #expect(refusal("1-2-3 * * * *")?.message == "too many hyphens in minute: \"1-2-3\"")
        #expect(refusal("*/2/3 * * * *")?.message == "too many slashes in minute: \"*/2/3\"")
        #expect(refusal("*/x * * * *")?.kind == .invalidRange)
        #expect(refusal("*/ * * * *")?.kind == .invalidRange)
    }

    @Test func macrosThatDoNotExist() {
        #expect(refusal("@fortnightly") == CronError(.descriptor, "unrecognized descriptor: @fortnightly"))
        #expect(refusal("@every")?.kind == .descriptor)
        #expect(refusal("@every 5x")?.kind == .descriptor)
        #expect(refusal("@every 5")?.kind == .descriptor)
        #expect(refusal("@Daily")?.kind == .descriptor)
    }

    /// Kubernetes takes the zone from spec.timeZone, and refuses it in the schedule.
    @Test func timeZoneInTheScheduleIsRefused() {
        #expect(refusal("TZ=Europe/Berlin 0 9 * * *") == CronError.timeZoneInSchedule)
        #expect(refusal("CRON_TZ=UTC * * * * *") == CronError.timeZoneInSchedule)
        #expect(CronError.timeZoneInSchedule.message == "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    }

    // MARK: - Time zones

    @Test func timesAreReadOnTheZonesClock() throws {
        #expect(try runs("0 9 * * *", after: "2024-01-10T00:00:00Z", in: Self.berlin) == ["2024-01-10T09:00:00+01:00"])
        #expect(try runs("0 9 * * *", after: "2024-07-10T00:00:00Z", in: Self.berlin) == ["2024-07-10T09:00:00+02:00"])
        #expect(try runs("0 9 * * *", after: "2024-01-10T00:00:00Z", in: Self.newYork) == ["2024-01-10T09:00:00-05:00"])
        #expect(try CronSchedule("0 9 * * *").next(after: Self.time("2024-07-10T00:00:00Z"), in: Self.berlin) == Self.time("2024-07-10T07:00:00Z"))
        // Go prints a zero offset as Z, whatever the zone.
        #expect(try runs("0 12 * * *", after: "2024-01-10T00:00:00Z", in: CronTimeZone(identifier: "Europe/London")!) == ["2024-01-10T12:00:00Z"])
        #expect(try runs("0 12 * * *", after: "2024-01-10T00:00:00Z", in: CronTimeZone(identifier: "Asia/Kolkata")!) == ["2024-01-10T12:00:00+05:30"])
        #expect(try runs("0 12 * * *", after: "2024-01-10T00:00:00Z", in: CronTimeZone(identifier: "Fixed", secondsFromUTC: -3600))
            == ["2024-01-10T12:00:00-01:00"])
    }

    @Test func zoneNames() {
        #expect(CronTimeZone(identifier: "Mars/Olympus") == nil)
        #expect(CronTimeZone(identifier: "Local") == nil)
        #expect(CronTimeZone(identifier: "../etc/passwd") == nil)
        #expect(CronTimeZone(identifier: "Europe/Berlin ") == nil)
        #expect(CronTimeZone(identifier: "")?.identifier == "UTC")
        #expect(CronTimeZone(identifier: "UTC")?.secondsFromUTC(at: 0) == 0)
        #expect(CronTimeZone(identifier: "Etc/GMT-2")?.secondsFromUTC(at: 0) == 7200)
        #expect(CronTimeZone.utc.rfc1123Z(Self.time("2024-03-31T01:00:00Z")) == "Sun, 31 Mar 2024 01:00:00 +0000")
        #expect(Self.newYork.rfc1123Z(Self.time("2024-11-03T06:30:00Z")) == "Sun, 03 Nov 2024 01:30:00 -0500")
    }

    /// Berlin, 31 March 2024: 02:00 CET becomes 03:00 CEST. A time in the gap does not run
    /// that day; every-hour schedules lose the hour that is not there.
    @Test func berlinSpringForward() throws {
        #expect(try runs("30 2 * * *", after: "2024-03-30T12:00:00+01:00", 2, in: Self.berlin)
            == ["2024-04-01T02:30:00+02:00", "2024-04-02T02:30:00+02:00"])
        #expect(try runs("0 * * * *", after: "2024-03-31T00:30:00+01:00", 3, in: Self.berlin)
            == ["2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00"])
        // The days around it keep their wall-clock time: 24 h apart but 23 h across the change.
        let nine = try CronSchedule("0 9 * * *")
        let saturday = try #require(nine.next(after: Self.time("2024-03-30T00:00:00Z"), in: Self.berlin))
        #expect(nine.next(after: saturday, in: Self.berlin) == saturday + 23 * 3600)
    }

    /// Berlin, 27 October 2024: 03:00 CEST becomes 02:00 CET, so 02:00-02:59 happen twice.
    /// As robfig/cron (and so Kubernetes), a time in it runs in both.
    @Test func berlinFallBack() throws {
        #expect(try runs("30 2 * * *", after: "2024-10-26T12:00:00+02:00", 3, in: Self.berlin)
            == ["2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-28T02:30:00+01:00"])
        #expect(try runs("0 * * * *", after: "2024-10-27T01:30:00+02:00", 3, in: Self.berlin)
            == ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"])
    }

    /// New York: 10 March 2024 02:00 EST becomes 03:00 EDT; 3 November 2024 02:00 EDT becomes
    /// 01:00 EST. The first cases are robfig/cron's own.
    @Test func newYorkBothWays() throws {
        #expect(try runs("30 2 11 3 *", after: "2012-03-11T00:00:00-05:00", in: Self.newYork) == ["2013-03-11T02:30:00-04:00"])
        #expect(try runs("0 * * * *", after: "2012-03-11T01:00:00-05:00", in: Self.newYork) == ["2012-03-11T03:00:00-04:00"])
        #expect(try runs("0 1 * * *", after: "2012-11-04T01:00:00-04:00", 2, in: Self.newYork)
            == ["2012-11-04T01:00:00-05:00", "2012-11-05T01:00:00-05:00"])
        #expect(try runs("30 2 * * *", after: "2024-03-09T12:00:00-05:00", 2, in: Self.newYork)
            == ["2024-03-11T02:30:00-04:00", "2024-03-12T02:30:00-04:00"])
        #expect(try runs("30 1 * * *", after: "2024-11-02T12:00:00-04:00", 3, in: Self.newYork)
            == ["2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00", "2024-11-04T01:30:00-05:00"])
        #expect(try runs("*/30 * * * *", after: "2024-11-03T00:45:00-04:00", 5, in: Self.newYork)
            == ["2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-03T01:00:00-05:00",
                "2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00"])
    }
}
