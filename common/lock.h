/* Named locks shared with the Xen shell scripts' locking.sh. */
#ifndef XNH_LOCK_H
#define XNH_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Every wait for a lock is bounded: XEN_LOCK_TIMEOUT seconds (parse_seconds), else 20, well
 * within the 40 s after which libxl kills a hotplug script, so that a stuck holder costs a
 * clear message rather than a killed program.
 */
#define LOCK_TIMEOUT_ENV	"XEN_LOCK_TIMEOUT"
#define LOCK_TIMEOUT_DEFAULT_MS 20000UL

struct lock {
	int fd;
	bool kept;		  /* a lock of this project's own, whose file stays (lock_hold) */
	unsigned long timeout_ms; /* the bound of the last wait */
	/* After -ETIMEDOUT: a process holding the lock (0: none found), its name, how many. */
	pid_t holder;
	char holder_comm[32];
	unsigned holders;
	char path[4096];
};

/*
 * Take the exclusive lock $XEN_LOCK_DIR/<name>.  Same protocol as the scripts: flock the
 * file, then make sure the path still names the file we locked (a releaser unlinks it), else
 * retry.  Returns 0, or -errno: -ETIMEDOUT when the bound passed (lk->holder names a holder),
 * -EINTR when SIGINT, SIGTERM or SIGHUP came during the wait (sig_caught says which).  A wait
 * that begins after such a signal (the program undoing its work) is ended by the bound only.
 * The wait blocks in flock, so that waiters are woken by the kernel as soon as the lock is
 * free; a timer's SIGALRM (see sig_install, which the program must have called) ends it.
 */
int lock_take(struct lock *lk, const char *name);
void lock_release(struct lock *lk);

/*
 * A lock no script takes: the directory $XEN_LOCK_DIR itself, shared (many holders) or
 * exclusive.  A file would have to stay for good (shared holders come and go in any order,
 * so none may unlink it); the directory is there anyway.  lock_release drops it.  Waits and
 * fails as lock_take does.
 */
int lock_hold(struct lock *lk, bool shared);

/*
 * A shared lock_hold traded for the exclusive one, on the descriptor it has: as lock_release
 * and lock_hold(lk, false) (flock converts a lock the same way: not atomically), without
 * opening the directory again.  Holds nothing when it fails.
 */
int lock_upgrade(struct lock *lk);

/*
 * Why lock_take or lock_hold failed with err, in words for the user, into buf (returned): a
 * timeout names the bound, the lock and its holder's pid and name; a signal names the signal.
 */
const char *lock_strerror(const struct lock *lk, int err, char *buf, size_t len);

/*
 * NULL when XEN_LOCK_TIMEOUT is unset, empty or valid; else what was expected, for
 * params_invalid, with *value set to it.  The programs check it with their parameters (an
 * invalid value stops them before any change); the locks fall back to 20 s for it.
 */
const char *lock_timeout_invalid(const char **value);

#endif
