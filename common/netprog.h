/* What network-route and network-nat share: command line, lock, and the record of what start
 * changed. */
#ifndef XNH_NETPROG_H
#define XNH_NETPROG_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "link.h"
#include "lock.h"
#include "log.h"
#include "params.h"
#include "sysctl.h"
#include "undo.h"

/*
 * Both programs turn IPv4 forwarding on, so both hold this lock while they start or stop:
 * the hand-over of forwarding between them (netprog_restore) needs it.
 */
#define NETPROG_LOCK "network-forwarding"

/* IPv6 forwarding, which network-route turns on (network-nat does not). */
#define NETPROG_FORWARD6 SYSCTL_IPV6 "conf/all/forwarding"

enum netprog_command { NP_START, NP_STOP, NP_STATUS };

struct netprog {
	const char *name;
	struct params params;
	struct log log;
	struct net net;
	struct lock lock;
	struct undo undo;
	enum netprog_command command;
	char netdev[IFNAME_MAX + 1];
	char state[64];	   /* the state file, <name>.<netdev> under XEN_RUN_DIR */
	bool started;	   /* the state file exists (loaded by netprog_begin) */
	bool interrupted;  /* ... and says that its start did not finish */
	long starter;	   /* the pid of that start */
	bool saved;	   /* this run wrote the state file (its removal is journaled) */
	char record[4096]; /* what start changed, a line each: "<kind> <words...>" */
	size_t record_len;
	char err[1024];
};

/*
 * Parse the command line; answer --help and --version; resolve netdev (argument or
 * environment; for stop and status, else the one device this program was started on; else
 * the device of the default route); open netlink; load the state file; take the lock for
 * start and stop.  1: exit 0 now; 0: go on; -1: error in np->err.
 */
int netprog_begin(struct netprog *np, const char *name, const char *usage, int argc, char *argv[]);

/* End the run: on failure (r < 0) undo what was done and report np->err.  The exit status. */
int netprog_end(struct netprog *np, int r);

int netprog_fail(struct netprog *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* In dry-run, print the step and return false; else log it (debug) and return true. */
bool netprog_step(struct netprog *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append a line to the record. */
int netprog_record(struct netprog *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * start: append a line saying what is about to change, and write the record with it, flushed
 * to the disk, before the change: whatever ends this run, the next stop or start puts back
 * what it may have changed (a stop leaves what was never changed as it is).  Until
 * netprog_save, the record says that a start (this process) is under way.
 */
int netprog_intent(struct netprog *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replace the last line of the record (what an intent turned out to be). */
int netprog_amend(struct netprog *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* status: the start that wrote an interrupted record still runs. */
bool netprog_starter_running(const struct netprog *np);

/* The words after "<kind> " of the first record line of that kind, into out; false if none. */
bool netprog_recorded(const struct netprog *np, const char *kind, char *out, size_t len);

/* A record line "sysctl <key> <old> <new>", as netprog_sysctl writes it. */
struct netprog_sysctl {
	char key[SYSCTL_KEY_MAX], old[SYSCTL_VALUE_MAX], set[SYSCTL_VALUE_MAX];
};

/*
 * Parse such a line strictly: the three words non-empty, each within its buffer (never cut or
 * run into the next), separated by one space, nothing after.  false for any other line.
 */
bool netprog_sysctl_entry(const char *line, struct netprog_sysctl *e);

/* start: 0 when netdev exists, else -1 with a message saying so. */
int netprog_netdev_exists(struct netprog *np);

/* start: set a sysctl (sysctl.h key), recording "sysctl <key> <old> <new>" before it changes. */
int netprog_sysctl(struct netprog *np, const char *key, const char *value);

/*
 * start: write the record to the state file, as finished.  stop: remove it.  A start that
 * finds the record of an interrupted one runs stop's own steps first, then netprog_restart.
 */
int netprog_save(struct netprog *np);
int netprog_forget(struct netprog *np);
/* After that roll-back: keep it (its undo is dropped), and start from nothing. */
void netprog_restart(struct netprog *np);

/*
 * stop: put back each recorded setting that still has the value start gave it (one changed
 * since is someone else's and is left).  IPv4 forwarding stays on while another network-route
 * or network-nat is started, IPv6 forwarding while another network-route is: the record of its
 * old value passes to that one.
 */
int netprog_restore(struct netprog *np);

/*
 * status: whether start was run for netdev (or did not finish, and what mends it), then the
 * current value of each sysctl key, with the value it had before start when start changed it.
 * As text lines; with --json as the first members of the object ({"program":..,"netdev":..,
 * "started":..,"interrupted":..,"settings":[..]), which the caller ends.  netprog_end makes
 * the exit status 1 after an interrupted start.
 */
void netprog_print_status(const struct netprog *np, const char *const keys[], size_t n);

#endif
