/* What network-route and network-nat share: command line, lock, and the record of what start
 * changed. */
#include "netprog.h"
#include "proc.h"
#include "addr.h"
#include "paths.h"
#include "signals.h"
#include "statefile.h"
#include "sysctl.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/errno.h>

static const char *const commands[] = {"start", "stop", "status", NULL};

static int vrecord(struct netprog *np, const char *fmt, va_list ap);

int netprog_fail(struct netprog *np, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(np->err, sizeof(np->err), fmt, ap);
	va_end(ap);
	return -1;
}

bool netprog_step(struct netprog *np, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool go = log_vstep(&np->log, np->params.dry_run, fmt, ap);
	va_end(ap);
	return go;
}

int netprog_record(struct netprog *np, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vrecord(np, fmt, ap);
	va_end(ap);
	return r;
}

/* The line that marks a start under way, before the rest of the record. */
#define STARTING "starting "

static int vrecord(struct netprog *np, const char *fmt, va_list ap)
{
	size_t room = sizeof(np->record) - np->record_len;
	int n = vsnprintf(np->record + np->record_len, room, fmt, ap);
	if (n < 0 || (size_t)n + 1 >= room) {
		np->record[np->record_len] = '\0';
		return netprog_fail(np, "too much to record in the state file %s", np->state);
	}
	np->record_len += (size_t)n;
	np->record[np->record_len++] = '\n';
	np->record[np->record_len] = '\0';
	return 0;
}

/* The undo of the first write of the state file by start: its removal. */
static int undo_state(void *ctx, const void *arg)
{
	(void)ctx;
	int err = statefile_remove((const char *)arg);
	return err < 0 ? -nl_syserr2nlerr(-err) : 0;
}

/* Write the record, with the line of a start under way first when starting. */
static int write_record(struct netprog *np, bool starting)
{
	char text[sizeof(np->record) + 32];
	int n = starting ? snprintf(text, sizeof(text), STARTING "%ld\n", (long)getpid()) : 0;
	size_t len = (size_t)n + np->record_len;
	memcpy(text + n, np->record, np->record_len + 1);
	int err = statefile_write(np->state, text, len);
	if (err < 0)
		return netprog_fail(np, "cannot write the state file %s/%s: %s", path_run_dir(),
				    np->state, strerror(-err));
	if (!np->saved) {
		np->saved = true;
		if (undo_push(&np->undo, undo_state, np->state, strlen(np->state) + 1,
			      "the state file")) {
			statefile_remove(np->state);
			return netprog_fail(np, "out of memory");
		}
	}
	return 0;
}

int netprog_intent(struct netprog *np, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vrecord(np, fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : write_record(np, true);
}

/* Back to the end of the line before the last. */
static void drop_last(struct netprog *np)
{
	size_t end = np->record_len ? np->record_len - 1 : 0;
	while (end > 0 && np->record[end - 1] != '\n')
		end--;
	np->record_len = end;
	np->record[end] = '\0';
}

int netprog_amend(struct netprog *np, const char *fmt, ...)
{
	drop_last(np);
	va_list ap;
	va_start(ap, fmt);
	int r = vrecord(np, fmt, ap);
	va_end(ap);
	return r;
}

bool netprog_starter_running(const struct netprog *np)
{
	return proc_is(np->starter, np->name);
}

/* Call fn on each record line (NUL-terminated copy) until it returns true. */
static bool each_line(const char *record, bool (*fn)(const char *line, void *arg), void *arg)
{
	for (const char *p = record; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[sizeof(((struct netprog *)0)->record)]; /* as long as any line recorded */
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (fn(line, arg))
				return true;
		}
		p += n + (nl ? 1 : 0);
	}
	return false;
}

struct find {
	const char *kind;
	char *out;
	size_t len;
};

static bool find_kind(const char *line, void *arg)
{
	struct find *f = arg;
	size_t k = strlen(f->kind);
	if (strncmp(line, f->kind, k) || line[k] != ' ')
		return false;
	snprintf(f->out, f->len, "%s", line + k + 1);
	return true;
}

bool netprog_recorded(const struct netprog *np, const char *kind, char *out, size_t len)
{
	struct find f = {kind, out, len};
	return each_line(np->record, find_kind, &f);
}

