import Synchronization
public import APIMachinery
import Crypto
import Foundation
public import JSON
public import Storage
import _CryptoExtras

/// kube-apiserver's `--encryption-provider-config` (EncryptionConfiguration,
/// apiserver.config.k8s.io/v1): per group of resources, providers in order. The first one
/// writes; every one listed reads what it wrote, so a key can be rotated in (listed second,
/// then first) and out. Stored values carry kube-apiserver's prefix
/// `k8s:enc:<provider>:v1:<key name>:`; values without one are plain (readable only while
/// `identity` is listed).
public struct EncryptionConfiguration: Sendable {
    public enum Provider: Sendable {
        case identity
        /// AES-CBC with PKCS#7 padding, a random IV per write (kube-apiserver's aescbc).
        case aescbc([NamedKey])
        /// AES-GCM with a random nonce per write, the storage key as authenticated data.
        case aesgcm([NamedKey])

        var name: String {
            switch self { case .identity: "identity"; case .aescbc: "aescbc"; case .aesgcm: "aesgcm" }
        }
    }

    public struct NamedKey: Sendable {
        public var name: String
        /// The key's bytes (swift-crypto's SymmetricKey is made at each use: it is not Sendable).
        var bytes: [UInt8]
        var key: SymmetricKey { SymmetricKey(data: bytes) }
    }

    public struct Rule: Sendable {
        /// "secrets", "configmaps", "deployments.apps": plural, then the group for non-core.
        public var resources: [String]
        public var providers: [Provider]
    }

    public var rules: [Rule]

    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(json: JSONValue) throws(Problem) {
        func fail(_ text: String) -> Problem { Problem(description: text) }
        guard json["kind"]?.stringValue == "EncryptionConfiguration",
              ["apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1"].contains(json["apiVersion"]?.stringValue ?? "") else {
            throw fail("expected kind EncryptionConfiguration of apiserver.config.k8s.io/v1, got \(json["kind"]?.stringValue ?? "no kind") \(json["apiVersion"]?.stringValue ?? "")")
        }
        var rules: [Rule] = []
        var seen: Set<String> = []
        for (i, entry) in (json["resources"]?.arrayValue ?? []).enumerated() {
            let at = "resources[\(i)]"
            let names = entry["resources"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard !names.isEmpty else { throw fail("\(at).resources: at least one resource is required") }
            for name in names {
                guard !name.contains("*") else { throw fail("\(at).resources: wildcards (\(name)) are not supported; name each resource") }
                guard seen.insert(name).inserted else { throw fail("\(at).resources: \(name) is named by an earlier entry") }
            }
            var providers: [Provider] = []
            for (j, provider) in (entry["providers"]?.arrayValue ?? []).enumerated() {
                let here = "\(at).providers[\(j)]"
                guard let object = provider.objectValue, object.count == 1, let (kind, body) = object.first else {
                    throw fail("\(here): exactly one provider type per entry")
                }
                switch kind {
                case "identity": providers.append(.identity)
                case "aescbc", "aesgcm":
                    var keys: [NamedKey] = []
                    for (k, key) in (body["keys"]?.arrayValue ?? []).enumerated() {
                        guard let name = key["name"]?.stringValue, !name.isEmpty, !name.contains(":") else {
                            throw fail("\(here).\(kind).keys[\(k)].name: a name without ':' is required")
                        }
                        guard let secret = key["secret"]?.stringValue, let bytes = Data(base64Encoded: secret),
                              [16, 24, 32].contains(bytes.count) else {
                            throw fail("\(here).\(kind).keys[\(k)].secret: must be base64 of a 16, 24 or 32 byte key")
                        }
                        keys.append(NamedKey(name: name, bytes: Array(bytes)))
                    }
                    guard !keys.isEmpty else { throw fail("\(here).\(kind).keys: at least one key is required") }
                    providers.append(kind == "aescbc" ? .aescbc(keys) : .aesgcm(keys))
                case "secretbox":
                    throw fail("\(here): secretbox is not supported (XSalsa20-Poly1305 is not in swift-crypto); use aesgcm or aescbc")
                case "kms":
                    throw fail("\(here): kms is not supported; use aesgcm or aescbc with a key file")
                default:
                    throw fail("\(here): unknown provider \(kind) (identity, aescbc, aesgcm)")
                }
            }
            guard !providers.isEmpty else { throw fail("\(at).providers: at least one provider is required") }
            rules.append(Rule(resources: names, providers: providers))
        }
        guard !rules.isEmpty else { throw fail("resources: nothing to encrypt") }
        self.rules = rules
    }

    /// The store key prefix of each configured resource, with its transformer.
    public func transformers(registry: ResourceRegistry = .builtin) throws(Problem) -> [String: ValueTransformer] {
        var out: [String: ValueTransformer] = [:]
        for rule in rules {
            for name in rule.resources {
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                let (plural, group) = (parts[0], parts.count == 2 ? parts[1] : "")
                guard let resource = registry.resources.first(where: { !$0.isView && $0.plural == plural && $0.group == group }) else {
                    throw Problem(description: "resources: \(name) is not a resource this server stores")
                }
                out[resource.keyPrefix] = ValueTransformer(providers: rule.providers)
            }
        }
        return out
    }
}

/// Turns a stored value into what is written (the first provider) and back (whichever wrote it).
public struct ValueTransformer: Sendable {
    let providers: [EncryptionConfiguration.Provider]

