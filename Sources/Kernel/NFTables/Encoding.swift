internal import CNftnl

// Conversion of the value types into libnftnl objects. Everything that touches libnftnl's
// attribute setters lives here, so the rest of the module deals in Swift values only.

@inline(__always) func attr(_ a: Int) -> UInt16 { UInt16(a) }
@inline(__always) func attr(_ a: UInt32) -> UInt16 { UInt16(a) }

/// An owned libnftnl object freed when the wrapper goes away.
final class NftnlObject {
    let pointer: OpaquePointer
    private let free: (OpaquePointer) -> Void
    init(_ pointer: OpaquePointer, free: @escaping (OpaquePointer) -> Void) {
        self.pointer = pointer; self.free = free
    }
    deinit { free(pointer) }
}

extension Table {
    func nftnl() -> NftnlObject {
        let t = nftnl_table_alloc()!
        nftnl_table_set_str(t, attr(NFTNL_TABLE_NAME.rawValue), name)
        nftnl_table_set_u32(t, attr(NFTNL_TABLE_FAMILY.rawValue), UInt32(family.rawValue))
        return NftnlObject(t) { nftnl_table_free($0) }
    }
}

extension Chain {
    func nftnl() -> NftnlObject {
        let c = nftnl_chain_alloc()!
        nftnl_chain_set_str(c, attr(NFTNL_CHAIN_TABLE.rawValue), table.name)
        nftnl_chain_set_str(c, attr(NFTNL_CHAIN_NAME.rawValue), name)
        nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_FAMILY.rawValue), UInt32(table.family.rawValue))
        if let base {
            nftnl_chain_set_str(c, attr(NFTNL_CHAIN_TYPE.rawValue), base.type.rawValue)
            nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.rawValue)
            nftnl_chain_set_s32(c, attr(NFTNL_CHAIN_PRIO.rawValue), base.priority)
            nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_POLICY.rawValue), base.policy.rawValue)
        }
        return NftnlObject(c) { nftnl_chain_free($0) }
    }
}

extension NamedSet {
    /// Kernel set flags: the user's plus those implied by the shape (map, concatenation).
    var kernelFlags: UInt32 {
        var f = flags.rawValue
        if data != nil { f |= UInt32(NFT_SET_MAP.rawValue) }
        if flags.contains(.interval) && isConcatenated { f |= UInt32(NFT_SET_CONCAT.rawValue) }
        if flags.contains(.dynamic) { f |= UInt32(NFT_SET_EVAL.rawValue) }
        return f
    }

