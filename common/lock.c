/* Named locks shared with the Xen shell scripts' locking.sh. */
#include "lock.h"
#include "proc.h"
#include "params.h"
#include "paths.h"
#include "signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- bounded waits */

static unsigned long timeout_ms(void)
{
	const char *v = getenv(LOCK_TIMEOUT_ENV);
	unsigned long ms;
	return v && *v && !parse_seconds(v, &ms) ? ms : LOCK_TIMEOUT_DEFAULT_MS;
}

const char *lock_timeout_invalid(const char **value)
{
	unsigned long ms;
	*value = getenv(LOCK_TIMEOUT_ENV);
	return *value && **value ? parse_seconds(*value, &ms) : NULL;
}

/*
 * The bound is the run's, not each wait's: what earlier waits of this process took is taken
 * from it, so that a run that waits for two locks still ends well before libxl's SIGKILL.
 */
static unsigned long waited_ms;

/* One lock's wait: its deadline, set when it first has to block. */
struct wait {
	struct timespec start, deadline;
	bool armed;
	bool signalled; /* a signal had come before the wait began */
};

static void wait_begin(struct lock *lk, struct wait *w)
{
	unsigned long total = timeout_ms();
	lk->timeout_ms = waited_ms < total ? total - waited_ms : 0;
	lk->holder = 0;
	lk->holders = 0;
	lk->holder_comm[0] = '\0';
	w->armed = false;
	w->signalled = sig_caught() != 0;
}

static bool past(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static int arm(struct lock *lk, struct wait *w)
{
	unsigned long ms = lk->timeout_ms;
	if (!ms)
		return -ETIMEDOUT;
	clock_gettime(CLOCK_MONOTONIC, &w->start);
	w->deadline = w->start;
	w->deadline.tv_sec += (time_t)(ms / 1000);
	w->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (w->deadline.tv_nsec >= 1000000000L) {
		w->deadline.tv_sec++;
		w->deadline.tv_nsec -= 1000000000L;
	}
	/*
	 * The timer fires at the deadline (never before: it runs on the same clock), and again
	 * every 50 ms after it: should a firing land between the checks below and the flock
	 * call, it would be lost, and the next one still ends the wait.
	 */
	struct itimerval it = {
	    .it_value = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000},
	    .it_interval = {0, 50000},
	};
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		return -errno;
	w->armed = true;
	return 0;
}

static void wait_end(struct wait *w)
{
	static const struct itimerval off;
	if (w->armed) {
		setitimer(ITIMER_REAL, &off, NULL);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms += (unsigned long)((now.tv_sec - w->start.tv_sec) * 1000 +
					     (now.tv_nsec - w->start.tv_nsec) / 1000000);
	}
	w->armed = false;
}

/*
 * flock(fd, op), blocking until w's deadline.  Blocking in flock, not polling with LOCK_NB:
 * when a storm of vif programs waits for one lock, each must get it the moment it is free.
 */
static int wait_flock(struct lock *lk, struct wait *w, int fd, int op)
{
	/* Most locks are free: those are taken without a timer. */
	if (flock(fd, op | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return -errno;
	int err;
	if (!w->armed && (err = arm(lk, w)) < 0)
		return err;
	for (;;) {
		if (!w->signalled && sig_caught())
			return -EINTR;
		if (past(&w->deadline))
			return -ETIMEDOUT;
		if (flock(fd, op) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* ---------------------------------------------------------------- who holds it */

/*
 * The pid of a line of /proc/locks (or of an fdinfo file, where it follows "lock:") that is a
 * flock granted on st's file; false for any other line, a waiter's ("->") among them.
 */
static bool granted_flock(const char *line, const struct stat *st, pid_t *pid)
{
	char type[16], mode[16], rw[16];
	unsigned maj, min;
	unsigned long long inode;
	long p;

	if (!strncmp(line, "lock:", 5))
		line += 5;
	const char *s = strchr(line, ':');
	if (!s)
		return false;
	s += strspn(s + 1, " \t") + 1;
	if (!strncmp(s, "->", 2) ||
	    sscanf(s, "%15s %15s %15s %ld %x:%x:%llu", type, mode, rw, &p, &maj, &min, &inode) !=
		7 ||
	    strcmp(type, "FLOCK"))
		return false;
	if (maj != major(st->st_dev) || min != minor(st->st_dev) ||
	    inode != (unsigned long long)st->st_ino)
		return false;
	*pid = (pid_t)p;
	return true;
}

/* Calls fn with the pid of each flock granted on st's file that file lists; how many. */
static unsigned each_granted(const char *file, const struct stat *st,
			     void (*fn)(pid_t pid, const struct stat *st, void *arg), void *arg)
{
	FILE *f = fopen(file, "re");
	char line[256];
	unsigned n = 0;
	pid_t pid;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!granted_flock(line, st, &pid))
			continue;
		n++;
		if (fn)
			fn(pid, st, arg);
	}
	fclose(f);
	return n;
}

/* Does process pid hold the flock on st's file, through one of its descriptors? */
static bool holds(pid_t pid, const struct stat *st)
{
	char path[64];
	bool yes = false;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	for (struct dirent *e; !yes && (e = readdir(d));) {
		struct stat open;
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &open, 0) < 0 ||
		    open.st_dev != st->st_dev || open.st_ino != st->st_ino)
			continue;
		/* Having it open is not enough: its waiters have it open too. */
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%.20s", (int)pid, e->d_name);
		yes = each_granted(path, st, NULL, NULL) > 0;
	}
	closedir(d);
	return yes;
}

static void note_holder(struct lock *lk, pid_t pid)
{
	if (lk->holders++)
		return;
	lk->holder = pid;
	proc_comm(pid, lk->holder_comm, sizeof(lk->holder_comm));
}

static void check_listed(pid_t pid, const struct stat *st, void *arg)
{
	struct lock *lk = arg;
	if (pid > 0 && pid != getpid() && holds(pid, st))
		note_holder(lk, pid);
}

/*
 * Who holds the lock on fd's file, into lk.  /proc/locks names the process that called
 * flock, and the scripts' locking.sh calls it through flock(1), which is gone at once: the
 * lock stays with the shell that has the file open.  So a listed pid counts only while it
 * holds the lock itself; when none does, every process's descriptors are looked at (a slow
 * walk, but only a wait that already failed takes it).
 */
static void find_holders(struct lock *lk, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return;
	each_granted("/proc/locks", &st, check_listed, lk);
	if (lk->holders)
		return;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid() || !holds((pid_t)pid, &st))
			continue;
		note_holder(lk, (pid_t)pid);
	}
	closedir(d);
}

