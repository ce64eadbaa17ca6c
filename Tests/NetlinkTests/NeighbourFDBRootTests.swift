import Foundation
import Testing
import Netlink
import NetAddress
import NetplaneTestSupport

@Suite("Neighbours and FDB (Root)", .serialized)
struct NeighbourFDBRootTests {
    @Test("Root: permanent neighbours: add, replace, list, delete")
    func neighbours() throws {
        try TestNamespace.with(label: "neigh") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            let entry = Neighbour(ip: IPAddress("10.244.1.0")!, mac: MACAddress("02:00:0a:f4:01:00"), device: "br0")
            try nl.addNeighbour(entry)
            try nl.addNeighbour(Neighbour(ip: IPAddress("fd00:244::9")!, mac: MACAddress("02:00:00:00:00:09"), device: "br0"))

            var shown = try ns.ipJSON(["neigh", "show", "dev", "br0"])
            let v4 = try #require(shown.first { $0["dst"] as? String == "10.244.1.0" })
            #expect(v4["lladdr"] as? String == "02:00:0a:f4:01:00")
            #expect(v4["state"] as? [String] == ["PERMANENT"])
            #expect(shown.contains { $0["dst"] as? String == "fd00:244::9" })
            #expect(try nl.neighbours(link: "br0", family: .ipv4) == [entry])
            #expect(try nl.neighbours(link: "br0").count == 2)

            let duplicate = #expect(throws: NetlinkError.self) { try nl.addNeighbour(entry) }
            #expect(duplicate?.code == .exists)
            var moved = entry
            moved.mac = MACAddress("02:00:0a:f4:01:ff")
            try nl.replaceNeighbour(moved)
            shown = try ns.ipJSON(["neigh", "show", "10.244.1.0", "dev", "br0"])
            #expect(shown.map { $0["lladdr"] as? String } == ["02:00:0a:f4:01:ff"])

            try nl.deleteNeighbour(ip: entry.ip, device: "br0")
            #expect(try ns.ipJSON(["neigh", "show", "10.244.1.0", "dev", "br0"]).isEmpty)
            let missing = #expect(throws: NetlinkError.self) { try nl.deleteNeighbour(ip: entry.ip, device: "br0") }
            #expect(missing?.code == .notFound)
        }
    }

    @Test("Root: VXLAN FDB: two remotes for the all-zero MAC, replace, delete one remote")
    func vxlanFDB() throws {
        try TestNamespace.with(label: "fdb") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "vxlan0", kind: .vxlan(VXLANOptions(vni: 1, local: IPAddress("198.18.0.1"),
                                                                               port: 8472, learning: false)), up: true))
            let zero = MACAddress.zero
            try nl.appendFDB(mac: zero, device: "vxlan0", destination: IPAddress("198.18.0.2")!)
            try nl.appendFDB(mac: zero, device: "vxlan0", destination: IPAddress("198.18.0.3")!)
            let node = MACAddress("02:11:22:33:44:55")!
            try nl.replaceFDB(mac: node, device: "vxlan0", destination: IPAddress("198.18.0.4")!)
            try nl.replaceFDB(mac: node, device: "vxlan0", destination: IPAddress("198.18.0.5")!)

            func bridgeFDB() throws -> [[String: Any]] {
                try Command.jsonObjects(["bridge", "-j", "-n", ns.name, "fdb", "show", "dev", "vxlan0"])
            }
            var shown = try bridgeFDB()
            let flood = shown.filter { $0["mac"] as? String == "00:00:00:00:00:00" }
            #expect(Set(flood.compactMap { $0["dst"] as? String }) == ["198.18.0.2", "198.18.0.3"])
            #expect(flood.allSatisfy { ($0["flags"] as? [String])?.contains("self") == true && $0["state"] as? String == "permanent" })
            #expect(shown.filter { $0["mac"] as? String == "02:11:22:33:44:55" }.compactMap { $0["dst"] as? String } == ["198.18.0.5"])

            let read = try nl.fdb(device: "vxlan0")
            #expect(Set(read.filter { $0.mac == zero }.compactMap(\.destination?.description)) == ["198.18.0.2", "198.18.0.3"])
            #expect(read.contains(FDBEntry(mac: node, device: "vxlan0", destination: IPAddress("198.18.0.5"))))

            try nl.deleteFDB(mac: zero, device: "vxlan0", destination: IPAddress("198.18.0.2"))
            shown = try bridgeFDB()
            #expect(shown.filter { $0["mac"] as? String == "00:00:00:00:00:00" }.compactMap { $0["dst"] as? String } == ["198.18.0.3"])
            try nl.deleteFDB(mac: node, device: "vxlan0")
            #expect(try !bridgeFDB().contains { $0["mac"] as? String == "02:11:22:33:44:55" })
            let missing = #expect(throws: NetlinkError.self) { try nl.deleteFDB(mac: node, device: "vxlan0") }
            #expect(missing?.code == .notFound)
        }
    }
}
