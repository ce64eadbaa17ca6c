/// The name and label rules of Kubernetes (apimachinery's validation package).
public enum NameRules {
    /// RFC 1123 label: at most 63 of [a-z0-9-], starting and ending alphanumeric.
    public static func dns1123LabelProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.utf8.count > 63 { return "must be no more than 63 characters" }
        let bytes = Array(s.utf8)
        let ok = bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
            && isLowerAlnum(bytes.first!) && isLowerAlnum(bytes.last!)
        return ok ? nil : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    }

    /// Kubernetes' ValidatePathSegmentName: anything a URL path segment can carry.
    public static func pathSegmentProblem(_ s: String) -> String? {
        if s == "." || s == ".." { return "may not be '\(s)'" }
        for bad in ["/", "%"] where s.contains(bad) { return "may not contain '\(bad)'" }
        return nil
    }

    /// RFC 1123 subdomain: at most 253 characters, dot-separated labels.
    public static func dns1123SubdomainProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.utf8.count > 253 { return "must be no more than 253 characters" }
        // One pass over the bytes: every label non-empty, of [a-z0-9-], alphanumeric at both
        // ends (a '.' and the end must follow an alphanumeric; a label must not start with '-').
        var previous = UInt8(ascii: ".")
        var ok = true
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "."): ok = isLowerAlnum(previous)
            case UInt8(ascii: "-"): ok = previous != UInt8(ascii: ".")
            default: ok = isLowerAlnum(byte)
            }
            if !ok { break }
            previous = byte
        }
        ok = ok && isLowerAlnum(previous)
        return ok ? nil : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    }

    /// A label or annotation key: an optional DNS subdomain prefix and "/", then a name of at
    /// most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric.
    public static func qualifiedNameProblem(_ s: String) -> String? {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        switch parts.count {
        case 1: name = parts[0]
        case 2:
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if let problem = dns1123SubdomainProblem(String(parts[0])) { return "prefix part \(problem)" }
            name = parts[1]
        default:
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        return isLabelValueShape(name) ? nil
            : "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    }

    /// A label value: empty, or at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric.
    public static func labelValueProblem(_ s: String) -> String? {
        if s.isEmpty { return nil }
        if s.utf8.count > 63 { return "must be no more than 63 characters" }
        return isLabelValueShape(Substring(s)) ? nil
            : "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    }

    static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }
    static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
    static func isLabelValueShape(_ s: Substring) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        return isAlnum(first) && isAlnum(last)
            && bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }
}
