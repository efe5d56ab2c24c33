/* network-bridge's durable record of a takeover, and the repair of a start or stop killed half-way.
 */
#include "addr.h"
#include "proc.h"
#include "network-bridge.h"
#include "paths.h"
#include "statefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/errno.h>

/*
 * The record, XEN_RUN_DIR/network-bridge.<bridge>, one "key=value" or "kind data" a line:
 *   netdev=, bridge=   the device as the administrator names it, and the bridge
 *   up=0|1             whether the device was up before start
 *   ifindex=           the device's (a rename does not change it)
 *   phase=             starting, started or stopping
 *   pid=               the run that wrote a starting or stopping record
 *   addr <hex>, route <hex>
 *                      starting and stopping: what the device must hold once the network is
 *                      back on it (netconf_write), the device's own at start, the bridge's at
 *                      stop
 * Written and flushed to the disk before start or stop changes anything, so that whatever
 * ends the run (SIGKILL, a crash, a power cut), the next start, stop or status finds out, and
 * start or stop puts the device back as the record says.  A record of an older version (the
 * first three keys) reads as started.
 */
static void record_name(const char *bridge, char *buf, size_t len)
{
	snprintf(buf, len, "network-bridge.%s", bridge);
}

static const char *phase_word(enum nb_phase p)
{
	return p == NB_STARTING ? "starting" : p == NB_STOPPING ? "stopping" : "started";
}

/* The undo of a record write: the text the record had before (NULL: there was none). */
struct undo_record {
	char *previous;
	char name[48];
};

static void release_record(const void *arg)
{
	free(*(char *const *)arg);
}

static int undo_record(void *ctx, const void *arg)
{
	(void)ctx;
	const struct undo_record *u = arg;
	int err = u->previous ? statefile_write(u->name, u->previous, strlen(u->previous))
			      : statefile_remove(u->name);
	free(u->previous);
	return err < 0 ? -nl_syserr2nlerr(-err) : 0;
}

/* The whole file (or its temporary file), NUL-terminated, in *text (malloc'd). */
static int slurp_with(int (*read)(const char *, char *, size_t), const char *name, char **text)
{
	size_t cap = 4096;
	for (;;) {
		char *buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
		int err = read(name, buf, cap);
		if (err < 0) {
			free(buf);
			return err;
		}
		if (strlen(buf) < cap - 1 || cap >= (16u << 20)) {
			*text = buf;
			return 0;
		}
		free(buf);
		cap *= 4;
	}
}

static int slurp(const char *name, char **text)
{
	return slurp_with(statefile_read, name, text);
}

int nb_record_save(struct nb *nb, enum nb_phase phase, bool was_up, int ifindex,
		   const struct netconf *conf, int from, const char *from_name)
{
	char name[48], *text = NULL, *previous = NULL;
	size_t len = 0;
	record_name(nb->bridge, name, sizeof(name));
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return nb_fail(nb, "cannot write the record %s: %s", name, strerror(errno));
	fprintf(f, "netdev=%s\nbridge=%s\nup=%d\nifindex=%d\nphase=%s\n", nb->netdev, nb->bridge,
		was_up, ifindex, phase_word(phase));
	int err = 0;
	if (phase != NB_STARTED) {
		fprintf(f, "pid=%ld\n", (long)getpid());
		err = netconf_write(f, conf, from, ifindex, from_name, nb->netdev);
	}
	if (fclose(f) != 0 && !err)
		err = -NLE_NOMEM;
	if (err < 0) {
		free(text);
		return nb_net_fail(nb, err, "cannot write the record %s", name);
	}
	int e = slurp(name, &previous);
	if (e < 0 && e != -ENOENT) {
		free(text);
		return nb_fail(nb, "cannot read the record %s in %s: %s", name, path_run_dir(),
			       strerror(-e));
	}
	if ((e = statefile_write(name, text, len)) < 0) {
		free(text);
		free(previous);
		return nb_fail(nb, "cannot write the record %s in %s: %s", name, path_run_dir(),
			       strerror(-e));
	}
	free(text);
	struct undo_record u = {previous, ""};
	snprintf(u.name, sizeof(u.name), "%s", name);
	if (undo_push_ref(&nb->undo, undo_record, release_record, &u, sizeof(u), "record") < 0) {
		undo_record(NULL, &u);
		return nb_fail(nb, "too many changes to undo");
	}
	return 0;
}