    /// A set object for set and element messages. `withShape` adds key/data types and flags
    /// (needed to create the set; element messages only need the names).
    func nftnl(withShape: Bool, id: UInt32 = 0) -> NftnlObject {
        let s = nftnl_set_alloc()!
        if id != 0 { nftnl_set_set_u32(s, attr(NFTNL_SET_ID.rawValue), id) }
        nftnl_set_set_str(s, attr(NFTNL_SET_TABLE.rawValue), table.name)
        nftnl_set_set_str(s, attr(NFTNL_SET_NAME.rawValue), name)
        nftnl_set_set_u32(s, attr(NFTNL_SET_FAMILY.rawValue), UInt32(table.family.rawValue))
        if withShape {
            nftnl_set_set_u32(s, attr(NFTNL_SET_FLAGS.rawValue), kernelFlags)
            nftnl_set_set_u32(s, attr(NFTNL_SET_KEY_TYPE.rawValue), DataType.concatenated(key))
            nftnl_set_set_u32(s, attr(NFTNL_SET_KEY_LEN.rawValue), UInt32(DataType.length(of: key)))
            if isConcatenated && flags.contains(.interval) {
                // The pipapo backend needs each field's length to match ranges per field.
                var lengths = key.map { UInt8($0.length) }
                nftnl_set_set_data(s, attr(NFTNL_SET_DESC_CONCAT.rawValue), &lengths, UInt32(lengths.count))
            }
            switch data {
            case .verdict:
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_TYPE.rawValue), NFT_DATA_VERDICT.rawValue)
            case .value(let types):
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_TYPE.rawValue), DataType.concatenated(types))
                nftnl_set_set_u32(s, attr(NFTNL_SET_DATA_LEN.rawValue), UInt32(DataType.length(of: types)))
            case nil: break
            }
            if let timeoutMilliseconds {
                nftnl_set_set_u64(s, attr(NFTNL_SET_TIMEOUT.rawValue), timeoutMilliseconds)
            }
            if let expectedSize, expectedSize > 0 {
                nftnl_set_set_u32(s, attr(NFTNL_SET_DESC_SIZE.rawValue), UInt32(expectedSize))
            }
            // nft reads key/data byte order from user data; without it `nft list` would show
            // host-order keys (marks, numgen results) byte-swapped.
            let ud = nftnl_udata_buf_alloc(64)!
            _ = nftnl_udata_put_u32(ud, 0 /* NFTNL_UDATA_SET_KEYBYTEORDER */, byteOrder(key))
            if case .value(let types) = data {
                _ = nftnl_udata_put_u32(ud, 1 /* NFTNL_UDATA_SET_DATABYTEORDER */, byteOrder(types))
            }
            nftnl_set_set_data(s, attr(NFTNL_SET_USERDATA.rawValue), nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud))
            nftnl_udata_buf_free(ud)
        }
        return NftnlObject(s) { nftnl_set_free($0) }
    }

    /// nft's byte-order code for a key: 1 host endian (a single mark), 2 big endian.
    private func byteOrder(_ types: [DataType]) -> UInt32 { types == [.mark] ? 1 : 2 }

    /// Encodes a key (single or concatenated) to the bytes the kernel compares.
    func keyBytes(_ values: [Value]) throws(NFTablesError) -> [UInt8] {
        try encode(values, as: key, what: "key")
    }

    func encode(_ values: [Value], as types: [DataType], what: String) throws(NFTablesError) -> [UInt8] {
        guard values.count == types.count else {
            throw NFTablesError(.invalidArgument("\(what) has \(values.count) fields, the set's type has \(types.count)"),
                                object: "set \(table.family) \(table.name) \(name)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(DataType.length(of: types))
        for (value, type) in zip(values, types) {
            let b = value.bytes
            guard b.count == type.length else {
                throw NFTablesError(.invalidArgument("\(what) field \(value) is \(b.count) bytes, \(type) needs \(type.length)"),
                                    object: "set \(table.family) \(table.name) \(name)")
            }
            out += b
            if types.count > 1 { out += Array(repeating: 0, count: (4 - b.count % 4) % 4) }
        }
        return out
    }

    /// Builds the element objects for `elements`, expanding ranges of non-concatenated
    /// interval sets into the kernel's start/end-flagged pairs.
    func addElements(_ elements: [SetElement], into s: OpaquePointer) throws(NFTablesError) {
        for element in elements {
            let key = try keyBytes(element.key)
            let e = nftnl_set_elem_alloc()!
            set(e, attr(NFTNL_SET_ELEM_KEY), key)
            if let timeout = element.timeoutMilliseconds {
                nftnl_set_elem_set_u64(e, attr(NFTNL_SET_ELEM_TIMEOUT), timeout)
            }
            switch element.data {
            case .verdict(let v):
                nftnl_set_elem_set_u32(e, attr(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: v.code))
                if let chain = v.chain { nftnl_set_elem_set_str(e, attr(NFTNL_SET_ELEM_CHAIN), chain) }
            case .value(let values):
                guard case .value(let types) = data else {
                    throw NFTablesError(.invalidArgument("element has data but the set is not a data map"),
                                        object: "set \(table.family) \(table.name) \(name)")
                }
                set(e, attr(NFTNL_SET_ELEM_DATA), try encode(values, as: types, what: "data"))
            case nil: break
            }
            guard flags.contains(.interval) else {
                nftnl_set_elem_add(s, e); continue
            }
            let end = try keyBytes(element.keyEnd ?? element.key)
            if isConcatenated {
                set(e, attr(NFTNL_SET_ELEM_KEY_END), end)
                nftnl_set_elem_add(s, e)
            } else {
                nftnl_set_elem_add(s, e)
                // Ranges are half-open in the kernel: the end element holds last + 1.
                if let next = increment(end) {
                    let close = nftnl_set_elem_alloc()!
                    set(close, attr(NFTNL_SET_ELEM_KEY), next)
                    nftnl_set_elem_set_u32(close, attr(NFTNL_SET_ELEM_FLAGS), NFT_SET_ELEM_INTERVAL_END.rawValue)
                    nftnl_set_elem_add(s, close)
                }
            }
        }
    }
}

private func set(_ e: OpaquePointer, _ a: UInt16, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = nftnl_set_elem_set(e, a, $0.baseAddress, UInt32($0.count)) }
}