    static let marker = Array("k8s:enc:".utf8)

    static func prefix(_ provider: String, _ key: String) -> [UInt8] { Array("k8s:enc:\(provider):v1:\(key):".utf8) }

    /// Whether `stored` was written by the first provider (with its first key).
    public func isCurrent(_ stored: [UInt8]) -> Bool {
        switch providers[0] {
        case .identity: !stored.starts(with: Self.marker)
        case .aescbc(let keys): stored.starts(with: Self.prefix("aescbc", keys[0].name))
        case .aesgcm(let keys): stored.starts(with: Self.prefix("aesgcm", keys[0].name))
        }
    }

    public func encrypt(_ plain: [UInt8], storageKey: String) throws(StoreError) -> [UInt8] {
        do {
            switch providers[0] {
            case .identity:
                return plain
            case .aescbc(let keys):
                let iv = (0..<16).map { _ in UInt8.random(in: 0...255) }
                let sealed = try AES._CBC.encrypt(plain, using: keys[0].key, iv: AES._CBC.IV(ivBytes: iv))
                return Self.prefix("aescbc", keys[0].name) + iv + Array(sealed)
            case .aesgcm(let keys):
                let box = try AES.GCM.seal(plain, using: keys[0].key, nonce: AES.GCM.Nonce(), authenticating: Array(storageKey.utf8))
                return Self.prefix("aesgcm", keys[0].name) + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
            }
        } catch {
            throw StoreError(.backend, "encrypting \(storageKey): \(error)")
        }
    }

    public func decrypt(_ stored: [UInt8], storageKey: String) throws(StoreError) -> [UInt8] {
        guard stored.starts(with: Self.marker) else {
            guard providers.contains(where: { if case .identity = $0 { true } else { false } }) else {
                throw StoreError(.backend, "\(storageKey) is stored unencrypted and identity is not among the configured providers")
            }
            return stored
        }
        // k8s:enc:<provider>:v1:<name>:<payload>
        let fields = stored.split(separator: UInt8(ascii: ":"), maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, fields[3].elementsEqual("v1".utf8) else {
            throw StoreError(.backend, "\(storageKey): unrecognised encryption prefix")
        }
        let providerName = String(decoding: fields[2], as: UTF8.self), keyName = String(decoding: fields[4], as: UTF8.self)
        let payload = Array(fields[5])
        do {
            for provider in providers {
                switch provider {
                case .aescbc(let keys) where providerName == "aescbc":
                    guard let key = keys.first(where: { $0.name == keyName }), payload.count >= 32 else { continue }
                    return Array(try AES._CBC.decrypt(payload[16...], using: key.key, iv: AES._CBC.IV(ivBytes: payload[0..<16])))
                case .aesgcm(let keys) where providerName == "aesgcm":
                    guard let key = keys.first(where: { $0.name == keyName }), payload.count >= 28 else { continue }
                    let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: payload[0..<12]), ciphertext: payload[12..<(payload.count - 16)],
                                                    tag: payload[(payload.count - 16)...])
                    return Array(try AES.GCM.open(box, using: key.key, authenticating: Array(storageKey.utf8)))
                default:
                    continue
                }
            }
        } catch {
            throw StoreError(.backend, "decrypting \(storageKey) with \(providerName) key \(keyName): \(error)")
        }
        throw StoreError(.backend, "\(storageKey) was written with \(providerName) key \(keyName), which is not configured")
    }
}

