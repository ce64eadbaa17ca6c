import APIMachinery
import Cron
import JSON

/// CronJobs are checked as kube-apiserver checks them: a schedule the cron parser reads (with
/// no TZ= or CRON_TZ= in it: the zone goes in `spec.timeZone`), a time zone the IANA
/// database has, a known concurrency policy, no negative deadline or history limit, and a
/// name short enough for the Jobs named after it (52: a Job name's 63 less "-<minutes>").
/// The time zone is checked on create and when it changes, as kube does, so a zone the
/// database later drops does not lock the object.
struct CronJobStrategy: KindStrategy {
    static let maxNameLength = 52
    static let policies = ["Allow", "Forbid", "Replace"]

    func validate(_ object: JSONValue, old: JSONValue?) -> [FieldError] {
        let spec = object["spec"] ?? .emptyObject
        var errors: [FieldError] = []
        if old == nil, let name = object.name, name.utf8.count > Self.maxNameLength {
            errors.append(.invalid("metadata.name", name, "must be no more than \(Self.maxNameLength) characters"))
        }
        errors += Self.validateSchedule(spec["schedule"]?.stringValue ?? "")
        if let deadline = spec["startingDeadlineSeconds"], (deadline.int64Value ?? -1) < 0 {
            errors.append(.invalid("spec.startingDeadlineSeconds", deadline.description, "must be greater than or equal to 0"))
        }
        // null is no zone (UTC), as an absent one.
        if let zone = spec["timeZone"], !zone.isNull, old == nil || old?[path: ["spec", "timeZone"]] != zone {
            errors += Self.validateTimeZone(zone.stringValue ?? zone.description)
        }
        // Defaulting fills in Allow; an empty one is a value missing.
        if let policy = spec["concurrencyPolicy"]?.stringValue {
            if policy.isEmpty {
                errors.append(.required("spec.concurrencyPolicy"))
            } else if !Self.policies.contains(policy) {
                errors.append(.notSupported("spec.concurrencyPolicy", policy, Self.policies))
            }
        }
        for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            if let limit = spec[field], (limit.int64Value ?? -1) < 0 {
                errors.append(.invalid("spec.\(field)", limit.description, "must be greater than or equal to 0"))
            }
        }
        return errors
    }

    static func validateSchedule(_ schedule: String) -> [FieldError] {
        if schedule.isEmpty { return [.required("spec.schedule")] }
        // kube looks for "TZ" anywhere, before and besides what the parser says.
        if schedule.contains("TZ") { return [.invalid("spec.schedule", schedule, CronError.timeZoneInSchedule.message)] }
        do throws(CronError) {
            _ = try CronSchedule(schedule)
            return []
        } catch {
            return [.invalid("spec.schedule", schedule, error.message)]
        }
    }

    /// kube's rules: each part of the name made of letters, digits and `.-_+` (at most 14,
    /// not "." or "..", not starting with "-"), not "Local", and known to the database.
    static func validateTimeZone(_ zone: String) -> [FieldError] {
        let field = "spec.timeZone"
        if zone.isEmpty { return [.invalid(field, zone, "timeZone must be nil or non-empty string")] }
        let partBytes = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_+".utf8)
        for part in zone.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty || part.utf8.count > 14 || part == "." || part == ".." || part.hasPrefix("-")
                || !part.utf8.allSatisfy({ partBytes.contains($0) }) {
                return [.invalid(field, zone, "unknown time zone \(zone)")]
            }
        }
        if zone.lowercased() == "local" {
            return [.invalid(field, zone, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
        }
        return CronTimeZone(identifier: zone) == nil ? [.invalid(field, zone, "unknown time zone \(zone)")] : []
    }
}
