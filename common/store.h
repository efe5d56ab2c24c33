/* xenstore through libxenstore: backend nodes, hotplug-status and hotplug-error. */
#ifndef XNH_STORE_H
#define XNH_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct store;

/* Connect to xenstored (libxenstore honours XENSTORED_PATH). NULL with errno set on failure. */
struct store *store_open(void);
void store_close(struct store *s);

/*
 * Read dir/key (key may be NULL).  Returns 0 and a NUL-terminated malloc'd value in *out, or
 * -ENOENT when the node is absent, or another -errno.  Values containing NUL bytes are refused
 * (-EINVAL): nothing legitimate stores them and they would be cut silently.
 */
int store_read(struct store *s, const char *dir, const char *key, char **out);

/*
 * The names of the entries of directory dir: 0 and an array of *n names in *names (one
 * malloc'd block, strings included: free(*names) releases it), -ENOENT when dir is absent, or
 * another -errno.
 */
int store_list(struct store *s, const char *dir, char ***names, unsigned *n);

/* Write dir/key = value. Returns 0 or -errno. */
int store_write(struct store *s, const char *dir, const char *key, const char *value);

/* Remove dir/key; absent is not an error. Returns 0 or -errno. */
int store_rm(struct store *s, const char *dir, const char *key);

#endif
