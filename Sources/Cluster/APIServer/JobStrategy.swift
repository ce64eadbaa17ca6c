import APIMachinery
import JSON

/// A Job selects its own pods: unless it asks for `manualSelector`, the server labels its pod
/// template with the Job's uid and name and makes the selector match them, as kube-apiserver
/// does (so `kubectl create job` works without a selector, and two Jobs never share pods).
/// The selector and template are immutable afterwards except for what Kubernetes allows.
struct JobStrategy: KindStrategy {
    static let uidLabel = "batch.kubernetes.io/controller-uid"
    static let nameLabel = "batch.kubernetes.io/job-name"

    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {
        guard object[path: ["spec", "manualSelector"]]?.boolValue != true, let uid = object.uid else { return }
        let name = object.name ?? ""
        for (key, value) in [(Self.uidLabel, uid), (Self.nameLabel, name), ("controller-uid", uid), ("job-name", name)] {
            object[path: ["spec", "template", "metadata", "labels", key]] = .string(value)
        }
        object[path: ["spec", "selector"]] = ["matchLabels": .object([Self.uidLabel: .string(uid)])]
    }

    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {
        if next[path: ["spec", "selector"]] != current[path: ["spec", "selector"]] {
            throw .invalid(resource, name: current.name ?? "", [.forbidden("spec.selector", "field is immutable")])
        }
        if next[path: ["spec", "completions"]] != current[path: ["spec", "completions"]],
           next[path: ["spec", "completionMode"]]?.stringValue != "Indexed" {
            throw .invalid(resource, name: current.name ?? "", [.forbidden("spec.completions", "field is immutable")])
        }
    }
}