int netprog_sysctl(struct netprog *np, const char *key, const char *value)
{
	char old[SYSCTL_VALUE_MAX], now[SYSCTL_VALUE_MAX];
	int changed;
	char name[SYSCTL_NAME_MAX];
	sysctl_name(key, name);
	/* A setting that has the value already is no step: the plan (-n) must not list it. */
	if (sysctl_get(key, now, sizeof(now)) == 0 && !strcmp(now, value)) {
		log_msg(&np->log, LOG_DEBUG, "%s is %s already", name, value);
		return 0;
	}
	if (!netprog_step(np, "set %s to %s", name, value))
		return 0;
	if (netprog_intent(np, "sysctl %s %s %s", key, now, value) < 0)
		return -1;
	int err = sysctl_set(&np->undo, key, value, old, &changed);
	char path[SYSCTL_PATH_MAX];
	if (err < 0)
		return netprog_fail(np, "cannot set %s to %s: %s", sysctl_path(key, path), value,
				    strerror(-err));
	/* Changed meanwhile by someone else: what it was just before is what stop puts back. */
	if (changed && strcmp(old, now))
		return netprog_amend(np, "sysctl %s %s %s", key, old, value);
	if (!changed)
		drop_last(np);
	return 0;
}

int netprog_netdev_exists(struct netprog *np)
{
	struct link_state l;
	int err = link_get(&np->net, np->netdev, &l);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return netprog_fail(np,
				    "netdev %s does not exist: set netdev= to the device "
				    "facing the network",
				    np->netdev);
	if (err < 0)
		return netprog_fail(np, "cannot look up %s: %s", np->netdev, net_error(err));
	return 0;
}

/* A signal caught on the way: the steps after it were left out (log_vstep), the rest undone. */
static int interrupted(struct netprog *np)
{
	return netprog_fail(np, "%s interrupted by %s: what it had changed is put back",
			    np->params.command, sig_caught_name());
}

int netprog_save(struct netprog *np)
{
	if (sig_caught())
		return interrupted(np);
	if (np->params.dry_run)
		return 0;
	/* A signal that came just before the write: undone with the rest. */
	int r = write_record(np, false);
	return r == 0 && sig_caught() ? interrupted(np) : r;
}

/*
 * A state file's text as it was before a change (stop's removal of its own, a hand-over to
 * another instance's), to write back if the run is undone.
 */
struct saved_state {
	char name[64];
	size_t len;
	char text[];
};

static void release_saved(const void *arg)
{
	struct saved_state *h;
	memcpy(&h, arg, sizeof(h));
	free(h);
}

static int undo_saved(void *ctx, const void *arg)
{
	(void)ctx;
	struct saved_state *h;
	memcpy(&h, arg, sizeof(h));
	int err = statefile_write(h->name, h->text, h->len);
	free(h);
	return err < 0 ? -nl_syserr2nlerr(-err) : 0;
}

/* A copy of text (len bytes) as the state file name holds it; NULL when out of memory. */
static struct saved_state *saved_new(const char *name, const char *text, size_t len)
{
	struct saved_state *h = malloc(sizeof(*h) + len + 1);
	if (!h)
		return NULL;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->len = len;
	memcpy(h->text, text, len);
	h->text[len] = '\0';
	return h;
}

int netprog_forget(struct netprog *np)
{
	if (sig_caught())
		return interrupted(np);
	if (np->params.dry_run)
		return 0;
	char text[sizeof(np->record) + 32];
	if (statefile_read(np->state, text, sizeof(text)) < 0)
		text[0] = '\0';
	struct saved_state *r = saved_new(np->state, text, strlen(text));
	if (!r)
		return netprog_fail(np, "out of memory");
	int err = statefile_remove(np->state);
	if (err < 0) {
		free(r);
		return netprog_fail(np, "cannot remove the state file %s/%s: %s", path_run_dir(),
				    np->state, strerror(-err));
	}
	if (undo_push_ref(&np->undo, undo_saved, release_saved, &r, sizeof(r), "the state file")) {
		undo_saved(NULL, &r);
		return netprog_fail(np, "out of memory");
	}
	/* A signal that came just before the removal: undone with the rest. */
	return sig_caught() ? interrupted(np) : 0;
}

void netprog_restart(struct netprog *np)
{
	undo_commit(&np->undo);
	np->started = np->interrupted = np->saved = false;
	np->record[0] = '\0';
	np->record_len = 0;
}

/*
 * The state files of network-route and network-nat (other than skip; of network-route only
 * when route_only): calls fn on each name.
 */
static int each_instance(const char *skip, bool route_only, bool (*fn)(const char *name, void *arg),
			 void *arg)
{
	DIR *d = opendir(path_run_dir());
	if (!d)
		return 0;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d)) && !found) {
		/* file_replace's temporary files start with a dot: never taken for one. */
		const char *n = e->d_name;
		if ((strncmp(n, "network-route.", 14) &&
		     (route_only || strncmp(n, "network-nat.", 12))) ||
		    (skip && !strcmp(n, skip)))
			continue;
		found = fn(n, arg);
	}
	closedir(d);
	return found;
}

