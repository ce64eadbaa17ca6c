#define _GNU_SOURCE
#include "CNodeAgent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/*
 * Pseudo-terminals for `kubectl exec -t` (Sources/Roles/NodeAgent/CNodeAgent/pty.c).
 *
 * The agent gives the slave to `runc exec` of a terminal process as its stdin, stdout and
 * stderr. runc then makes the container's own terminal (a /dev/pts/N inside the container,
 * sized from the process's consoleSize), relays between it and the slave, and copies the
 * slave's window size to it at start and on every SIGWINCH.
 * The agent keeps the master: what it reads is the terminal's output, what it writes is
 * typed input, and TIOCSWINSZ on it sets the size runc reads.
 */

int netplane_open_pty(int *master_out, int *slave_out, unsigned short cols, unsigned short rows) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -errno;
    char name[128];
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0) {
        int saved = errno;
        close(master);
        return -saved;
    }
    /* O_CLOEXEC is harmless for the child: netplane_spawn dup2s the slave onto 0-2, which
       clears the flag on the copies. O_NOCTTY: the agent must not get a controlling tty. */
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        int saved = errno;
        close(master);
        return -saved;
    }
    /* Raw input from the start (no echo, no line editing, no signals from ^C): keys typed
       before runc puts the slave in raw mode itself must reach the container's terminal
       untouched, not be echoed back. Output processing stays on, as runc leaves it
       (containerd/console's SetRaw keeps OPOST): runc clears ONLCR on the container's
       terminal and counts on this one to turn "\n" into "\r\n" for kubectl's raw terminal. */
    struct termios mode;
    if (tcgetattr(slave, &mode) == 0) {
        cfmakeraw(&mode);
        mode.c_oflag |= OPOST;
        tcsetattr(slave, TCSANOW, &mode);
    }
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    ioctl(master, TIOCSWINSZ, &size);
    *master_out = master;
    *slave_out = slave;
    return 0;
}

int netplane_set_window_size(int fd, unsigned short cols, unsigned short rows) {
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    return ioctl(fd, TIOCSWINSZ, &size) == 0 ? 0 : -errno;
}