int nb_record_forget(struct nb *nb)
{
	char name[48];
	record_name(nb->bridge, name, sizeof(name));
	int err = statefile_remove(name);
	if (err < 0)
		return nb_fail(nb, "cannot remove the record %s in %s: %s", name, path_run_dir(),
			       strerror(-err));
	return 0;
}

void nb_record_free(struct nb_record *r)
{
	netconf_free(&r->conf);
	memset(r, 0, sizeof(*r));
}

/* "key=value", value an interface name. */
static bool name_line(const char *line, const char *key, char *out)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) || check_ifname(line + k))
		return false;
	snprintf(out, IFNAME_MAX + 1, "%s", line + k);
	return true;
}

/* "key=value", value a decimal number from 0 to max. */
static bool number_line(const char *line, const char *key, long max, long *out)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) || !line[k])
		return false;
	char *end;
	errno = 0;
	long v = strtol(line + k, &end, 10);
	if (*end || errno || v < 0 || v > max)
		return false;
	*out = v;
	return true;
}

int nb_record_load(const char *bridge, struct nb_record *r)
{
	char name[48], *text;
	memset(r, 0, sizeof(*r));
	record_name(bridge, name, sizeof(name));
	int err = slurp(name, &text);
	/* None, but the one a run killed before its first change was writing. */
	if (err == -ENOENT && (err = slurp_with(statefile_read_temp, name, &text)) == 0)
		r->temp = true;
	if (err < 0)
		return err;
	r->phase = NB_STARTED;
	r->was_up = true;
	bool netdev = false, br = false;
	err = 0;
	for (char *line = text, *next; *line && !err; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		long v;
		if (name_line(line, "netdev=", r->netdev))
			netdev = true;
		else if (name_line(line, "bridge=", r->bridge))
			br = true;
		else if (number_line(line, "up=", 1, &v))
			r->was_up = v;
		else if (number_line(line, "ifindex=", 0x7fffffff, &v))
			r->ifindex = (int)v;
		else if (number_line(line, "pid=", 0x7fffffff, &v))
			r->pid = v;
		else if (!strcmp(line, "phase=starting"))
			r->phase = NB_STARTING;
		else if (!strcmp(line, "phase=stopping"))
			r->phase = NB_STOPPING;
		else if (!strcmp(line, "phase=started"))
			r->phase = NB_STARTED;
		else if (!strncmp(line, "addr ", 5) || !strncmp(line, "route ", 6))
			err = netconf_parse_line(&r->conf, line) < 0 ? -EINVAL : 0;
		else if (*line)
			err = -EINVAL;
	}
	free(text);
	if (!err && (!netdev || !br || (r->phase != NB_STARTED && r->ifindex <= 0)))
		err = -EINVAL;
	if (err)
		nb_record_free(r);
	return err;
}

bool nb_record_running(const struct nb_record *r)
{
	return proc_is(r->pid, "network-bridge");
}

/*
 * Put the network back on the device as the record says: the bridge that start made goes
 * (its ports released), the device gets its name back, its up state, the recorded addresses
 * and routes, and the antispoof policy goes.  Each step finds what is already done and does
 * not do it again, so a repair that stops half-way is finished by the next one; nothing is
 * undone when it fails.
 */
