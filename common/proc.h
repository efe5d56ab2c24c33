/* What /proc says of another process: its command name. */
#ifndef XNH_PROC_H
#define XNH_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* The command name of process pid (/proc/<pid>/comm, without its newline) into buf; false
 * when there is no such process (buf is then empty). */
bool proc_comm(long pid, char *buf, size_t len);

/* Process pid runs the program called name (a pid long dead may be another program's now). */
bool proc_is(long pid, const char *name);

#endif
