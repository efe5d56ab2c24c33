/* Directories baked in at build time, overridable by the Xen tools' environment variables. */
#ifndef XNH_PATHS_H
#define XNH_PATHS_H

const char *path_script_dir(void); /* XEN_SCRIPT_DIR, default /etc/xen/scripts */
const char *path_log_dir(void);	   /* XEN_LOG_DIR, default /var/log/xen */
const char *path_lock_dir(void);   /* XEN_LOCK_DIR, default /var/run/xen-hotplug */
const char *path_run_dir(void);	   /* XEN_RUN_DIR, default /var/run/xen */

#endif
