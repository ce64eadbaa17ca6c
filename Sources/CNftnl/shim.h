#ifndef NETPLANE_CNFTNL_SHIM_H
#define NETPLANE_CNFTNL_SHIM_H
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/common.h>
#include <libnftnl/batch.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/gen.h>
#include <libnftnl/udata.h>

/* setns(2) is only declared by glibc under _GNU_SOURCE; a wrapper keeps that local. */
extern int setns(int fd, int nstype);
static inline int netplane_nft_setns_net(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }
#endif
