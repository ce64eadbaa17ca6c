# Shared by Tools/up and Tools/test: root check, Debian packages, the Swift toolchain, build.
# Source it (`source Tools/lib/deps.sh`) from a script that runs `set -euo pipefail`.

# C libraries the package links (libnl, libnftnl/libmnl, libipset, found via pkg-config) and
# the tools the tests use as independent witnesses (ip, nft, ipset, ping, curl, python3),
# the reference CNI plugins (interop peers) and etcd (the API store's second backend).
NETPLANE_APT_PACKAGES=(
    libmnl-dev libnftnl-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libipset-dev
    pkg-config iproute2 nftables ipset iputils-ping curl python3 tcpdump iperf3
    containernetworking-plugins etcd-server
    runc busybox-static iptables
)

# What only the tests need beyond that: the VM lane (qemu boots Debian's kernel, whose
# package Tools/vm downloads and unpacks without installing it; busybox-static, cpio and kmod
# build its initramfs), ipvsadm and conntrack, the IPVS and conntrack tests' witnesses.
NETPLANE_TEST_APT_PACKAGES=(qemu-system-x86 busybox-static cpio kmod ipvsadm conntrack)

# Where SwiftPM builds; override with NETPLANE_SCRATCH_PATH to keep a separate build folder.
NETPLANE_SCRATCH_PATH="${NETPLANE_SCRATCH_PATH:-.build}"

np_log() { printf '==> %s\n' "$*" >&2; }
np_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

np_require_root() {
    [ "$(id -u)" -eq 0 ] || np_die "run as root: the testbed and the *Root* test suites create network namespaces"
}

# Installs the missing packages with apt (one `apt-get update`, then one install); does
# nothing when dpkg already reports every package installed. Arguments name more packages
# to check beside NETPLANE_APT_PACKAGES.
np_install_deps() {
    local missing=() package
    for package in "${NETPLANE_APT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        np_log "Debian packages: all $((${#NETPLANE_APT_PACKAGES[@]} + $#)) present, skipping apt"
        return 0
    fi
    command -v apt-get >/dev/null || np_die "missing packages (${missing[*]}) and no apt-get: this needs Debian 12"
    np_log "Debian packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || np_die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null \
        || np_die "apt-get install ${missing[*]} failed"
    # etcd-server's package enables a system etcd on :2379; Netplane's tests and the local
    # cluster start their own members on ports of their choosing, so keep that one off.
    if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null \
        && systemctl is-enabled etcd >/dev/null 2>&1; then
        systemctl disable --now etcd >/dev/null 2>&1 || true
    fi
}

# Test-only peers that are not Debian packages: the official Kubernetes Python client (the
# API server's second real client, beside kubectl, which every machine here has).
np_install_test_deps() {
    command -v kubectl >/dev/null || np_die "kubectl is missing (1.32 is expected on every machine)"
    if python3 -c 'import kubernetes' 2>/dev/null; then
        np_log "python kubernetes client: present"
    else
        np_log "python kubernetes client: pip install kubernetes"
        python3 -m pip install -q kubernetes || np_die "pip install kubernetes failed"
    fi
}

# Makes `swift` callable, adding the preinstalled toolchain at /opt/swift to PATH if needed.
np_find_swift() {
    if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || np_die "no swift toolchain on PATH nor at /opt/swift/usr/bin (Swift 6.3 expected)"
    np_log "toolchain: $(swift --version 2>/dev/null | head -n 1)"
}

# `swift build` with the project's scratch path and any extra arguments.
np_swift_build() {
    np_log "swift build --scratch-path $NETPLANE_SCRATCH_PATH $*"
    swift build --scratch-path "$NETPLANE_SCRATCH_PATH" "$@" || np_die "swift build $* failed"
}
