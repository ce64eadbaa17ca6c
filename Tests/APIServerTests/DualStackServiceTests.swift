import Foundation
import NetplaneTestSupport
import Testing

/// Dual-stack Services with kubectl: `--service-cluster-ip-range` with an IPv4 and an IPv6
/// range, ipFamilyPolicy and ipFamilies as kube-apiserver reads them, allocations kept across
/// a restart, and what a single-stack cluster refuses.
@Suite struct DualStackServiceTests {
    func service(_ name: String, _ extra: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name)}
        spec:
          ports: [{port: 80}]
        \(extra)
        """
    }

    @Test func familiesPoliciesAndRequestedAddresses() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-dual-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var api = try APIServerProcess(dataDir: dir, extraArgs: ["--service-cluster-ip-range", "10.96.0.0/16,fd00:10:96::/112"])
        func fields(_ name: String) throws -> String {
            try api.kubectl(["get", "service", name, "-o", "jsonpath={.spec.ipFamilyPolicy} {.spec.ipFamilies} {.spec.clusterIPs}"]).stdout
        }
        func apply(_ name: String, _ extra: String) throws -> CommandResult {
            try api.kubectl(["apply", "-f", "-"], stdin: service(name, extra))
        }

        // No policy: single-stack in the primary family.
        #expect(try api.kubectl(["create", "service", "clusterip", "plain", "--tcp=80"]).succeeded)
        let plain = try fields("plain")
        #expect(plain.hasPrefix(#"SingleStack ["IPv4"] ["10.96."#), "\(plain)")

        #expect(try apply("prefer", "  ipFamilyPolicy: PreferDualStack").succeeded)
        let prefer = try fields("prefer")
        #expect(prefer.hasPrefix(#"PreferDualStack ["IPv4","IPv6"] ["10.96."#) && prefer.contains(#"","fd00:10:96::"#), "\(prefer)")

        #expect(try apply("v6first", "  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv6, IPv4]").succeeded)
        let v6first = try fields("v6first")
        #expect(v6first.hasPrefix(#"RequireDualStack ["IPv6","IPv4"] ["fd00:10:96::"#), "\(v6first)")
        #expect(try api.kubectl(["get", "service", "v6first", "-o", "jsonpath={.spec.clusterIP}"]).stdout.hasPrefix("fd00:10:96::"))

        #expect(try apply("v6only", "  ipFamilies: [IPv6]").succeeded)
        #expect(try fields("v6only").hasPrefix(#"SingleStack ["IPv6"] ["fd00:10:96::"#))

        #expect(try apply("asked", "  ipFamilyPolicy: RequireDualStack\n  clusterIPs: [10.96.5.5, \"fd00:10:96::5\"]").succeeded)
        #expect(try fields("asked") == #"RequireDualStack ["IPv4","IPv6"] ["10.96.5.5","fd00:10:96::5"]"#)

        // What the API refuses, with its field and reason.
        let single = try apply("bad1", "  ipFamilyPolicy: SingleStack\n  ipFamilies: [IPv4, IPv6]")
        #expect(!single.succeeded && single.stderr.contains("must be RequireDualStack or PreferDualStack when multiple IP families are specified"), "\(single.stderr)")
        let duplicate = try apply("bad2", "  ipFamilyPolicy: PreferDualStack\n  ipFamilies: [IPv4, IPv4]")
        #expect(!duplicate.succeeded && duplicate.stderr.contains("spec.ipFamilies[1]: Duplicate value"), "\(duplicate.stderr)")
        let taken = try apply("bad3", "  ipFamilyPolicy: PreferDualStack\n  clusterIPs: [10.96.5.6, \"fd00:10:96::5\"]")
        #expect(!taken.succeeded && taken.stderr.contains("provided IP is already allocated"), "\(taken.stderr)")
        // The IPv4 address bad3 claimed first was given back.
        #expect(try apply("reuse", "  clusterIP: 10.96.5.6").succeeded)
        let mismatch = try apply("bad4", "  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv6, IPv4]\n  clusterIPs: [10.96.5.7, \"fd00:10:96::7\"]")
        #expect(!mismatch.succeeded && mismatch.stderr.contains("expected an IPv6 value as indicated by `ipFamilies[0]`"), "\(mismatch.stderr)")
        // A family change is refused, not ignored; re-applying the same manifest is fine.
        #expect(try apply("prefer", "  ipFamilyPolicy: PreferDualStack").succeeded)
        let converted = try apply("prefer", "  ipFamilyPolicy: SingleStack")
        #expect(!converted.succeeded && converted.stderr.contains("may not change once set"), "\(converted.stderr)")

        // A restart keeps both families' allocations.
        _ = api.stop()
        api = try APIServerProcess(dataDir: dir, extraArgs: ["--service-cluster-ip-range", "10.96.0.0/16,fd00:10:96::/112"])
        let again = try apply("again", "  ipFamilyPolicy: RequireDualStack\n  clusterIPs: [10.96.5.8, \"fd00:10:96::5\"]")
        #expect(!again.succeeded && again.stderr.contains("provided IP is already allocated"), "\(again.stderr)")
        #expect(try api.kubectl(["delete", "service", "asked"]).succeeded)
        #expect(try apply("again", "  ipFamilyPolicy: RequireDualStack\n  clusterIPs: [10.96.5.8, \"fd00:10:96::5\"]").succeeded)
        _ = api.stop()

        // A single-stack cluster: RequireDualStack and the missing family are refused,
        // PreferDualStack falls back to one family.
        let single4 = dir + "-single"
        defer { try? FileManager.default.removeItem(atPath: single4) }
        api = try APIServerProcess(dataDir: single4)
        let required = try apply("req", "  ipFamilyPolicy: RequireDualStack")
        #expect(!required.succeeded && required.stderr.contains("this cluster is not configured for dual-stack services"), "\(required.stderr)")
        let missing = try apply("v6", "  ipFamilies: [IPv6]")
        #expect(!missing.succeeded && missing.stderr.contains("not configured on this cluster"), "\(missing.stderr)")
        #expect(try apply("pref", "  ipFamilyPolicy: PreferDualStack").succeeded)
        #expect(try fields("pref").hasPrefix(#"PreferDualStack ["IPv4"] ["10.96."#))
        _ = api.stop()
        let refused = try Command.run([productsDirectory() + "/netplane", "apiserver", "--service-cluster-ip-range", "10.96.0.0/16,10.97.0.0/16",
                                       "--data-dir", single4 + "-x"])
        #expect(!refused.succeeded && refused.stderr.contains("two of different IP families"), "\(refused.stderr)")
    }
}