static bool take_first(const char *name, void *arg)
{
	snprintf(arg, 64, "%s", name);
	return true;
}

/* Append a record line to another instance's state file (journaled in u). */
static int hand_over(struct undo *u, const char *other, const char *line)
{
	char buf[4096];
	int err = statefile_read(other, buf, sizeof(buf));
	if (err < 0)
		return err;
	size_t len = strlen(buf);
	/* Handed over already, by a stop that did not finish. */
	size_t ll = strlen(line);
	for (const char *p = buf; (p = strstr(p, line)); p += ll)
		if ((p == buf || p[-1] == '\n') && (p[ll] == '\n' || !p[ll]))
			return 0;
	if (len + strlen(line) + 2 > sizeof(buf))
		return -ENOSPC;
	struct saved_state *h = saved_new(other, buf, len);
	if (!h)
		return -ENOMEM;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\n", line);
	if ((err = statefile_write(other, buf, len)) < 0) {
		free(h);
		return err;
	}
	if (undo_push_ref(u, undo_saved, release_saved, &h, sizeof(h), other)) {
		undo_saved(NULL, &h);
		return -ENOMEM;
	}
	return 0;
}

struct restore {
	struct netprog *np;
	int failed;
};

/* The word at *p up to the next space (or the end), into out; false if empty or too long. */
static bool record_word(const char **p, char *out, size_t len)
{
	size_t n = strcspn(*p, " ");
	if (n == 0 || n >= len)
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return true;
}

bool netprog_sysctl_entry(const char *line, struct netprog_sysctl *e)
{
	const char *p = line;
	if (strncmp(p, "sysctl ", 7))
		return false;
	p += 7;
	return record_word(&p, e->key, sizeof(e->key)) && *p++ == ' ' &&
	       record_word(&p, e->old, sizeof(e->old)) && *p++ == ' ' &&
	       record_word(&p, e->set, sizeof(e->set)) && !*p;
}

static bool restore_line(const char *line, void *arg)
{
	struct restore *r = arg;
	struct netprog *np = r->np;
	struct netprog_sysctl e;
	char now[SYSCTL_VALUE_MAX], other[64], name[SYSCTL_NAME_MAX];

	if (!netprog_sysctl_entry(line, &e))
		return false;
	const char *key = e.key, *old = e.old, *set = e.set;
	/* Every network-route and network-nat forwards IPv4; IPv6 only network-route does. */
	bool v6 = !strcmp(key, NETPROG_FORWARD6);
	if ((v6 || !strcmp(key, "ip_forward")) && each_instance(np->state, v6, take_first, other)) {
		/* Without the record, nobody would ever turn forwarding off: a failure. */
		int err;
		if (netprog_step(np, "leave IPv%c forwarding on: %s still needs it", v6 ? '6' : '4',
				 other) &&
		    (err = hand_over(&np->undo, other, line)) < 0) {
			log_msg(&np->log, LOG_ERR,
				"cannot pass the record of IPv%c forwarding to %s: %s (make its "
				"state file writable, or stop it first)",
				v6 ? '6' : '4', other, strerror(-err));
			r->failed++;
		}
		return false;
	}
	int err = sysctl_get(key, now, sizeof(now));
	if (err == -ENOENT) /* the device is gone, and its settings with it */
		return false;
	if (err == 0 && strcmp(now, set)) {
		log_msg(&np->log, LOG_INFO,
			"%s is %s, not the %s start set: changed since, left as it is",
			sysctl_name(key, name), now, set);
		return false;
	}
	/* With its inverse journaled: a stop that fails later leaves the setting as it was. */
	int changed;
	if (netprog_step(np, "set %s back to %s", sysctl_name(key, name), old) &&
	    (err = sysctl_set(&np->undo, key, old, NULL, &changed)) < 0) {
		char path[SYSCTL_PATH_MAX];
		log_msg(&np->log, LOG_ERR, "cannot set %s back to %s: %s", sysctl_path(key, path),
			old, strerror(-err));
		r->failed++;
	}
	return false;
}

int netprog_restore(struct netprog *np)
{
	struct restore r = {np, 0};
	each_line(np->record, restore_line, &r);
	return r.failed ? netprog_fail(np, "%d setting(s) could not be put back", r.failed) : 0;
}

struct before {
	const char *key;
	char *old;
};

static bool find_before(const char *line, void *arg)
{
	struct before *b = arg;
	struct netprog_sysctl e;
	if (!netprog_sysctl_entry(line, &e) || strcmp(e.key, b->key))
		return false;
	snprintf(b->old, SYSCTL_VALUE_MAX, "%s", e.old);
	return true;
}

