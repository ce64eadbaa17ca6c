import Testing
@testable import CNI

private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

@Suite("CNI types")
struct CNITypesTests {
    static let result100 = """
    {"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"0a:58:0a:01:00:05","sandbox":"/run/netns/x"}],
     "ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1","interface":0},{"address":"fd00::5/64","interface":0}],
     "routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}],"dns":{"nameservers":["10.1.0.1"],"search":["svc"]}}
    """

    @Test("CNI: JSONValue round-trips every kind, keeping integers")
    func jsonValue() throws {
        let v = try json(#"{"a":1,"b":1.5,"c":"s","d":[true,null],"e":{"f":-7}}"#)
        #expect(v["a"] == .int(1))
        #expect(v["b"] == .double(1.5))
        #expect(v["d"] == .array([.bool(true), .null]))
        #expect(v.jsonString == #"{"a":1,"b":1.5,"c":"s","d":[true,null],"e":{"f":-7}}"#)
        #expect(try JSONValue.parse(v.jsonBytes()) == v)
    }

    @Test("CNI: truncated JSON is a decode error (6)")
    func truncated() {
        #expect(throws: CNIError.self) { try NetConf(bytes: Array(#"{"cniVersion":"1.0.0","#.utf8)) }
        do { _ = try NetConf(bytes: Array("{".utf8)) } catch { #expect(error.code == .decodingFailure) }
    }

    @Test("CNI: NetConf fields, plugin-specific fields and re-encoding")
    func netConf() throws {
        let conf = try NetConf(json: json("""
        {"cniVersion":"1.1.0","name":"net","type":"bridge","bridge":"cni0","isGateway":true,
         "ipam":{"type":"host-local","ranges":[[{"subnet":"10.1.0.0/24"}]]},
         "dns":{"nameservers":["1.1.1.1"]},"runtimeConfig":{"portMappings":[]},"args":{"cni":{"ips":["10.1.0.9"]}},
         "capabilities":{"portMappings":true},"prevResult":\(Self.result100)}
        """))
        #expect(conf.cniVersion == "1.1.0" && conf.name == "net" && conf.type == "bridge")
        #expect(conf.ipamType == "host-local")
        #expect(conf["bridge"] == .string("cni0"))
        #expect(conf["isGateway"]?.boolValue == true)
        #expect(conf.dns?.nameservers == ["1.1.1.1"])
        #expect(conf.args?["cni"]?["ips"] == .array([.string("10.1.0.9")]))
        #expect(conf.capabilities?["portMappings"] == .bool(true))
        #expect(try conf.decodedPrevResult()?.ips.count == 2)
        #expect(try NetConf(json: conf.json) == conf)
    }

    @Test("CNI: results of every version decode to the same thing")
    func decodeAllVersions() throws {
        let r = try CNIResult(json: json(Self.result100))
        #expect(r.interfaces == [.init(name: "eth0", mac: "0a:58:0a:01:00:05", sandbox: "/run/netns/x")])
        #expect(r.ips == [.init(address: "10.1.0.5/24", gateway: "10.1.0.1", interface: 0),
                          .init(address: "fd00::5/64", interface: 0)])
        #expect(r.routes == [.init(dst: "0.0.0.0/0", gw: "10.1.0.1")])
        #expect(r.dns.nameservers == ["10.1.0.1"] && r.dns.search == ["svc"])
        for v in CNIVersion.all {
            let encoded = try r.json(version: v)
            #expect(encoded["cniVersion"] == .string(v))
            var back = try CNIResult(json: encoded)
            back.cniVersion = r.cniVersion
            #expect(back == r, "version \(v)")
        }
    }

