/* Logging to syslog, to xen-hotplug.log like the scripts' stderr, and to a terminal. */
#include "log.h"
#include "signals.h"
#include "paths.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void log_open(struct log *l, const char *ident, bool verbose)
{
	char path[4096];

	l->ident = ident;
	l->verbose = verbose;
	l->terminal = isatty(STDERR_FILENO);
	l->file_fd = -1;
	openlog(ident, LOG_PID, LOG_DAEMON);
	if (!l->terminal) {
		snprintf(path, sizeof(path), "%s/xen-hotplug.log", path_log_dir());
		l->file_fd =
		    open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	}
}

void log_close(struct log *l)
{
	if (l->file_fd >= 0)
		close(l->file_fd);
	l->file_fd = -1;
	closelog();
}

void log_msg(struct log *l, int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	syslog(level, "%s", msg);

	/* The scripts' stderr went to this file: problems, and progress only when asked (-v). */
	bool important = level <= LOG_WARNING;
	if (l->file_fd >= 0 && (important || l->verbose)) {
		char line[2200];
		int n = snprintf(line, sizeof(line), "%s: %s\n", l->ident, msg);
		if (n > 0)
			(void)!write(l->file_fd, line,
				     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (important || l->verbose) {
		const char *tag = level <= LOG_ERR	 ? "error: "
				  : level == LOG_WARNING ? "warning: "
							 : "";
		fprintf(stderr, "%s: %s%s\n", l->ident, tag, msg);
	}
}

bool log_vstep(struct log *l, bool dry_run, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Interrupted: no further change; the program undoes the ones made (signals.h). */
	if (sig_caught()) {
		log_msg(l, LOG_DEBUG, "not done (%s caught): %s", sig_caught_name(), msg);
		return false;
	}
	if (dry_run) {
		printf("would %s\n", msg);
		return false;
	}
	log_msg(l, LOG_DEBUG, "%s", msg);
	return true;
}