static void print_settings(const struct netprog *np, const char *const keys[], size_t n, bool json)
{
	for (size_t i = 0; i < n; i++) {
		char now[SYSCTL_VALUE_MAX] = "", old[SYSCTL_VALUE_MAX] = "", name[SYSCTL_NAME_MAX];
		struct before b = {keys[i], old};
		bool changed = each_line(np->record, find_before, &b);
		if (sysctl_get(keys[i], now, sizeof(now)) < 0)
			snprintf(now, sizeof(now), "?");
		sysctl_name(keys[i], name);
		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, name);
			printf(",\"value\":");
			json_str(stdout, now);
			if (changed) {
				printf(",\"before_start\":");
				json_str(stdout, old);
			}
			putchar('}');
		} else if (changed) {
			printf("  %s = %s (%s before start)\n", name, now, old);
		} else {
			printf("  %s = %s\n", name, now);
		}
	}
}

void netprog_print_status(const struct netprog *np, const char *const keys[], size_t n)
{
	bool json = np->params.json;
	if (json) {
		printf("{\"program\":");
		json_str(stdout, np->name);
		printf(",\"netdev\":");
		json_str(stdout, np->netdev);
		printf(",\"started\":%s,\"interrupted\":", np->started ? "true" : "false");
		if (np->interrupted) {
			char mend[64 + IFNAME_MAX];
			snprintf(mend, sizeof(mend), "%s stop netdev=%s", np->name, np->netdev);
			printf("{\"command\":\"start\",\"pid\":%ld,\"running\":%s,\"mend\":",
			       np->starter, netprog_starter_running(np) ? "true" : "false");
			json_str(stdout, mend);
			putchar('}');
		} else {
			printf("null");
		}
		printf(",\"settings\":[");
	} else if (np->interrupted) {
		bool running = netprog_starter_running(np);
		printf("%s: interrupted: the start for %s by process %ld %s; %s `%s stop "
		       "netdev=%s` to put back what it changed (a new start does that first too)\n",
		       np->name, np->netdev, np->starter,
		       running ? "is still running" : "did not finish",
		       running ? "if it hangs, kill it, then run" : "run", np->name, np->netdev);
	} else if (np->started) {
		printf("%s: started for %s (state in %s/%s)\n", np->name, np->netdev,
		       path_run_dir(), np->state);
	} else {
		printf("%s: not started for %s\n", np->name, np->netdev);
	}
	print_settings(np, keys, n, json);
	if (json)
		putchar(']');
}

/* netdev when not given: for stop and status the device this program was started on. */
static bool started_on(const char *name, void *arg)
{
	char **want = arg;
	size_t pl = strlen(want[0]);
	if (strncmp(name, want[0], pl) || name[pl] != '.')
		return false;
	if (want[1][0]) { /* a second one: ambiguous */
		want[1][0] = '\0';
		return true;
	}
	snprintf(want[1], IFNAME_MAX + 1, "%s", name + pl + 1);
	return false;
}

static int resolve_netdev(struct netprog *np)
{
	const char *netdev = params_get(&np->params, "netdev");
	const char *expected;
	if (netdev && *netdev) {
		if ((expected = check_ifname(netdev))) {
			params_invalid(np->err, sizeof(np->err), "netdev", netdev, expected);
			return -1;
		}
		snprintf(np->netdev, sizeof(np->netdev), "%s", netdev);
		return 0;
	}
	bool none_started = true;
	if (np->command != NP_START) {
		char found[IFNAME_MAX + 1] = "";
		char *want[2] = {(char *)np->name, found};
		int ambiguous = each_instance(NULL, false, started_on, want);
		if (!ambiguous && found[0] && !check_ifname(found)) {
			snprintf(np->netdev, sizeof(np->netdev), "%s", found);
			return 0;
		}
		none_started = !ambiguous && !found[0];
	}
	int err = route_default_dev(&np->net, np->netdev);
	/* xend runs stop whatever the network looks like: with nothing started, that is fine. */
	if (err == -NLE_OBJ_NOTFOUND && np->command == NP_STOP && none_started)
		return 1;
	if (err == -NLE_OBJ_NOTFOUND)
		return netprog_fail(np,
				    "no netdev given and there is no IPv4 default route to "
				    "take it from: set netdev= to the device facing the network");
	if (err < 0)
		return netprog_fail(np, "cannot read the routing table: %s", net_error(err));
	return 0;
}

