import CNetlink
public import NetAddress
import Glibc

/// NTF_SELF from <linux/neighbour.h>.
let ntfSelf: UInt32 = 0x02

extension NetlinkHandle {
    /// Adds a remote for `mac` on a VXLAN `device` alongside any existing ones
    /// (`bridge fdb append MAC dev DEVICE dst DST`). With `MACAddress.zero` this builds the
    /// flood list for broadcast and unknown unicast.
    public func appendFDB(mac: MACAddress, device: String, destination: IPAddress) throws(NetlinkError) {
        try changeFDB(mac: mac, device: device, destination: destination, verb: "append",
                      flags: NLM_F_CREATE | NLM_F_APPEND)
    }

    /// Points `mac` at exactly one remote (`bridge fdb replace`), flannel's per-node entry.
    public func replaceFDB(mac: MACAddress, device: String, destination: IPAddress) throws(NetlinkError) {
        try changeFDB(mac: mac, device: device, destination: destination, verb: "replace",
                      flags: NLM_F_CREATE | NLM_F_REPLACE)
    }

    /// Removes the entry for `mac` (`bridge fdb del`); with `destination`, only that remote.
    public func deleteFDB(mac: MACAddress, device: String, destination: IPAddress? = nil) throws(NetlinkError) {
        try changeFDB(mac: mac, device: device, destination: destination, verb: "delete", flags: nil)
    }

    /// The forwarding entries of `device` (`bridge fdb show dev DEVICE`), one per remote.
    public func fdb(device: String) throws(NetlinkError) -> [FDBEntry] {
        let operation = "list fdb dev \(device)"
        let index = try resolve(device, operation)
        let names = try linkNames()
        // With an ifinfomsg header the kernel filters the dump by bridge port.
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_BRIDGE)
        header.ifi_index = index
        return try dumpNeighbours(operation, header: header) { parsed in
            guard rtnl_neigh_get_family(parsed) == AF_BRIDGE, rtnl_neigh_get_ifindex(parsed) == index,
                  let mac = MACAddress(nl: rtnl_neigh_get_lladdr(parsed)) else { return nil }
            let vlan = rtnl_neigh_get_vlan(parsed)
            let master = rtnl_neigh_get_master(parsed)
            return FDBEntry(mac: mac, device: device, destination: IPAddress(nl: rtnl_neigh_get_dst(parsed)),
                            vlan: vlan > 0 ? UInt16(vlan) : nil,
                            state: NeighbourState(rawValue: UInt16(truncatingIfNeeded: rtnl_neigh_get_state(parsed))),
                            master: master > 0 ? names[master] : nil,
                            isSelf: rtnl_neigh_get_flags(parsed) & ntfSelf != 0)
        }
    }

    private func changeFDB(mac: MACAddress, device: String, destination: IPAddress?, verb: String,
                           flags: Int32?) throws(NetlinkError) {
        let entry = FDBEntry(mac: mac, device: device, destination: destination)
        let operation = entry.operation(verb)
        let index = try resolve(device, operation)
        try perform(try fdbMessage(entry, index: index, flags: flags, operation), operation)
    }

    /// The RTM_NEWNEIGH (with `flags`) or RTM_DELNEIGH (nil) request for a VXLAN device's own
    /// (NTF_SELF, permanent) entry.
    func fdbMessage(_ fdb: FDBEntry, index: Int32, flags: Int32?,
                    _ operation: @autoclosure () -> String) throws(NetlinkError) -> Message {
        guard let entry = rtnl_neigh_alloc() else { throw .system(ENOMEM, operation()) }
        defer { rtnl_neigh_put(entry) }
        rtnl_neigh_set_ifindex(entry, index)
        try NLAddress(fdb.mac).apply { rtnl_neigh_set_lladdr(entry, $0) }
        if let destination = fdb.destination {
            let status = try NLAddress(destination).apply { rtnl_neigh_set_dst(entry, $0) }
            if status < 0 { throw .libnl(status, operation()) }
        }
        // After the destination: setting it also sets the family to the address's.
        rtnl_neigh_set_family(entry, AF_BRIDGE)
        rtnl_neigh_set_state(entry, Int32(NeighbourState([.permanent, .noARP]).rawValue))
        rtnl_neigh_set_flags(entry, ntfSelf)
        return try Message.build(operation()) { result in
            if let flags { rtnl_neigh_build_add_request(entry, flags, result) }
            else { rtnl_neigh_build_delete_request(entry, 0, result) }
        }
    }
}

extension Neighbour {
    /// `ip neigh VERB …` words, for errors.
    func operation(_ verb: String) -> String {
        "\(verb) neighbour \(ip)" + (mac.map { " lladdr \($0)" } ?? "") + " dev \(device)"
    }
}

extension FDBEntry {
    /// `bridge fdb VERB …` words, for errors.
    func operation(_ verb: String) -> String {
        "\(verb) fdb \(mac) dev \(device)" + (destination.map { " dst \($0)" } ?? "")
    }
}
