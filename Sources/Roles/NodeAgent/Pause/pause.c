/*
 * netplane-pause: the process that holds a pod sandbox's namespaces, as Kubernetes' pause
 * container does. The node agent starts it as
 *
 *     netplane-pause NETNS_PATH HOSTNAME
 *
 * It joins the pod's network namespace (made and pinned by the agent, wired by CNI), makes
 * the pod's own IPC and UTS namespaces and sets the hostname there, then sleeps. Every
 * container of the pod joins these namespaces by /proc/<pid>/ns/…, so they outlive any one
 * container. It reaps whatever is reparented to it and exits 0 on SIGINT or SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: netplane-pause NETNS_PATH HOSTNAME\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        fprintf(stderr, "netplane-pause: joining %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    close(fd);
    if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
        fprintf(stderr, "netplane-pause: unshare: %s\n", strerror(errno));
        return 1;
    }
    if (sethostname(argv[2], strlen(argv[2])) != 0) {
        fprintf(stderr, "netplane-pause: sethostname %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) pause();
}
