/* What /proc says of another process: its command name. */
#include "proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool proc_comm(long pid, char *buf, size_t len)
{
	char path[64];
	buf[0] = '\0';
	if (pid <= 0 || len < 2)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return false;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

bool proc_is(long pid, const char *name)
{
	char comm[32], want[16];
	/* The kernel keeps the first 15 bytes of the name. */
	snprintf(want, sizeof(want), "%s", name);
	return proc_comm(pid, comm, sizeof(comm)) && !strcmp(comm, want);
}