/// A store that encrypts the values under some key prefixes (Secrets, typically) on the way
/// in and decrypts them on the way out, so the database (SQLite's file, etcd's) never holds
/// them in the clear; everything above sees plain objects.
public final class EncryptingStore: Store {
    let base: any Store
    let transformers: [(prefix: String, transformer: ValueTransformer)]

    public init(base: any Store, transformers: [String: ValueTransformer]) {
        self.base = base
        self.transformers = transformers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func transformer(_ key: String) -> ValueTransformer? { transformers.first { key.hasPrefix($0.prefix) }?.transformer }

    func plain(_ object: StoredObject) throws(StoreError) -> StoredObject {
        guard let t = transformer(object.key) else { return object }
        var out = object
        out.value = try t.decrypt(object.value, storageKey: object.key)
        return out
    }

    public func create(_ key: String, value: [UInt8]) async throws(StoreError) -> StoredObject {
        let stored = try transformer(key).map { t throws(StoreError) in try t.encrypt(value, storageKey: key) } ?? value
        var object = try await base.create(key, value: stored)
        object.value = value
        return object
    }

    public func get(_ key: String) async throws(StoreError) -> StoredObject { try plain(try await base.get(key)) }

    public func update(_ key: String, value: [UInt8], ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        let stored = try transformer(key).map { t throws(StoreError) in try t.encrypt(value, storageKey: key) } ?? value
        var object = try await base.update(key, value: stored, ifRevision: ifRevision)
        object.value = value
        return object
    }

    public func delete(_ key: String, ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        try plain(try await base.delete(key, ifRevision: ifRevision))
    }

    public func list(prefix: String, after: String?, limit: Int?) async throws(StoreError) -> ListPage {
        var page = try await base.list(prefix: prefix, after: after, limit: limit)
        for i in page.items.indices { page.items[i] = try plain(page.items[i]) }
        return page
    }

    public func watch(prefix: String, after revision: Int64,
                      deliver: @escaping @Sendable (WatchDelivery) -> Void) async throws(StoreError) -> StoreWatch {
        let ended = EndedOnce()
        return try await base.watch(prefix: prefix, after: revision) { [self] delivery in
            guard case .event(var event) = delivery else {
                if !ended.now() { deliver(delivery) }
                return
            }
            guard !ended.already else { return }
            guard let t = transformer(event.object.key) else { return deliver(delivery) }
            do throws(StoreError) {
                event.object.value = try t.decrypt(event.object.value, storageKey: event.object.key)
                if let previous = event.previous { event.previous = try t.decrypt(previous, storageKey: event.object.key) }
                deliver(.event(event))
            } catch {
                // The watch cannot go on; its receiver is told from another task, as it may
                // stop the watch when it ends, which a delivery must not do from inside (the
                // store delivers under its own lock). Nothing more is delivered after.
                guard !ended.now() else { return }
                Task { deliver(.end(error)) }
            }
        }
    }

    public func currentRevision() async throws(StoreError) -> Int64 { try await base.currentRevision() }

    public func compact(through revision: Int64) async throws(StoreError) { try await base.compact(through: revision) }

    /// Rewrites every stored value not written by its first provider (after a key was
    /// rotated in, or encryption turned on or off): read, decrypt, encrypt, write back at the
    /// same revision (one changed meanwhile is left for the next start). Returns how many.
    public func rewriteStale() async throws(StoreError) -> Int {
        var rewritten = 0
        for (prefix, t) in transformers {
            var after: String?
            repeat {
                let page = try await base.list(prefix: prefix, after: after, limit: 500)
                for item in page.items where !t.isCurrent(item.value) {
                    let value = try t.encrypt(try t.decrypt(item.value, storageKey: item.key), storageKey: item.key)
                    do {
                        _ = try await base.update(item.key, value: value, ifRevision: item.modRevision)
                        rewritten += 1
                    } catch {
                        if case .conflict = error.kind { continue }
                        throw error
                    }
                }
                after = page.continueAfter
            } while after != nil
        }
        return rewritten
    }
}

/// Whether a watch has ended, set once (by its first end).
private final class EndedOnce: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Whether it had ended already; it has now.
    func now() -> Bool { flag.exchange(true, ordering: .sequentiallyConsistent) }
    var already: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
