#ifndef NETPLANE_CIPSET_SHIM_H
#define NETPLANE_CIPSET_SHIM_H
#include <libipset/ipset.h>
#endif
