import Foundation
import Testing
import NetplaneTestSupport

/// The official Kubernetes Python client, unchanged, against the server.
@Suite(.serialized) struct PythonClientTests {
    @Test(arguments: Backend.allCases) func listsAndWatchesPods(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        defer { api.stop() }
        try api.kubectlOK(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Pod
            metadata: {name: first, labels: {app: py}}
            spec:
              containers: [{name: c, image: busybox}]
            """)
        let script = """
            import sys, threading, time
            from kubernetes import client, config, watch
            config.load_kube_config(config_file=sys.argv[1])
            v1 = client.CoreV1Api()
            pods = v1.list_namespaced_pod("default", label_selector="app=py")
            print("LIST", ",".join(p.metadata.name for p in pods.items), pods.items[0].status.phase)
            rv = pods.metadata.resource_version
            def make():
                time.sleep(1)
                body = client.V1Pod(metadata=client.V1ObjectMeta(name="second", labels={"app": "py"}),
                                    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
                v1.create_namespaced_pod("default", body)
                v1.delete_namespaced_pod("second", "default", grace_period_seconds=0)
            threading.Thread(target=make).start()
            w = watch.Watch()
            seen = []
            for event in w.stream(v1.list_namespaced_pod, "default", label_selector="app=py",
                                  resource_version=rv, timeout_seconds=10):
                seen.append(event["type"] + ":" + event["object"].metadata.name)
                if len(seen) == 2:
                    w.stop()
            print("WATCH", " ".join(seen))
            """
        let path = api.dataDir + "/client.py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try Command.run(["timeout", "60", "python3", path, api.kubeconfig])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains("LIST first Pending"), "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("WATCH ADDED:second DELETED:second"), "\(result.stdout)\(result.stderr)")
    }
}
