#define _GNU_SOURCE
#include "CNodeAgent.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <unistd.h>

int netplane_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

pid_t netplane_spawn(const char *path, char *const argv[], char *const envp[],
                     int stdin_fd, int stdout_fd, int stderr_fd, int new_session) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    int fds[3] = {stdin_fd, stdout_fd, stderr_fd};
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) {
            posix_spawn_file_actions_adddup2(&actions, fds[i], i);
        } else {
            posix_spawn_file_actions_addopen(&actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
        }
    }
    /* Nothing of the agent's (API connections, other pods' pipes) leaks into a child. */
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_session) flags |= POSIX_SPAWN_SETSID;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, flags);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? pid : -rc;
}

int netplane_mount_overlay(const char *lower, const char *upper, const char *work, const char *target) {
    char options[4096];
    int n = snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    if (n < 0 || (size_t)n >= sizeof options) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mount("overlay", target, "overlay", 0, options);
}

int netplane_mount_tmpfs(const char *target, const char *options) {
    return mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options);
}

int netplane_unmount(const char *target) {
    return umount2(target, MNT_DETACH);
}

int netplane_exec_in_netns(const char *netns_path, const char *exe, char *const argv[]) {
    int fd = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = setns(fd, CLONE_NEWNET);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        errno = saved;
        return -1;
    }
    execv(exe, argv);
    return -1;
}

int netplane_is_namespace_file(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 && fs.f_type == 0x6e736673; /* NSFS_MAGIC */
}