/// Big-endian increment; nil on overflow (the range reaches the top of the key space).
func increment(_ bytes: [UInt8]) -> [UInt8]? {
    var out = bytes
    for i in out.indices.reversed() {
        if out[i] == 0xff { out[i] = 0 } else { out[i] += 1; return out }
    }
    return nil
}

extension Rule {
    /// `inlineSetIDs` are the batch ids of this rule's inline sets, in expression order.
    func nftnl(position: UInt64? = nil, inlineSetIDs: [UInt32] = []) -> NftnlObject {
        let r = nftnl_rule_alloc()!
        nftnl_rule_set_str(r, attr(NFTNL_RULE_TABLE.rawValue), table.name)
        nftnl_rule_set_str(r, attr(NFTNL_RULE_CHAIN.rawValue), chain)
        nftnl_rule_set_u32(r, attr(NFTNL_RULE_FAMILY.rawValue), UInt32(table.family.rawValue))
        if let handle { nftnl_rule_set_u64(r, attr(NFTNL_RULE_HANDLE.rawValue), handle) }
        if let position { nftnl_rule_set_u64(r, attr(NFTNL_RULE_POSITION.rawValue), position) }
        var ids = inlineSetIDs.makeIterator()
        for expression in expressions {
            if case .lookupInline = expression {
                nftnl_rule_add_expr(r, expression.nftnl(inlineSetID: ids.next() ?? 0))
            } else {
                nftnl_rule_add_expr(r, expression.nftnl())
            }
        }
        if let comment {
            // nft's own encoding, so `nft list` shows the comment.
            let ud = nftnl_udata_buf_alloc(256)!
            _ = nftnl_udata_put_strz(ud, 0 /* NFTNL_UDATA_RULE_COMMENT */, comment)
            nftnl_rule_set_data(r, attr(NFTNL_RULE_USERDATA.rawValue), nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud))
            nftnl_udata_buf_free(ud)
        }
        return NftnlObject(r) { nftnl_rule_free($0) }
    }
}

