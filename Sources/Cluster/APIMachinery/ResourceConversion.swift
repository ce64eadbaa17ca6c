public import JSON

/// Turns objects of a view resource (`ResourceType.isView`) into the form they are stored in
/// and back. The only view is events.k8s.io/v1 Event over core/v1 Event, as in Kubernetes:
/// one stored Event, readable and writable through either API, fields renamed between them.
/// The versions of a custom resource that are not its storage version are views too, with
/// conversion None: only apiVersion changes.
public enum ResourceConversion {
    /// core/v1 Event field → events.k8s.io/v1 Event field (the others are the same in both).
    static let eventRenames: [(core: String, events: String)] = [
        ("involvedObject", "regarding"), ("message", "note"), ("reportingComponent", "reportingController"),
        ("source", "deprecatedSource"), ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount"),
    ]

    /// A stored object as the view resource shows it.
    public static func toView(_ stored: JSONValue, _ view: ResourceType) -> JSONValue {
        guard view.isView, case .object(var fields) = stored else { return stored }
        if view.isCustom {
            fields["apiVersion"] = .string(view.apiVersion)
            return .object(fields)
        }
        for (core, events) in eventRenames {
            fields[events] = fields.removeValue(forKey: core)
        }
        fields["apiVersion"] = .string(view.apiVersion)
        fields["kind"] = .string(view.kind)
        return .object(fields.filter { !$0.value.isNull })
    }

    /// An object written through the view resource in the form it is stored in.
    public static func toStorage(_ object: JSONValue, _ view: ResourceType, storage: ResourceType) -> JSONValue {
        guard view.isView, case .object(var fields) = object else { return object }
        if view.isCustom {
            fields["apiVersion"] = .string(storage.apiVersion)
            return .object(fields)
        }
        for (core, events) in eventRenames {
            fields[core] = fields.removeValue(forKey: events)
        }
        fields["apiVersion"] = .string(storage.apiVersion)
        fields["kind"] = .string(storage.kind)
        return .object(fields.filter { !$0.value.isNull })
    }

    /// A field selector written against the view (`regarding.name=web-1`) against the stored
    /// form (`involvedObject.name=web-1`).
    public static func storageFieldSelector(_ text: String, _ view: ResourceType) -> String {
        guard view.isView, !view.isCustom else { return text }
        return text.split(separator: ",", omittingEmptySubsequences: false).map { term -> String in
            let t = String(term.trimmingSpaces)
            for (core, events) in eventRenames where t == events || t.hasPrefix(events + ".") || t.hasPrefix(events + "=") || t.hasPrefix(events + "!") {
                return core + t.dropFirst(events.count)
            }
            return t
        }.joined(separator: ",")
    }
}