    @Test("CNI: a 1.0.0 prevResult written as 0.3.1 gets per-ip versions; 1.x has none")
    func convert100To031() throws {
        let r = try CNIResult(json: json(Self.result100))
        let old = try r.json(version: "0.3.1")
        #expect(old["cniVersion"] == .string("0.3.1"))
        #expect(old["ips"]?.arrayValue?.map { $0["version"] } == [.string("4"), .string("6")])
        #expect(old["ips"]?.arrayValue?.first?["gateway"] == .string("10.1.0.1"))
        for v in ["0.3.0", "0.4.0"] {
            #expect(try r.json(version: v)["ips"]?.arrayValue?.first?["version"] == .string("4"))
        }
        for v in ["1.0.0", "1.1.0"] {
            #expect(try r.json(version: v)["ips"]?.arrayValue?.first?["version"] == nil)
        }
        // A 0.3.1 result with versions decodes; a bad per-ip version does not.
        #expect(try CNIResult(json: old).ips.count == 2)
        #expect(throws: CNIError.self) {
            try CNIResult(json: json(#"{"cniVersion":"0.3.1","ips":[{"version":"5","address":"1.2.3.4/32"}]}"#))
        }
        do { _ = try r.json(version: "0.2.0") } catch { #expect(error.code == .incompatibleVersion) }
    }

    @Test("CNI: 1.1.0-only fields are written only for 1.1.0")
    func fields110() throws {
        let r = CNIResult(interfaces: [.init(name: "eth0", mac: "aa:bb:cc:dd:ee:ff", mtu: 1400, sandbox: "/x",
                                             socketPath: "/s", pciID: "0000:00:01.0")],
                          routes: [.init(dst: "10.0.0.0/8", gw: "10.1.0.1", mtu: 1300, advmss: 1200,
                                         priority: 5, table: 100, scope: 0)])
        let new = try r.json(version: "1.1.0")
        #expect(new["interfaces"]?.arrayValue?.first?["mtu"] == .int(1400))
        #expect(new["interfaces"]?.arrayValue?.first?["pciID"] == .string("0000:00:01.0"))
        #expect(new["routes"]?.arrayValue?.first?["table"] == .int(100))
        #expect(try CNIResult(json: new) == r)
        let old = try r.json(version: "1.0.0")
        #expect(old["interfaces"]?.arrayValue?.first?["mtu"] == nil)
        #expect(old["routes"]?.arrayValue?.first == .object(["dst": .string("10.0.0.0/8"), "gw": .string("10.1.0.1")]))
    }

    @Test("CNI: error JSON has cniVersion, code, msg, details and reads back")
    func errors() throws {
        let e = CNIError(code: .invalidNetworkConfig, msg: "bad subnet", details: "10.0.0.0/33")
        let j = e.json(cniVersion: "1.0.0")
        #expect(j.jsonString == #"{"cniVersion":"1.0.0","code":7,"details":"10.0.0.0/33","msg":"bad subnet"}"#)
        #expect(CNIError(json: j) == e)
        #expect(CNIError(json: .object(["msg": .string("x")])) == nil)
        let codes: [CNIError.Code] = [.incompatibleVersion, .unsupportedField, .unknownContainer, .invalidEnvironment,
                                      .ioFailure, .decodingFailure, .invalidNetworkConfig, .tryAgainLater,
                                      .pluginNotAvailable]
        #expect(codes.map(\.rawValue) == [1, 2, 3, 4, 5, 6, 7, 11, 50])
    }

    static let base = ["CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
                       "CNI_PATH": "/opt/cni/bin:/usr/lib/cni"]

    @Test("CNI: environment parsing and per-command required variables")
    func environment() throws {
        var e = Self.base
        e["CNI_COMMAND"] = "ADD"
        e["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAME=web;EMPTY="
        let env = try CNIEnvironment(e)
        #expect(env.command == .add && env.containerID == "c1" && env.netns == "/run/netns/x" && env.ifname == "eth0")
        #expect(env.path == ["/opt/cni/bin", "/usr/lib/cni"])
        #expect(env.args.map(\.key) == ["IgnoreUnknown", "K8S_POD_NAME", "EMPTY"])
        #expect(env.arg("K8S_POD_NAME") == "web" && env.arg("EMPTY") == "")

        func code(_ vars: [String: String]) -> Int? {
            do { _ = try CNIEnvironment(vars); return nil } catch { return error.code.rawValue }
        }
        func without(_ command: String, _ key: String) -> [String: String] {
            var v = Self.base; v["CNI_COMMAND"] = command; v[key] = nil; return v
        }
        for command in ["ADD", "CHECK"] {
            for key in ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"] {
                #expect(code(without(command, key)) == 4, "\(command) without \(key)")
            }
        }
        #expect(code(without("DEL", "CNI_NETNS")) == nil)
        for key in ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"] { #expect(code(without("DEL", key)) == 4) }
        #expect(code(["CNI_COMMAND": "GC", "CNI_PATH": "/x"]) == nil)
        #expect(code(["CNI_COMMAND": "STATUS"]) == 4)
        #expect(code(["CNI_COMMAND": "VERSION"]) == nil)
        #expect(code([:]) == 4)
        #expect(code(["CNI_COMMAND": "FROB"]) == 4)
        #expect(code(Self.base.merging(["CNI_COMMAND": "ADD", "CNI_ARGS": "novalue"]) { $1 }) == 4)
        #expect(code(Self.base.merging(["CNI_COMMAND": "ADD", "CNI_IFNAME": "a/b"]) { $1 }) == 4)
        #expect(code(Self.base.merging(["CNI_COMMAND": "ADD", "CNI_IFNAME": "sixteen-chars-xx"]) { $1 }) == 4)
        #expect(code(Self.base.merging(["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "-bad"]) { $1 }) == 4)
    }

    @Test("CNI: conflist parsing and per-plugin config assembly")
    func conflist() throws {
        let list = try NetConfList(json: json("""
        {"cniVersion":"1.0.0","cniVersions":["1.0.0","1.1.0","9.0.0"],"name":"k8s","disableCheck":"true",
         "plugins":[{"type":"bridge","bridge":"cni0","ipam":{"type":"host-local"}},
                    {"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false}}]}
        """))
        #expect(list.name == "k8s" && list.disableCheck && !list.disableGC && list.plugins.count == 2)
        #expect(list.effectiveVersion() == "1.1.0")
        #expect(list.effectiveVersion(supported: ["0.4.0", "1.0.0"]) == "1.0.0")
        let first = try list.pluginConfig(at: 0)
        #expect(first.name == "k8s" && first.cniVersion == "1.1.0" && first.type == "bridge")
        #expect(first["bridge"] == .string("cni0") && first.prevResult == nil && first.runtimeConfig == nil)
        let prev = try CNIResult(json: json(Self.result100)).json(version: "1.1.0")
        let second = try list.pluginConfig(at: 1, prevResult: prev,
                                           runtimeConfig: ["portMappings": .array([]), "bandwidth": .object([:]),
                                                           "ips": .array([])])
        #expect(second.prevResult == prev)
        #expect(second.runtimeConfig == .object(["portMappings": .array([])]))
        #expect(try second.decodedPrevResult()?.ips.count == 2)

        for bad in [#"{"plugins":[{"type":"x"}]}"#, #"{"name":"n","plugins":[]}"#, #"{"name":"n","plugins":[{}]}"#,
                    #"{"name":"n","disableGC":3,"plugins":[{"type":"x"}]}"#] {
            let parsed = try json(bad)
            do { _ = try NetConfList(json: parsed); Issue.record("accepted \(bad)") } catch {
                #expect(error.code == .invalidNetworkConfig)
            }
        }
    }

    @Test("CNI: PluginMain dispatch, version negotiation and exactly one JSON document")
    func pluginMain() throws {
        struct Boom: Error {}
        let versions = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        func call(_ command: String, _ config: String, extra: [String: String] = [:]) -> (JSONValue?, Int32) {
            var env = Self.base.merging(extra) { $1 }
            env["CNI_COMMAND"] = command
            let (out, status) = PluginMain.handle(
                environment: env, stdin: Array(config.utf8), supportedVersions: versions,
                add: { req in
                    if req.config["fail"] != nil { throw Boom() }
                    return CNIResult(cniVersion: req.config.cniVersion, ips: [.init(address: "10.0.0.2/24", interface: 0)])
                },
                del: { _ in }, check: { _ in }, gc: { _ in })
            return (out.isEmpty ? nil : try? JSONValue.parse(out), status)
        }
        func conf(_ v: String, _ extra: String = "") -> String { #"{"cniVersion":"\#(v)","name":"n","type":"t"\#(extra)}"# }

        let (version, vs) = call("VERSION", "")
        #expect(vs == 0 && version == .object(["cniVersion": .string("1.1.0"),
                                               "supportedVersions": .array(versions.map { .string($0) })]))
        let (add031, s1) = call("ADD", conf("0.3.1"))
        #expect(s1 == 0 && add031?["cniVersion"] == .string("0.3.1"))
        #expect(add031?["ips"]?.arrayValue?.first?["version"] == .string("4"))
        let (add100, _) = call("ADD", conf("1.0.0"))
        #expect(add100?["ips"]?.arrayValue?.first?["version"] == nil)
        #expect(call("DEL", conf("1.0.0")) == (nil, 0))

        func errorCode(_ r: (JSONValue?, Int32)) -> Int? { r.1 != 0 ? r.0?["code"]?.intValue : nil }
        #expect(errorCode(call("ADD", conf("0.2.0"))) == 1)
        #expect(errorCode(call("ADD", conf("9.9.9"))) == 1)
        #expect(errorCode(call("ADD", "{\"cniVersion\":")) == 6)
        #expect(errorCode(call("ADD", conf("1.0.0"), extra: ["CNI_NETNS": ""])) == 4)
        #expect(errorCode(call("CHECK", conf("0.3.1"))) == 1)
        #expect(call("CHECK", conf("0.4.0")) == (nil, 0))
        #expect(errorCode(call("GC", conf("1.0.0"))) == 1)
        #expect(call("GC", conf("1.1.0")) == (nil, 0))
        #expect(errorCode(call("STATUS", conf("1.1.0"))) == 4)  // no STATUS handler
        let (generic, gs) = call("ADD", conf("1.1.0", #","fail":true"#))
        #expect(gs != 0 && generic?["code"] == .int(999) && generic?["cniVersion"] == .string("1.1.0"))
    }
}
