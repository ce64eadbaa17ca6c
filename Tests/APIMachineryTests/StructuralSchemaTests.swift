import Testing
import JSON
@testable import APIMachinery

/// Calico-shaped CRD schemas and kube's messages for them (kube-openapi's validators as
/// apiextensions-apiserver converts them to field errors).
@Suite struct StructuralSchemaTests {
    static func schema(_ text: String) -> StructuralSchema { StructuralSchema(try! JSONValue.parse(text)) }
    static func object(_ text: String) -> JSONValue { try! JSONValue.parse(text) }
    static func messages(_ errors: [FieldError]) -> [String] { errors.map(\.description) }

    static let ipPool = schema("""
        {"type":"object","properties":{
          "apiVersion":{"type":"string"},"kind":{"type":"string"},"metadata":{"type":"object"},
          "spec":{"type":"object","required":["cidr"],"properties":{
            "cidr":{"type":"string"},
            "ipipMode":{"type":"string","enum":["Never","Always","CrossSubnet"],"default":"Never"},
            "allowedUses":{"type":"array","items":{"type":"string","enum":["Workload","Tunnel","LoadBalancer"]}},
            "blockSize":{"type":"integer","minimum":0,"maximum":128},
            "nodeSelector":{"type":"string"}}}}}
        """)

