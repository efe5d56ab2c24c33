/* Directories baked in at build time, overridable by the Xen tools' environment variables. */
#include "paths.h"

#include <stdlib.h>

#ifndef XEN_SCRIPT_DIR_DEFAULT
#define XEN_SCRIPT_DIR_DEFAULT "/etc/xen/scripts"
#endif
#ifndef XEN_LOG_DIR_DEFAULT
#define XEN_LOG_DIR_DEFAULT "/var/log/xen"
#endif
#ifndef XEN_LOCK_DIR_DEFAULT
#define XEN_LOCK_DIR_DEFAULT "/var/run/xen-hotplug"
#endif
#ifndef XEN_RUN_DIR_DEFAULT
#define XEN_RUN_DIR_DEFAULT "/var/run/xen"
#endif

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

const char *path_script_dir(void)
{
	return env_or("XEN_SCRIPT_DIR", XEN_SCRIPT_DIR_DEFAULT);
}

const char *path_log_dir(void)
{
	return env_or("XEN_LOG_DIR", XEN_LOG_DIR_DEFAULT);
}

const char *path_lock_dir(void)
{
	return env_or("XEN_LOCK_DIR", XEN_LOCK_DIR_DEFAULT);
}

const char *path_run_dir(void)
{
	return env_or("XEN_RUN_DIR", XEN_RUN_DIR_DEFAULT);
}
