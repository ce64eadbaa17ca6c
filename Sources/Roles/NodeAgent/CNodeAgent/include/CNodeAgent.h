#ifndef NETPLANE_CNODEAGENT_H
#define NETPLANE_CNODEAGENT_H

#include <sys/types.h>

/*
 * CNodeAgent: the few process and mount system calls the node agent needs that Swift's Glibc
 * module cannot reach (prctl and mount are variadic or need _GNU_SOURCE flags, posix_spawn's
 * setsid and closefrom actions are GNU extensions).
 */

/* Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER): a
   container whose runc parent has exited is reparented here, so its exit status is ours to
   read. Returns 0 or -1 with errno set. */
int netplane_set_child_subreaper(void);

/* posix_spawn of `path` with argv/envp, the three standard descriptors given (-1: /dev/null),
   every other descriptor closed in the child, and a new session when `new_session` is set.
   Returns the child's pid, or -errno. */
pid_t netplane_spawn(const char *path, char *const argv[], char *const envp[],
                     int stdin_fd, int stdout_fd, int stderr_fd, int new_session);

/* mount -t overlay overlay -o lowerdir=…,upperdir=…,workdir=… target. 0 or -1 with errno. */
int netplane_mount_overlay(const char *lower, const char *upper, const char *work, const char *target);

/* mount -t tmpfs (for emptyDir medium Memory) with the given mode. 0 or -1 with errno. */
int netplane_mount_tmpfs(const char *target, const char *options);

/* umount2(target, MNT_DETACH). 0 or -1 with errno. */
int netplane_unmount(const char *target);

/* Joins the network namespace at `netns_path` and replaces this process with `exe` `argv`,
   all on the calling thread (the thread that calls execve is the one whose namespaces the
   new image keeps): the agent's `--netns`, what `ip netns exec` does. Returns only on
   failure, -1 with errno set. */
int netplane_exec_in_netns(const char *netns_path, const char *exe, char *const argv[]);

/* Whether `path` is a namespace file (nsfs), not a leftover plain file. 1 or 0. */
int netplane_is_namespace_file(const char *path);

/* Add to Sources/Roles/NodeAgent/CNodeAgent/include/CNodeAgent.h, before the final #endif
   (implemented in Sources/Roles/NodeAgent/CNodeAgent/pty.c). */

/* Opens a pseudo-terminal pair for `kubectl exec -t`: *master stays with the agent, *slave
   becomes the standard streams of a `runc exec` of a terminal process. The slave starts in raw input mode
   (output processing kept, as runc's own raw mode keeps it) with the given window size.
   Both close-on-exec. Returns 0, or -errno. */
int netplane_open_pty(int *master, int *slave, unsigned short cols, unsigned short rows);

/* Sets the window size of the terminal behind `fd` (TIOCSWINSZ on the master). 0 or -errno. */
int netplane_set_window_size(int fd, unsigned short cols, unsigned short rows);

#endif
