import Testing
import IPAM
import NetAddress

@Suite struct IPAMConfigTests {
    @Test func parsesReferenceConfigWithDefaults() throws {
        let json = """
        {"cniVersion": "1.0.0", "name": "mynet", "type": "bridge",
         "ipam": {"type": "host-local",
                  "ranges": [[{"subnet": "10.244.1.0/24"}, {"subnet": "10.244.2.0/24", "rangeStart": "10.244.2.10",
                               "rangeEnd": "10.244.2.20", "gateway": "10.244.2.254"}],
                             [{"subnet": "fd00:10:244::/64"}]],
                  "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.244.1.254"}],
                  "resolvConf": "/etc/resolv.conf"}}
        """
        let c = try HostLocalConfig(json: Array(json.utf8))
        #expect(c.name == "mynet")
        #expect(c.dataDir == "/var/lib/cni/networks")
        #expect(c.resolvConf == "/etc/resolv.conf")
        #expect(c.rangeSets.count == 2)
        let a = c.rangeSets[0][0]
        #expect(a.rangeStart == ip("10.244.1.1"))
        #expect(a.rangeEnd == ip("10.244.1.254"))
        #expect(a.gateway == ip("10.244.1.1"))
        let b = c.rangeSets[0][1]
        #expect(b.rangeStart == ip("10.244.2.10") && b.rangeEnd == ip("10.244.2.20") && b.gateway == ip("10.244.2.254"))
        let v6 = c.rangeSets[1][0]
        #expect(v6.rangeStart == ip("fd00:10:244::1"))
        #expect(v6.rangeEnd == ip("fd00:10:244::ffff:ffff:ffff:ffff"))
        #expect(v6.gateway == ip("fd00:10:244::1"))
        #expect(c.routes == [IPAMRoute(dst: prefix("0.0.0.0/0")),
                             IPAMRoute(dst: prefix("192.168.0.0/16"), gw: ip("10.244.1.254"))])
    }

    @Test func legacyFieldsComeFirstAndRequestsAreCollected() throws {
        let json = """
        {"name": "n", "ipam": {"type": "host-local", "subnet": "10.88.0.0/16", "rangeStart": "10.88.0.10",
          "rangeEnd": "10.88.0.50", "gateway": "10.88.0.1", "dataDir": "/tmp/x",
          "ranges": [[{"subnet": "fd00::/120"}]]},
         "args": {"cni": {"ips": ["10.88.0.12"]}}, "runtimeConfig": {"ips": ["fd00::5/120"]}}
        """
        let c = try HostLocalConfig(json: Array(json.utf8), cniArgs: "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.88.0.11,10.88.0.12")
        #expect(c.rangeSets.map { $0[0].subnet } == [prefix("10.88.0.0/16"), prefix("fd00::/120")])
        #expect(c.rangeSets[0][0].rangeStart == ip("10.88.0.10"))
        #expect(c.rangeSets[1][0].rangeEnd == ip("fd00::ff"))
        #expect(c.dataDir == "/tmp/x")
        #expect(c.requestedIPs == [ip("10.88.0.11"), ip("10.88.0.12"), ip("fd00::5")])
    }

    @Test func validationErrors() {
        func fails(_ sets: [[IPRange]], _ text: String) {
            #expect { try config(sets) } throws: { ($0 as? IPAMError)?.description.contains(text) == true }
        }
        fails([[IPRange(subnet: prefix("10.0.0.0/24"), rangeStart: ip("10.0.1.5"))]], "RangeStart 10.0.1.5 not in network 10.0.0.0/24")
        fails([[IPRange(subnet: prefix("10.0.0.0/24"), rangeEnd: ip("10.0.1.5"))]], "RangeEnd 10.0.1.5 not in network")
        fails([[IPRange(subnet: prefix("10.0.0.0/24")), IPRange(subnet: prefix("10.0.0.0/25"))]], "overlap")
        fails([[IPRange(subnet: prefix("10.0.0.0/24")), IPRange(subnet: prefix("fd00::/64"))]], "mixed address families")
        fails([[IPRange(subnet: prefix("10.0.0.0/24"))], [IPRange(subnet: prefix("10.0.0.128/25"))]], "range set 0 overlaps with 1")
        fails([[IPRange(subnet: prefix("10.0.0.0/31"))]], "too small")
        fails([[IPRange(subnet: prefix("10.0.0.5/24"))]], "host bits set")
        fails([[]], "empty range set")
        fails([], "no IP ranges specified")
        fails([[IPRange(subnet: prefix("10.0.0.0/24"), rangeStart: ip("10.0.0.9"), rangeEnd: ip("10.0.0.3"))]], "after RangeEnd")
    }

    @Test func decodeErrors() {
        #expect { try HostLocalConfig(json: Array(#"{"name":"n"}"#.utf8)) } throws: {
            ($0 as? IPAMError)?.kind == .invalidConfig
        }
        #expect { try HostLocalConfig(json: Array(#"{"name":"n","ipam":{"ranges":[[{"subnet":"10.0.0/24"}]]}}"#.utf8)) } throws: {
            ($0 as? IPAMError)?.kind == .decode
        }
        #expect { try HostLocalConfig(json: Array("not json".utf8)) } throws: { ($0 as? IPAMError)?.kind == .decode }
        // A field of the wrong type is named with its path.
        #expect { try HostLocalConfig(json: Array(#"{"name":"n","ipam":{"ranges":[[{"subnet":"10.0.0.0/24","gateway":7}]]}}"#.utf8)) } throws: {
            guard let e = $0 as? IPAMError else { return false }
            return e.kind == .decode && e.message.contains("ipam.ranges[0][0].gateway") && e.message.contains("expected a string")
        }
        #expect { try HostLocalConfig(json: Array(#"{"name":"n","ipam":{"routes":[{"gw":"10.0.0.1"}],"subnet":"10.0.0.0/24"}}"#.utf8)) } throws: {
            ($0 as? IPAMError)?.message.contains("ipam.routes[0].dst: missing field 'dst'") == true
        }
    }

    @Test func nullFieldsCountAsAbsent() throws {
        let c = try HostLocalConfig(json: Array(#"{"name":"n","args":null,"ipam":{"subnet":"10.0.0.0/24","rangeStart":null,"routes":null,"dataDir":null}}"#.utf8))
        #expect(c.rangeSets[0][0].rangeStart == ip("10.0.0.1"))
        #expect(c.routes.isEmpty && c.dataDir == HostLocalConfig.defaultDataDir)
    }
}

@Suite struct ResolvConfTests {
    @Test func parsesLikeTheReference() {
        let r = ResolvConf(parsing: """
        # generated
        nameserver 10.96.0.10
        ; comment
        nameserver fd00::a\r
        domain cluster.local
        search default.svc.cluster.local svc.cluster.local
        options ndots:5 timeout:1
        """)
        #expect(r == ResolvConf(nameservers: ["10.96.0.10", "fd00::a"], domain: "cluster.local",
                                search: ["default.svc.cluster.local", "svc.cluster.local"], options: ["ndots:5", "timeout:1"]))
    }
}
