/* The release version, printed by --version. */
#ifndef XNH_VERSION
#define XNH_VERSION "0.1.0"
#endif