    static let bgpConfiguration = schema(#"""
        {"type":"object","properties":{"spec":{"type":"object","properties":{
          "listenPort":{"type":"integer","minimum":1,"maximum":65535},
          "communities":{"type":"array","items":{"type":"object","properties":{
            "name":{"type":"string"},
            "value":{"type":"string","pattern":"^(\\d+):(\\d+)$|^(\\d+):(\\d+):(\\d+)$"}}}},
          "nextHopMode":{"type":"string","allOf":[{"enum":["Auto","Self","Keep"]},{"enum":["Auto","Self"]}]}}}}}
        """#)

    static let ipamBlock = schema("""
        {"type":"object","properties":{"spec":{"type":"object","required":["cidr","allocations","unallocated"],"properties":{
          "cidr":{"type":"string"},
          "affinity":{"type":"string"},
          "allocations":{"type":"array","items":{"type":"integer","nullable":true}},
          "unallocated":{"type":"array","items":{"type":"integer"}},
          "attributes":{"type":"object","additionalProperties":{"type":"string"}},
          "strictAffinity":{"type":"boolean","default":false}}}}}
        """)

    static let ipamHandle = schema("""
        {"type":"object","properties":{"spec":{"type":"object","properties":{
          "handleID":{"type":"string"},
          "block":{"type":"object","additionalProperties":{"type":"integer"}},
          "deleted":{"type":"boolean"}}}}}
        """)

    // MARK: messages

    @Test func typeMismatchNamesTheActualType() {
        let errors = Self.ipPool.validate(Self.object(#"{"spec":{"cidr":10}}"#))
        #expect(errors == [FieldError(field: "spec.cidr", reason: "FieldValueTypeInvalid",
                                      message: #"Invalid value: "integer": spec.cidr in body must be of type string: "integer""#)])
        #expect(Self.messages(Self.ipPool.validate(Self.object(#"{"spec":{"cidr":"x","blockSize":1.5}}"#)))
                == [#"spec.blockSize: Invalid value: "number": spec.blockSize in body must be of type integer: "number""#])
        #expect(Self.ipPool.validate(Self.object(#"{"spec":{"cidr":"x","blockSize":26.0}}"#)).isEmpty, "an integral float is an integer")
        #expect(Self.messages(Self.ipPool.validate(Self.object(#"{"spec":{"cidr":null}}"#)))
                == [#"spec.cidr: Invalid value: "null": spec.cidr in body must be of type string: "null""#])
    }

    @Test func ipPool() {
        var pool = Self.object(#"{"apiVersion":"crd.projectcalico.org/v1","kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.0.0.0/16"}}"#)
        Self.ipPool.normalize(&pool)
        #expect(pool["spec"] == ["cidr": "10.0.0.0/16", "ipipMode": "Never"])
        #expect(Self.ipPool.validate(pool).isEmpty)

        let bad = Self.object(#"{"spec":{"cidr":10,"ipipMode":"Sometimes","allowedUses":["Workload","Bogus"],"blockSize":200}}"#)
        let errors = Self.ipPool.validate(bad)
        #expect(Self.messages(errors) == [
            #"spec.allowedUses[1]: Unsupported value: "Bogus": supported values: "Workload", "Tunnel", "LoadBalancer""#,
            "spec.blockSize: Invalid value: 200: spec.blockSize in body should be less than or equal to 128",
            #"spec.cidr: Invalid value: "integer": spec.cidr in body must be of type string: "integer""#,
            #"spec.ipipMode: Unsupported value: "Sometimes": supported values: "Never", "Always", "CrossSubnet""#,
        ])
        #expect(errors.map(\.reason) == ["FieldValueNotSupported", "FieldValueInvalid", "FieldValueTypeInvalid", "FieldValueNotSupported"])

        let missing = Self.ipPool.validate(Self.object(#"{"spec":{"ipipMode":"Always"}}"#))
        #expect(missing == [FieldError(field: "spec.cidr", reason: "FieldValueRequired", message: "Required value")])
    }

    @Test func bgpConfiguration() {
        let schema = Self.bgpConfiguration
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"listenPort":70000}}"#)))
                == ["spec.listenPort: Invalid value: 70000: spec.listenPort in body should be less than or equal to 65535"])
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"listenPort":0}}"#)))
                == ["spec.listenPort: Invalid value: 0: spec.listenPort in body should be greater than or equal to 1"])
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"listenPort":70000.5}}"#))) == [
            #"spec.listenPort: Invalid value: "number": spec.listenPort in body must be of type integer: "number""#,
            "spec.listenPort: Invalid value: 70000.5: spec.listenPort in body should be less than or equal to 65535",
        ])
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"listenPort":1e6}}"#)))
                == ["spec.listenPort: Invalid value: 1e+06: spec.listenPort in body should be less than or equal to 65535"])

        let communities = Self.object(#"{"spec":{"communities":[{"name":"a","value":"100:200"},{"name":"b","value":"abc"},{"name":"c","value":"1:2:3"},{"name":"d","value":"x1:2"}]}}"#)
        #expect(Self.messages(schema.validate(communities)) == [
            #"spec.communities[1].value: Invalid value: "abc": spec.communities[1].value in body should match '^(\d+):(\d+)$|^(\d+):(\d+):(\d+)$'"#,
            #"spec.communities[3].value: Invalid value: "x1:2": spec.communities[3].value in body should match '^(\d+):(\d+)$|^(\d+):(\d+):(\d+)$'"#,
        ])

        #expect(schema.validate(Self.object(#"{"spec":{"nextHopMode":"Self"}}"#)).isEmpty)
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"nextHopMode":"Keep"}}"#))) == [
            #"spec.nextHopMode: Unsupported value: "Keep": supported values: "Auto", "Self""#,
            #"<nil>: Invalid value: "": "spec.nextHopMode" must validate all the schemas (allOf)"#,
        ])
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"nextHopMode":"Bogus"}}"#))) == [
            #"spec.nextHopMode: Unsupported value: "Bogus": supported values: "Auto", "Self", "Keep""#,
            #"spec.nextHopMode: Unsupported value: "Bogus": supported values: "Auto", "Self""#,
            #"<nil>: Invalid value: "": "spec.nextHopMode" must validate all the schemas (allOf). None validated"#,
        ])
    }

    @Test func ipamBlock() {
        var block = Self.object(#"{"spec":{"cidr":"10.0.0.0/26","allocations":[0,null,1],"unallocated":[2,3],"attributes":{"a":"x","gone":null}}}"#)
        Self.ipamBlock.normalize(&block)
        #expect(block["spec"]?["allocations"] == [0, nil, 1], "null array items stay")
        #expect(block["spec"]?["attributes"] == ["a": "x"], "a non-nullable null map entry without default goes")
        #expect(block["spec"]?["strictAffinity"] == false)
        #expect(Self.ipamBlock.validate(block).isEmpty)

        var bad = Self.object(#"{"spec":{"cidr":"c","allocations":[],"unallocated":[2,null],"attributes":{"a":1}}}"#)
        Self.ipamBlock.normalize(&bad)
        #expect(bad["spec"]?["unallocated"] == [2, nil])
        #expect(Self.messages(Self.ipamBlock.validate(bad)) == [
            #"spec.attributes.a: Invalid value: "integer": spec.attributes.a in body must be of type string: "integer""#,
            #"spec.unallocated[1]: Invalid value: "null": spec.unallocated[1] in body must be of type integer: "null""#,
        ])
    }

    @Test func ipamHandle() {
        #expect(Self.ipamHandle.validate(Self.object(#"{"spec":{"handleID":"h","block":{"10.0.0.0/26":2}}}"#)).isEmpty)
        #expect(Self.messages(Self.ipamHandle.validate(Self.object(#"{"spec":{"block":{"10.0.0.0/26":"2","b":1}}}"#)))
                == [#"spec.block.10.0.0.0/26: Invalid value: "string": spec.block.10.0.0.0/26 in body must be of type integer: "string""#])
    }

    @Test func numberBounds() {
        let schema = Self.schema("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "x":{"type":"integer","minimum":0,"exclusiveMinimum":true,"maximum":10,"exclusiveMaximum":true,"multipleOf":5},
              "f":{"type":"number","multipleOf":0.5}}}}}
            """)
        let check = { (spec: String) in Self.messages(schema.validate(Self.object(#"{"spec":\#(spec)}"#))) }
        #expect(check(#"{"x":10}"#) == ["spec.x: Invalid value: 10: spec.x in body should be less than 10"])
        #expect(check(#"{"x":0}"#) == ["spec.x: Invalid value: 0: spec.x in body should be greater than 0"])
        #expect(check(#"{"x":7}"#) == ["spec.x: Invalid value: 7: spec.x in body should be a multiple of 5"])
        #expect(check(#"{"x":5,"f":2.5}"#).isEmpty)
        #expect(check(#"{"f":0.3}"#) == ["spec.f: Invalid value: 0.3: spec.f in body should be a multiple of 0.5"])
    }

    @Test func lengthsAndCounts() {
        let schema = Self.schema("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "s":{"type":"string","minLength":3,"maxLength":5},
              "list":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"string"}},
              "m":{"type":"object","minProperties":1,"maxProperties":2,"additionalProperties":{"type":"string"}}}}}}
            """)
        let check = { (spec: String) in schema.validate(Self.object(#"{"spec":\#(spec)}"#)) }
        #expect(check(#"{"s":"abcdef"}"#) == [FieldError(field: "spec.s", reason: "FieldValueTooLong", message: "Too long: may not be more than 5 bytes")])
        #expect(Self.messages(check(#"{"s":"ab"}"#)) == [#"spec.s: Invalid value: "ab": spec.s in body should be at least 3 chars long"#])
        #expect(check(#"{"s":"héllo"}"#).isEmpty, "lengths count characters, not bytes")
        #expect(check(#"{"list":["a","b","c","d"]}"#) == [FieldError(field: "spec.list", reason: "FieldValueTooMany", message: "Too many: 4: must have at most 3 items")])
        #expect(Self.messages(check(#"{"list":[]}"#)) == ["spec.list: Invalid value: 0: spec.list in body should have at least 1 items"])
        #expect(Self.messages(check(#"{"m":{"a":"1","b":"2","c":"3"}}"#)) == ["spec.m: Too many: 3: must have at most 2 items"])
        #expect(Self.messages(check(#"{"m":{}}"#)) == ["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"])
    }

    @Test func junctors() {
        let schema = Self.schema("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "a":{"type":"integer","anyOf":[{"minimum":10},{"maximum":0}]},
              "o":{"type":"integer","oneOf":[{"minimum":0},{"maximum":10}]},
              "n":{"type":"string","not":{"enum":["x"]}}}}}}
            """)
        let check = { (spec: String) in Self.messages(schema.validate(Self.object(#"{"spec":\#(spec)}"#))) }
        #expect(check(#"{"a":11,"o":-1,"n":"y"}"#).isEmpty)
        #expect(check(#"{"a":5}"#) == [
            #"<nil>: Invalid value: "": "spec.a" must validate at least one schema (anyOf)"#,
            "spec.a: Invalid value: 5: spec.a in body should be greater than or equal to 10",
        ])
        #expect(check(#"{"o":5}"#) == [#"<nil>: Invalid value: "": "spec.o" must validate one and only one schema (oneOf). Found 2 valid alternatives"#])
        #expect(check(#"{"n":"x"}"#) == [#"<nil>: Invalid value: "": "spec.n" must not validate the schema (not)"#])
    }

    @Test func intOrString() {
        let schema = Self.schema(#"{"type":"object","properties":{"spec":{"type":"object","properties":{"port":{"x-kubernetes-int-or-string":true}}}}}"#)
        #expect(schema.validate(Self.object(#"{"spec":{"port":5}}"#)).isEmpty)
        #expect(schema.validate(Self.object(#"{"spec":{"port":"http"}}"#)).isEmpty)
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"port":true}}"#)))
                == [#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#])
    }

    @Test func embeddedResource() {
        let schema = Self.schema("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "template":{"type":"object","x-kubernetes-embedded-resource":true,"x-kubernetes-preserve-unknown-fields":true}}}}}
            """)
        #expect(Self.messages(schema.validate(Self.object(#"{"spec":{"template":{"metadata":{"name":"x"}}}}"#))) == [
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Required value: must not be empty",
        ])
        #expect(schema.validate(Self.object(#"{"spec":{"template":{"apiVersion":"v1","kind":"Pod"}}}"#)).isEmpty)
    }

    // MARK: pruning, nulls, defaults

    static let pruning = schema("""
        {"type":"object","properties":{"spec":{"type":"object","properties":{
          "a":{"type":"string"},
          "items":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"}}}},
          "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true,"properties":{
            "known":{"type":"object","properties":{"k":{"type":"string"}}}}}}}}}
        """)

    @Test func pruneKeepsWhatTheSchemaAllows() {
        var object = Self.object("""
            {"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"t","odd":1},
             "spec":{"a":"x","junk":1,"items":[{"name":"a"},{"name":"b"},{"name":"c","bar":1}],
                     "free":{"anything":{"deep":1},"known":{"k":"v","drop":1}}},
             "status":{"x":1}}
            """)
        #expect(Self.pruning.unknownFields(in: object) == ["spec.free.known.drop", "spec.items[2].bar", "spec.junk", "status"])
        Self.pruning.normalize(&object)
        #expect(object == Self.object("""
            {"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"t","odd":1},
             "spec":{"a":"x","items":[{"name":"a"},{"name":"b"},{"name":"c"}],
                     "free":{"anything":{"deep":1},"known":{"k":"v"}}}}
            """))
        #expect(Self.pruning.unknownFields(in: object).isEmpty)
    }

    @Test func defaultsApplyTopDown() {
        let schema = Self.schema("""
            {"type":"object","properties":{"spec":{"type":"object","default":{},"properties":{
              "bgp":{"type":"object","default":{},"properties":{
                "asNumber":{"type":"integer","default":64512},"enabled":{"type":"boolean","default":true}}},
              "ports":{"type":"array","items":{"type":"object","properties":{
                "port":{"type":"integer"},"protocol":{"type":"string","default":"TCP"}}}},
              "peers":{"type":"object","additionalProperties":{"type":"object","properties":{
                "keepalive":{"type":"integer","default":30}}}},
              "mode":{"type":"string","default":"auto"},
              "note":{"type":"string","nullable":true}}}}}
            """)
        var empty = Self.object("{}")
        schema.normalize(&empty)
        #expect(empty == ["spec": ["bgp": ["asNumber": 64512, "enabled": true], "mode": "auto"]])

        var object = Self.object(#"{"spec":{"bgp":{"asNumber":65000},"ports":[{"port":80},{"port":53,"protocol":"UDP"}],"peers":{"a":{}},"mode":null,"note":null}}"#)
        schema.normalize(&object)
        #expect(object == Self.object("""
            {"spec":{"bgp":{"asNumber":65000,"enabled":true},"ports":[{"port":80,"protocol":"TCP"},{"port":53,"protocol":"UDP"}],
                     "peers":{"a":{"keepalive":30}},"mode":"auto","note":null}}
            """))
        #expect(schema.validate(object).isEmpty)
    }

    // MARK: schema checks

    static let path = "spec.versions[0].schema.openAPIV3Schema"

    @Test func calicoSchemasAreStructural() {
        for schema in [Self.ipPool, Self.bgpConfiguration, Self.ipamBlock, Self.ipamHandle, Self.pruning] {
            #expect(StructuralSchema.structuralErrors(schema.json, path: Self.path).isEmpty)
        }
    }

    @Test func structuralErrors() throws {
        let p = Self.path
        let check = { (text: String) in Self.messages(StructuralSchema.structuralErrors(Self.object(text), path: p)) }
        #expect(check(#"{"type":"object","properties":{"spec":{"type":"object","properties":{"cidr":{"description":"no type"}},"additionalProperties":{"type":"string"}}}}"#) == [
            "\(p).properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
            "\(p).properties[spec].properties[cidr].type: Required value: must not be empty for specified object fields",
        ])
        #expect(check(#"{"properties":{}}"#) == ["\(p).type: Required value: must not be empty at the root"])
        #expect(check(#"{"type":"array"}"#) == [
            "\(p).items: Required value: must be specified",
            #"\#(p).type: Invalid value: "array": must be object at the root"#,
        ])
        #expect(check(#"{"type":"object","properties":{"l":{"type":"array","items":{}}}}"#)
                == ["\(p).properties[l].items.type: Required value: must not be empty for specified array items"])
        #expect(check(#"{"type":"object","properties":{"x":{"type":"string","allOf":[{"type":"string"}]}}}"#)
                == ["\(p).properties[x].allOf[0].type: Forbidden: must be empty to be structural"])
        #expect(check(#"{"type":"object","properties":{"x":{"type":"object","anyOf":[{"properties":{"y":{"type":"string"}}}]}}}"#) == [
            "\(p).properties[x].anyOf[0].properties[y].type: Forbidden: must be empty to be structural",
            "\(p).properties[x].properties[y]: Required value: because it is defined in \(p).properties[x].anyOf[0].properties[y]",
        ])

        let badPattern = check(#"{"type":"object","properties":{"x":{"type":"string","pattern":"(abc"}}}"#)
        #expect(badPattern.count == 1)
        #expect(badPattern.first?.hasPrefix(#"\#(p).properties[x].pattern: Invalid value: "(abc": must be a valid regular expression, but isn't: error parsing regexp: "#) == true)
        #expect(check(#"{"type":"object","properties":{"x":{"type":"string","pattern":"a(?=b)"}}}"#)
                == [#"\#(p).properties[x].pattern: Invalid value: "a(?=b)": must be a valid regular expression, but isn't: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"#])

        #expect(check(#"{"type":"object","properties":{"m":{"type":"string","enum":["Never","Always"],"default":"Sometimes"}}}"#)
                == [#"\#(p).properties[m].default: Unsupported value: "Sometimes": supported values: "Never", "Always""#])
        #expect(check(#"{"type":"object","properties":{"o":{"type":"object","properties":{"a":{"type":"integer"}},"default":{"a":"x","b":1}}}}"#) == [
            #"\#(p).properties[o].default: Invalid value: map[string]interface {}{"a":"x", "b":1}: must not have unknown fields"#,
            #"\#(p).properties[o].default.a: Invalid value: "string": a in body must be of type integer: "string""#,
        ])
        #expect(check(#"{"type":"object","properties":{"metadata":{"type":"object","default":{}}}}"#)
                == ["\(p).properties[metadata].default: Forbidden: must not be set in top-level metadata"])
        #expect(check(#"{"type":"object","properties":{"l":{"type":"array","uniqueItems":true,"items":{"type":"string"}}}}"#)
                == ["\(p).properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"])
    }

    @Test func goFloatPrinting() {
        #expect(GoText.float(65535) == "65535")
        #expect(GoText.float(1e6) == "1e+06")
        #expect(GoText.float(123456.5) == "123456.5")
        #expect(GoText.float(0.5) == "0.5")
        #expect(GoText.float(0.0001) == "0.0001")
        #expect(GoText.float(0.00001) == "1e-05")
        #expect(GoText.float(-2.5e21) == "-2.5e+21")
        #expect(GoText.quote("a\"b\n\u{1}é") == #""a\"b\n\x01é""#)
    }
}

@Suite struct JSONPathTests {
    let object: JSONValue = try! JSONValue.parse("""
        {"spec":{"replicas":3,"list":["a","b","c"],"ports":[{"n":1},{"n":2},{"n":3}]},
         "status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Synced","status":"False"}]}}
        """)

    @Test func paths() throws {
        #expect(try JSONPath(".spec.replicas").evaluate(object) == [3])
        #expect(try JSONPath("{.spec.replicas}").evaluate(object) == [3])
        #expect(try JSONPath(#".status.conditions[?(@.type=="Ready")].status"#).evaluate(object) == ["True"])
        #expect(try JSONPath(".status.conditions[?(@.type!='Ready')].type").evaluate(object) == ["Synced"])
        #expect(try JSONPath(".spec.ports[?(@.n > 1)].n").evaluate(object) == [2, 3])
        #expect(try JSONPath(".spec.list[1]").evaluate(object) == ["b"])
        #expect(try JSONPath(".spec.list[-1]").evaluate(object) == ["c"])
        #expect(try JSONPath(".spec.list[0:2]").evaluate(object) == ["a", "b"])
        #expect(try JSONPath(".spec.list[*]").evaluate(object) == ["a", "b", "c"])
        #expect(try JSONPath(".status.conditions[*].type").evaluate(object) == ["Ready", "Synced"])
        #expect(try JSONPath(".spec['replicas']").evaluate(object) == [3])
        let labelled: JSONValue = ["metadata": ["labels": ["app.kubernetes.io/name": "calico"]]]
        #expect(try JSONPath(#".metadata.labels.app\.kubernetes\.io/name"#).evaluate(labelled) == ["calico"])
        #expect(try JSONPath(".metadata.labels['app.kubernetes.io/name']").evaluate(labelled) == ["calico"])
        #expect(try JSONPath(".spec.missing").evaluate(object) == [])
        #expect(try JSONPath(".spec.missing.deeper").evaluate(object) == [])
        #expect(try JSONPath(".spec.list[9]").evaluate(object) == [])
        #expect(try JSONPath(".spec.replicas.x").evaluate(object) == [])
    }

    @Test func malformed() {
        for bad in ["", "spec.replicas", ".spec[", "..spec", ".spec.list[x]", "{.spec", ".a[?(@.b ~ 1)]", ".a b"] {
            #expect(throws: JSONPath.ParseError.self, "\(bad)") { try JSONPath(bad) }
        }
    }
}
