/* See include/netns.h for why these wrappers exist. */
#define _GNU_SOURCE
#include <sched.h>

#include "netns.h"

int netplane_setns_net(int fd)
{
    return setns(fd, CLONE_NEWNET);
}

int netplane_unshare_net(void)
{
    return unshare(CLONE_NEWNET);
}
