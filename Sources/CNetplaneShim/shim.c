#include "shim.h"
int netplane_shim_placeholder(void) { return 0; }
