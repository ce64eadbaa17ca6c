#ifndef NETPLANE_CNETLINK_SHIM_H
#define NETPLANE_CNETLINK_SHIM_H
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/cache.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/link/ipip.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/neighbour.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/netlink.h>

/* glibc declares these only under _GNU_SOURCE, which Swift's Glibc module is built
 * without; the declarations match glibc's so they merge with <sched.h>. */
extern int setns(int fd, int nstype);
extern int unshare(int flags);
static const int netplane_clone_newnet = 0x40000000; /* CLONE_NEWNET */
#endif