extension Expression {
    /// A new libnftnl expression; ownership passes to the rule it is added to.
    func nftnl(inlineSetID: UInt32 = 0) -> OpaquePointer {
        let e = nftnl_expr_alloc(kind)!
        func u32(_ a: Int, _ v: UInt32) { nftnl_expr_set_u32(e, attr(a), v) }
        func data(_ a: Int, _ bytes: [UInt8]) {
            bytes.withUnsafeBytes { _ = nftnl_expr_set(e, attr(a), $0.baseAddress, UInt32($0.count)) }
        }
        switch self {
        case .payload(let base, let offset, let length, let reg):
            u32(NFTNL_EXPR_PAYLOAD_DREG, reg.raw); u32(NFTNL_EXPR_PAYLOAD_BASE, base.rawValue)
            u32(NFTNL_EXPR_PAYLOAD_OFFSET, offset); u32(NFTNL_EXPR_PAYLOAD_LEN, length)
        case .meta(let key, let reg):
            u32(NFTNL_EXPR_META_KEY, key.rawValue); u32(NFTNL_EXPR_META_DREG, reg.raw)
        case .setMeta(let key, let reg):
            u32(NFTNL_EXPR_META_KEY, key.rawValue); u32(NFTNL_EXPR_META_SREG, reg.raw)
        case .ct(let key, let reg):
            u32(NFTNL_EXPR_CT_KEY, key.rawValue); u32(NFTNL_EXPR_CT_DREG, reg.raw)
        case .setCt(let key, let reg):
            u32(NFTNL_EXPR_CT_KEY, key.rawValue); u32(NFTNL_EXPR_CT_SREG, reg.raw)
        case .cmp(let reg, let op, let bytes):
            u32(NFTNL_EXPR_CMP_SREG, reg.raw); u32(NFTNL_EXPR_CMP_OP, op.rawValue); data(NFTNL_EXPR_CMP_DATA, bytes)
        case .bitwise(let from, let into, let mask, let xor):
            u32(NFTNL_EXPR_BITWISE_SREG, from.raw); u32(NFTNL_EXPR_BITWISE_DREG, into.raw)
            u32(NFTNL_EXPR_BITWISE_LEN, UInt32(mask.count))
            data(NFTNL_EXPR_BITWISE_MASK, mask); data(NFTNL_EXPR_BITWISE_XOR, xor)
        case .immediate(let bytes, let reg):
            u32(NFTNL_EXPR_IMM_DREG, reg.raw); data(NFTNL_EXPR_IMM_DATA, bytes)
        case .verdict(let v):
            u32(NFTNL_EXPR_IMM_DREG, Register.verdict.raw)
            u32(NFTNL_EXPR_IMM_VERDICT, UInt32(bitPattern: v.code))
            if let chain = v.chain { nftnl_expr_set_str(e, attr(NFTNL_EXPR_IMM_CHAIN), chain) }
        case .lookup(let set, let key, let into, let inverted):
            nftnl_expr_set_str(e, attr(NFTNL_EXPR_LOOKUP_SET), set)
            u32(NFTNL_EXPR_LOOKUP_SREG, key.raw)
            if let into { u32(NFTNL_EXPR_LOOKUP_DREG, into.raw) }
            if inverted { u32(NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV.rawValue) }
        case .lookupInline(let inline, let key, let into):
            // Referenced by the batch id: the kernel replaces the `%d` in the name.
            nftnl_expr_set_str(e, attr(NFTNL_EXPR_LOOKUP_SET), inline.data == nil ? "__set%d" : "__map%d")
            u32(NFTNL_EXPR_LOOKUP_SET_ID, inlineSetID)
            u32(NFTNL_EXPR_LOOKUP_SREG, key.raw)
            if let into { u32(NFTNL_EXPR_LOOKUP_DREG, into.raw) }
        case .numgen(let modulus, let offset, let reg):
            u32(NFTNL_EXPR_NG_DREG, reg.raw); u32(NFTNL_EXPR_NG_MODULUS, modulus)
            u32(NFTNL_EXPR_NG_TYPE, UInt32(NFT_NG_RANDOM.rawValue))
            if offset != 0 { u32(NFTNL_EXPR_NG_OFFSET, offset) }
        case .dynset(let op, let set, let key, let timeout):
            nftnl_expr_set_str(e, attr(NFTNL_EXPR_DYNSET_SET_NAME), set)
            u32(NFTNL_EXPR_DYNSET_OP, op.rawValue); u32(NFTNL_EXPR_DYNSET_SREG_KEY, key.raw)
            if let timeout { nftnl_expr_set_u64(e, attr(NFTNL_EXPR_DYNSET_TIMEOUT), timeout) }
        case .counter, .notrack:
            break
        case .nat(let type, let family, let address, let port, let flags):
            u32(NFTNL_EXPR_NAT_TYPE, type.rawValue); u32(NFTNL_EXPR_NAT_FAMILY, UInt32(family.rawValue))
            if let address { u32(NFTNL_EXPR_NAT_REG_ADDR_MIN, address.raw) }
            if let port { u32(NFTNL_EXPR_NAT_REG_PROTO_MIN, port.raw) }
            if !flags.isEmpty { u32(NFTNL_EXPR_NAT_FLAGS, flags.rawValue) }
        case .masquerade(let flags):
            if !flags.isEmpty { u32(NFTNL_EXPR_MASQ_FLAGS, flags.rawValue) }
        case .reject(let type, let code):
            u32(NFTNL_EXPR_REJECT_TYPE, type.rawValue); nftnl_expr_set_u8(e, attr(NFTNL_EXPR_REJECT_CODE), code)
        case .log(let prefix):
            if let prefix { nftnl_expr_set_str(e, attr(NFTNL_EXPR_LOG_PREFIX), prefix) }
        }
        return e
    }
}