/* ---------------------------------------------------------------- locks */

/* open(path), making the lock directory dir first when it is missing; errno set on failure. */
static int open_in_dir(const char *dir, const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	return open(path, flags, 0644);
}

int lock_take(struct lock *lk, const char *name)
{
	const char *dir = path_lock_dir();
	struct stat held, named;
	struct wait w;
	int err, failed = -1;

	lk->fd = -1;
	lk->kept = false;
	if ((size_t)snprintf(lk->path, sizeof(lk->path), "%s/%s", dir, name) >= sizeof(lk->path))
		return -ENAMETOOLONG;
	wait_begin(lk, &w);
	for (;;) {
		int fd = open_in_dir(dir, lk->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			break;
		}
		if ((err = wait_flock(lk, &w, fd, LOCK_EX)) < 0) {
			failed = fd;
			break;
		}
		if (fstat(fd, &held) == 0 && lstat(lk->path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
			lk->fd = fd;
			break;
		}
		/* The previous holder unlinked it while we waited: lock the new file instead. */
		close(fd);
	}
	/* Disarmed first: the timer's signals would only slow the search. */
	wait_end(&w);
	if (err == -ETIMEDOUT)
		find_holders(lk, failed);
	if (failed >= 0)
		close(failed);
	return err;
}

/* lock_hold's flock on fd, the lock directory open: fd is the lock's, or closed on failure. */
static int hold_on(struct lock *lk, int fd, bool shared)
{
	struct wait w;
	wait_begin(lk, &w);
	int err = wait_flock(lk, &w, fd, shared ? LOCK_SH : LOCK_EX);
	wait_end(&w);
	if (err == 0) {
		lk->fd = fd;
		return 0;
	}
	if (err == -ETIMEDOUT)
		find_holders(lk, fd);
	close(fd);
	return err;
}

int lock_hold(struct lock *lk, bool shared)
{
	const char *dir = path_lock_dir();
	lk->fd = -1;
	lk->kept = true;
	if ((size_t)snprintf(lk->path, sizeof(lk->path), "%s", dir) >= sizeof(lk->path))
		return -ENAMETOOLONG;
	int fd = open_in_dir(dir, lk->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return hold_on(lk, fd, shared);
}

int lock_upgrade(struct lock *lk)
{
	int fd = lk->fd;
	lk->fd = -1;
	return fd < 0 ? -EBADF : hold_on(lk, fd, false);
}

void lock_release(struct lock *lk)
{
	if (lk->fd < 0)
		return;
	/* Unlink before unlocking, as locking.sh does, so waiters notice and reopen. */
	if (!lk->kept)
		unlink(lk->path);
	close(lk->fd);
	lk->fd = -1;
}

/* ---------------------------------------------------------------- messages */

static const char *signal_name(int sig, char *buf, size_t len)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		snprintf(buf, len, "signal %d", sig);
		return buf;
	}
}

const char *lock_strerror(const struct lock *lk, int err, char *buf, size_t len)
{
	char shown[2 * sizeof(lk->path)], secs[32], who[128], comm[64], sig[32];
	/* The lock directory is a lock of its own (lock_hold): said so, not taken for a file. */
	const char *what = lk->kept ? "the lock on the directory" : "the lock";

	printable(lk->path, shown, sizeof(shown));
	if (err == -ETIMEDOUT) {
		unsigned long ms = lk->timeout_ms;
		if (ms % 1000) {
			snprintf(secs, sizeof(secs), "%lu.%03lu", ms / 1000, ms % 1000);
			/* 0.500 reads better as 0.5. */
			for (size_t n = strlen(secs); secs[n - 1] == '0'; n--)
				secs[n - 1] = '\0';
		} else {
			snprintf(secs, sizeof(secs), "%lu", ms / 1000);
		}
		if (!lk->holder)
			snprintf(who, sizeof(who), "whose holder could not be found");
		else
			snprintf(who, sizeof(who), "held by process %d%s%s%s", (int)lk->holder,
				 lk->holder_comm[0] ? " (" : "",
				 lk->holder_comm[0] ? printable(lk->holder_comm, comm, sizeof(comm))
						    : "",
				 lk->holder_comm[0] ? ")" : "");
		if (lk->holders > 1) {
			size_t n = strlen(who);
			snprintf(who + n, sizeof(who) - n, " and %u other%s", lk->holders - 1,
				 lk->holders > 2 ? "s" : "");
		}
		snprintf(buf, len, "gave up after %s s waiting for %s %s, %s", secs, what, shown,
			 who);
	} else if (err == -EINTR && sig_caught()) {
		snprintf(buf, len, "interrupted by %s while waiting for %s %s",
			 signal_name(sig_caught(), sig, sizeof(sig)), what, shown);
	} else {
		snprintf(buf, len, "cannot take %s %s: %s", what, shown, strerror(-err));
	}
	return buf;
}
