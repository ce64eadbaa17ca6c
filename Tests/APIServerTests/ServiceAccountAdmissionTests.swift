import Foundation
import NetplaneTestSupport
import Testing

/// ServiceAccount admission and what each namespace is born with, as `kubectl` shows them:
/// the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap right after `kubectl
/// create namespace`, the kube-api-access volume in every container of a new pod, a pod
/// naming a missing account refused, and automounting turned off by the pod or its account.
@Suite struct ServiceAccountAdmissionTests {
    @Test func podsGetTheirAccountsTokenVolume() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        try api.kubectlOK(["create", "namespace", "team"])
        #expect(try api.kubectlOK(["get", "serviceaccount", "default", "-n", "team", "-o", "name"]) == "serviceaccount/default\n")
        let ca = try String(contentsOfFile: api.dataDir + "/pki/ca.crt", encoding: .utf8)
        #expect(try api.kubectlOK(["get", "configmap", "kube-root-ca.crt", "-n", "team", "-o", #"jsonpath={.data.ca\.crt}"#]) == ca)
        // Namespaces the server made at its first start have them too.
        #expect(try api.kubectlOK(["get", "configmap", "kube-root-ca.crt", "-n", "kube-system", "-o", "name"]) == "configmap/kube-root-ca.crt\n")

        try api.kubectlOK(["run", "web", "-n", "team", "--image=busybox", "--overrides",
                           #"{"spec":{"initContainers":[{"name":"init","image":"busybox"}]}}"#])
        let pod = try api.kubectlJSON(["get", "pod", "web", "-n", "team"])
        let spec = pod["spec"] as? [String: Any] ?? [:]
        #expect(spec["serviceAccountName"] as? String == "default")
        let volumes = spec["volumes"] as? [[String: Any]] ?? []
        let access = volumes.first { ($0["name"] as? String)?.hasPrefix("kube-api-access-") == true }
        let sources = (access?["projected"] as? [String: Any])?["sources"] as? [[String: Any]] ?? []
        #expect(sources.map { $0.keys.sorted().joined() } == ["serviceAccountToken", "configMap", "downwardAPI"], "\(volumes)")
        for list in ["containers", "initContainers"] {
            for container in spec[list] as? [[String: Any]] ?? [] {
                let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
                #expect(mounts.contains { $0["mountPath"] as? String == "/var/run/secrets/kubernetes.io/serviceaccount"
                    && $0["name"] as? String == access?["name"] as? String && $0["readOnly"] as? Bool == true }, "\(list): \(mounts)")
            }
        }

        // An account that does not exist: refused, in kube's words.
        let ghost = try api.kubectl(["run", "ghostly", "-n", "team", "--image=busybox", "--overrides", #"{"spec":{"serviceAccountName":"ghost"}}"#])
        #expect(ghost.stderr.contains(#"error looking up service account team/ghost: serviceaccount "ghost" not found"#), "\(ghost.stderr)")

        // Automounting off, by the pod or by its account; a pod mounting its own volume there keeps it.
        try api.kubectlOK(["run", "quiet", "-n", "team", "--image=busybox", "--overrides", #"{"spec":{"automountServiceAccountToken":false}}"#])
        try api.kubectlOK(["create", "serviceaccount", "robot", "-n", "team"])
        try api.kubectlOK(["patch", "serviceaccount", "robot", "-n", "team", "-p", #"{"automountServiceAccountToken":false}"#])
        try api.kubectlOK(["run", "robotic", "-n", "team", "--image=busybox", "--overrides", #"{"spec":{"serviceAccountName":"robot"}}"#])
        try api.kubectlOK(["run", "own", "-n", "team", "--image=busybox", "--overrides", """
            {"spec":{"volumes":[{"name":"mine","emptyDir":{}}],"containers":[{"name":"own","image":"busybox",
             "volumeMounts":[{"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}]}}
            """])
        for name in ["quiet", "robotic", "own"] {
            #expect(!(try api.kubectlOK(["get", "pod", name, "-n", "team", "-o", "jsonpath={.spec.volumes[*].name}"]).contains("kube-api-access")))
        }
    }
}
