/* Logging to syslog, to xen-hotplug.log like the scripts' stderr, and to a terminal. */
#ifndef XNH_LOG_H
#define XNH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

struct log {
	const char *ident;
	bool verbose;  /* progress to the terminal too */
	bool terminal; /* stderr is a terminal */
	int file_fd;   /* xen-hotplug.log, or -1 */
};

/* Open syslog (facility daemon) and, when stderr is not a terminal, $XEN_LOG_DIR/xen-hotplug.log.
 */
void log_open(struct log *l, const char *ident, bool verbose);
void log_close(struct log *l);

/* level is a syslog level: LOG_ERR, LOG_WARNING, LOG_INFO or LOG_DEBUG. */
void log_msg(struct log *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * One step of a program's plan: in a dry run printed as "would <step>" on stdout and false
 * returned (do not do it); false too once SIGINT, SIGTERM or SIGHUP was caught (the program
 * then fails and undoes what it did: see signals.h); else logged (debug) and true returned.
 */
bool log_vstep(struct log *l, bool dry_run, const char *fmt, va_list ap);

#endif
