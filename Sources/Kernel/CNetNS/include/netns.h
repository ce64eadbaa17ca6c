#ifndef NETPLANE_CNETNS_H
#define NETPLANE_CNETNS_H

/*
 * CNetNS: the two network-namespace system calls Swift cannot reach on its own.
 *
 * glibc declares setns(2) and unshare(2) in <sched.h> only under _GNU_SOURCE, and Swift's
 * Glibc module is built without it, so neither is visible to Swift. These wrappers are
 * compiled with _GNU_SOURCE (netns.c) and fix the namespace type to CLONE_NEWNET, so that
 * nothing else in the project has to redeclare glibc's functions or hard-code the flag.
 * This is the only place Netplane enters or creates a network namespace; the NetNamespace
 * module (NetNS) is its one Swift user.
 */

/* setns(fd, CLONE_NEWNET) for the calling thread. Returns 0, or -1 with errno set. */
int netplane_setns_net(int fd);

/* unshare(CLONE_NEWNET): moves the calling thread into a new network namespace.
   Returns 0, or -1 with errno set. */
int netplane_unshare_net(void);

#endif /* NETPLANE_CNETNS_H */
