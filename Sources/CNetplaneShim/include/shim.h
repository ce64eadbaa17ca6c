int netplane_shim_placeholder(void);
