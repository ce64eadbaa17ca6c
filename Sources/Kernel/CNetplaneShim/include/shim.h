#ifndef NETPLANE_SHIM_H
#define NETPLANE_SHIM_H

/*
 * CNetplaneShim: the libipset helpers Swift cannot express on its own.
 *
 * libipset prints listings and reports some errors through printf-style *variadic*
 * callbacks (ipset_print_outfn, ipset_custom_errorfn). Swift cannot define a C variadic
 * function, so the callbacks live here: they vsnprintf into a growable buffer that the
 * Swift side reads after each command. They never print to stdout/stderr and never
 * exit() (libipset's default error callback does both).
 *
 * (Entering a network namespace, which Swift's Glibc module cannot do either, is CNetNS's
 * job: it has no libipset dependency, so Netlink and NFTables can use it too.)
 *
 * The header only forward-declares libipset's types so that it does not re-export
 * <libipset/ipset.h> (the CIPSet module owns that header); Swift sees the pointers as
 * OpaquePointer, exactly as it sees the ones ipset_init() returns.
 */

#include <stddef.h>

struct ipset;

/* Text libipset printed during one command, plus the last message given to the custom error
   callback. Owned by one IPSetHandle; only touched while the process-wide libipset lock is
   held. */
struct netplane_ipset_capture {
    char *text;          /* NUL-terminated output, malloc'd; NULL until something is printed */
    size_t length;       /* bytes in text, without the terminating NUL */
    size_t capacity;     /* bytes allocated for text */
    int truncated;       /* set when memory ran out and output was dropped */
    char error[1024];    /* last custom_error message, "" when none */
};

/* Installs the capturing print and non-exiting error callbacks on `ipset`
   (ipset_custom_printf). Returns libipset's result (0 on success). */
int netplane_ipset_capture_install(struct ipset *ipset, struct netplane_ipset_capture *capture);

/* Empties the captured text and error message (keeps the allocation). */
void netplane_ipset_capture_reset(struct netplane_ipset_capture *capture);

/* Frees the captured text buffer. */
void netplane_ipset_capture_free(struct netplane_ipset_capture *capture);

#endif /* NETPLANE_SHIM_H */