int netprog_begin(struct netprog *np, const char *name, const char *usage, int argc, char *argv[])
{
	memset(np, 0, sizeof(*np));
	np->name = name;
	np->lock.fd = -1;
	if (params_parse(&np->params, argc, argv, np->err, sizeof(np->err)) < 0) {
		log_open(&np->log, name, false);
		return -1;
	}
	log_open(&np->log, name, np->params.verbose);
	if (np->params.help) {
		fputs(usage, stdout);
		return 1;
	}
	if (np->params.version) {
		printf("%s %s\n", name, XNH_VERSION);
		return 1;
	}
	const char *cmd = np->params.command;
	if (!params_command_valid(cmd, commands)) {
		char shown[64];
		if (cmd)
			return netprog_fail(np,
					    "unknown command '%s': valid commands are start, stop "
					    "and status",
					    printable(cmd, shown, sizeof(shown)));
		return netprog_fail(np, "no command given: valid commands are start, stop and "
					"status (see --help)");
	}
	np->command = !strcmp(cmd, "start") ? NP_START : !strcmp(cmd, "stop") ? NP_STOP : NP_STATUS;
	if (np->params.json && np->command != NP_STATUS)
		return netprog_fail(np, "--json goes with status only");
	const char *timeout, *expected;
	if ((expected = lock_timeout_invalid(&timeout))) {
		params_invalid(np->err, sizeof(np->err), LOCK_TIMEOUT_ENV, timeout, expected);
		return -1;
	}
	int err = net_open(&np->net);
	if (err < 0)
		return netprog_fail(np, "cannot open a netlink socket: %s", net_error(err));
	if ((err = resolve_netdev(np)) < 0)
		return -1;
	if (err > 0) {
		log_msg(&np->log, LOG_DEBUG,
			"not started (no state file, no default route): "
			"nothing to stop");
		return 1;
	}
	snprintf(np->state, sizeof(np->state), "%s.%s", name, np->netdev);
	if (np->command != NP_STATUS && (err = lock_take(&np->lock, NETPROG_LOCK)) < 0) {
		char why[sizeof(np->err)];
		return netprog_fail(np, "%s", lock_strerror(&np->lock, err, why, sizeof(why)));
	}
	/* Read under the lock: a concurrent stop may be removing it. */
	err = statefile_read(np->state, np->record, sizeof(np->record));
	if (err < 0 && err != -ENOENT)
		return netprog_fail(np, "cannot read the state file %s/%s: %s", path_run_dir(),
				    np->state, strerror(-err));
	np->started = err == 0;
	if (!np->started)
		np->record[0] = '\0';
	/*
	 * No state file, but its temporary file: a start killed before its first record was in
	 * place, so before its first change.  status reports it; start and stop (under the lock)
	 * clear it away.
	 */
	if (!np->started && statefile_read_temp(np->state, np->record, sizeof(np->record)) == 0) {
		if (np->command == NP_STATUS) {
			char *nl = strchr(np->record, '\n');
			if (nl)
				nl[1] = '\0';
		} else {
			statefile_forget_temp(np->state);
			np->record[0] = '\0';
		}
	}
	/* The mark of a start under way: a start that did not finish (under the lock: dead). */
	char *end;
	if (!strncmp(np->record, STARTING, strlen(STARTING))) {
		np->interrupted = true;
		np->starter = strtol(np->record + strlen(STARTING), &end, 10);
		char *nl = strchr(np->record, '\n');
		memmove(np->record, nl ? nl + 1 : "", strlen(nl ? nl + 1 : "") + 1);
	}
	np->record_len = strlen(np->record);
	return 0;
}

static void report_undo(void *ctx, const char *what, int err)
{
	struct netprog *np = (struct netprog *)((char *)ctx - offsetof(struct netprog, net));
	log_msg(&np->log, LOG_ERR, "could not put back %s: %s", what, net_error(err));
}

int netprog_end(struct netprog *np, int r)
{
	if (r < 0 && np->undo.n) {
		int left = net_unwind(&np->net, &np->undo, report_undo);
		if (left)
			log_msg(&np->log, LOG_ERR, "%d change(s) could not be undone", left);
		else
			log_msg(&np->log, LOG_ERR, "%s failed: everything was put back as it was",
				np->params.command);
	}
	undo_commit(&np->undo);
	lock_release(&np->lock);
	net_close(&np->net);
	if (r < 0)
		log_msg(&np->log, LOG_ERR, "%s", np->err);
	log_close(&np->log);
	/* status: an interrupted start, reported, is something to mend. */
	bool mend = np->command == NP_STATUS && np->interrupted && !netprog_starter_running(np);
	return r < 0 ? sig_exit_status() : mend ? 1 : 0;
}