static int repair(struct nb *nb, const struct nb_record *r)
{
	struct link_state dev, br;
	int err = link_get_index(&nb->net, r->ifindex, &dev);
	if (err < 0)
		return nb_net_fail(
		    nb, err,
		    "the device %s (ifindex %d) that the interrupted %s was about is "
		    "gone; remove %s/network-bridge.%s once the network is as it "
		    "should be",
		    r->netdev, r->ifindex, r->phase == NB_STARTING ? "start" : "stop",
		    path_run_dir(), r->bridge);
	const char *step = "look up the bridge";
	if ((err = link_get(&nb->net, r->bridge, &br)) == 0 && br.is_bridge &&
	    br.ifindex != dev.ifindex) {
		struct link_state *ports;
		size_t n;
		step = "list the ports of the bridge";
		if ((err = bridge_ports(&nb->net, br.ifindex, &ports, &n)) < 0)
			goto fail;
		step = "release the ports of the bridge";
		for (size_t i = 0; i < n && err == 0; i++)
			err = link_set_master(&nb->net, NULL, &ports[i], 0);
		free(ports);
		if (err < 0)
			goto fail;
		step = "delete the bridge";
		if ((err = link_delete(&nb->net, br.ifindex)) < 0)
			goto fail;
	} else if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV) {
		goto fail;
	}
	step = "look up the device";
	if ((err = link_get_index(&nb->net, r->ifindex, &dev)) < 0)
		goto fail;
	if (dev.master) {
		step = "release the device";
		if ((err = link_set_master(&nb->net, NULL, &dev, 0)) < 0)
			goto fail;
	}
	if (strcmp(dev.name, r->netdev)) {
		step = "set the device down to rename it";
		if (dev.up && (err = link_set_up(&nb->net, NULL, &dev, false)) < 0)
			goto fail;
		dev.up = false;
		step = "rename the device back";
		if ((err = link_rename(&nb->net, NULL, &dev, r->netdev)) < 0)
			goto fail;
		memcpy(dev.name, r->netdev, sizeof(dev.name));
	}
	step = r->was_up ? "set the device up" : "set the device down";
	if (dev.up != r->was_up && (err = link_set_up(&nb->net, NULL, &dev, r->was_up)) < 0)
		goto fail;
	struct undo scratch = {0};
	step = "put the addresses back on the device";
	err = netconf_add_addrs(&nb->net, &scratch, &r->conf, dev.ifindex, r->netdev, r->netdev);
	undo_commit(&scratch);
	if (err < 0)
		goto fail;
	step = "put the routes back on the device";
	if ((err = netconf_restore_routes(&nb->net, &r->conf)) < 0)
		goto fail;
	if (nb_antispoof_del(nb) < 0)
		return -1;
	return nb_record_forget(nb);
fail:
	return nb_net_fail(nb, err,
			   "cannot finish the interrupted %s of %s: cannot %s; run network-bridge "
			   "stop again",
			   r->phase == NB_STARTING ? "start" : "stop", r->bridge, step);
}

int nb_finish_interrupted(struct nb *nb)
{
	struct nb_record r;
	int err = nb_record_load(nb->bridge, &r);
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return nb_fail(nb,
			       "the record %s/network-bridge.%s cannot be read (%s): check the "
			       "network of %s and %s by hand, then remove it",
			       path_run_dir(), nb->bridge, strerror(-err), nb->netdev, nb->bridge);
	/* A record being written, never in place: nothing was changed yet. */
	if (r.temp || r.phase == NB_STARTED) {
		bool temp = r.temp;
		nb_record_free(&r);
		char name[48];
		record_name(nb->bridge, name, sizeof(name));
		if (temp && nb_step(nb, "remove what an interrupted run left of the record"))
			statefile_forget_temp(name);
		return 0;
	}
	const char *what = r.phase == NB_STARTING ? "start" : "stop";
	if (!nb_step(nb, "finish the interrupted %s of %s (process %ld): give %s back its network",
		     what, r.bridge, r.pid, r.netdev)) {
		nb_record_free(&r);
		return 0;
	}
	log_msg(&nb->log, LOG_WARNING,
		"the %s of %s by process %ld was interrupted; putting the network of %s back as "
		"it was",
		what, r.bridge, r.pid, r.netdev);
	int ret = repair(nb, &r);
	nb_record_free(&r);
	return ret < 0 ? -1 : 1;
}
