public import JSON

/// Reading and writing the `metadata` of an API object kept as a JSON tree.
extension JSONValue {
    public var metadata: JSONValue { self["metadata"] ?? .emptyObject }

    public var name: String? {
        get { self[path: ["metadata", "name"]]?.stringValue }
        set { self[path: ["metadata", "name"]] = newValue.map { .string($0) } }
    }
    public var namespace: String? {
        get { self[path: ["metadata", "namespace"]]?.stringValue }
        set { self[path: ["metadata", "namespace"]] = newValue.map { .string($0) } }
    }
    public var uid: String? { self[path: ["metadata", "uid"]]?.stringValue }
    public var resourceVersion: String? {
        get { self[path: ["metadata", "resourceVersion"]]?.stringValue }
        set { self[path: ["metadata", "resourceVersion"]] = newValue.map { .string($0) } }
    }
    public var labels: [String: String] {
        stringMap(self[path: ["metadata", "labels"]])
    }
    public var annotations: [String: String] {
        stringMap(self[path: ["metadata", "annotations"]])
    }
    public var finalizers: [String] {
        self[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
    public var deletionTimestamp: String? { self[path: ["metadata", "deletionTimestamp"]]?.stringValue }
}

/// A JSON object of strings as a dictionary (labels, annotations, selectors); other values are skipped.
public func stringMap(_ value: JSONValue?) -> [String: String] {
    guard let object = value?.objectValue else { return [:] }
    var out: [String: String] = [:]
    for (k, v) in object { if let s = v.stringValue { out[k] = s } }
    return out
}
