/* network-bridge start and stop: move the NIC's addresses and routes to the bridge and back. */
#include "addr.h"
#include "network-bridge.h"
#include "paths.h"
#include "signals.h"
#include "statefile.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

/* How long start waits for the NIC's port to forward; a NIC without carrier never will. */
#define FORWARD_WAIT_MS 3000

static void report_undo(void *ctx, const char *what, int err)
{
	struct nb *nb = (struct nb *)((char *)ctx - offsetof(struct nb, net));
	log_msg(&nb->log, LOG_ERR, "could not restore the %s: %s", what, net_error(err));
}

/* Each step is logged (debug; on the terminal with -v) as it starts; returns its name. */
static const char *progress(struct nb *nb, const char *step)
{
	log_msg(&nb->log, LOG_DEBUG, "%s (%s, bridge %s)", step, nb->netdev, nb->bridge);
	return step;
}

/*
 * Put back what was done, newest first, and say in nb->err what failed (what) and whether
 * everything is back.
 */
static int unwind(struct nb *nb, const char *cmd, const char *what)
{
	int left = net_unwind(&nb->net, &nb->undo, report_undo);
	if (left)
		nb_fail(nb,
			"%s failed: %s (%s, bridge %s); %d change(s) could not be undone: "
			"check the network configuration",
			cmd, what, nb->netdev, nb->bridge, left);
	else
		nb_fail(nb, "%s failed: %s (%s, bridge %s); everything was put back as it was", cmd,
			what, nb->netdev, nb->bridge);
	return -1;
}

/*
 * Before each step: log it, and once SIGINT, SIGTERM or SIGHUP was caught go no further (the
 * steps done are undone, as for a failure).
 */
#define STEP(name)                                                                                 \
	do {                                                                                       \
		step = progress(nb, name);                                                         \
		if (sig_caught()) {                                                                \
			err = -NLE_INTR;                                                           \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)

/* The reason for nb->err: the step that failed, or the signal that came before it. */
static void failed_step(char *what, size_t len, const char *step, int err)
{
	if (sig_caught())
		snprintf(what, len, "interrupted by %s before it could %s", sig_caught_name(),
			 step);
	else
		snprintf(what, len, "cannot %s: %s", step, net_error(err));
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Wait, driven by link events, until the port forwards; a bounded wait, never an error. */
static void wait_forwarding(struct nb *nb, int port)
{
	struct nl_sock *ev = nl_socket_alloc();
	struct timespec start;
	int state = -1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (!ev || nl_connect(ev, NETLINK_ROUTE) < 0 ||
	    nl_socket_add_membership(ev, RTNLGRP_LINK) < 0) {
		if (ev)
			nl_socket_free(ev);
		return;
	}
	nl_socket_disable_seq_check(ev);
	for (;;) {
		if (bridge_port_state(&nb->net, port, &state) == 0 && state == BR_STATE_FORWARDING)
			break;
		long left = FORWARD_WAIT_MS - elapsed_ms(&start);
		if (left <= 0)
			break;
		struct pollfd p = {.fd = nl_socket_get_fd(ev), .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			break;
		char buf[16384];
		/* Only the wake-up matters: the state is read again from the kernel. */
		while (recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	}
	nl_socket_free(ev);
	if (state != BR_STATE_FORWARDING)
		log_msg(&nb->log, LOG_WARNING,
			"%s is on %s but not forwarding yet (no carrier?); guests will reach the "
			"network once it is",
			nb->port, nb->bridge);
}

/* Is the takeover in place: the bridge exists and holds the port? */
static int started(struct nb *nb, struct link_state *br, struct link_state *port)
{
	int err = link_get(&nb->net, nb->bridge, br);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return 0;
	if (err < 0)
		return nb_net_fail(nb, err, "cannot look up %s", nb->bridge);
	if (!br->is_bridge)
		return 0;
	err = link_get(&nb->net, nb->port, port);
	if (err == 0 && port->master == br->ifindex)
		return 1;
	return 0;
}

int nb_start(struct nb *nb)
{
	struct link_state dev, br, port;
	struct netconf conf;
	int err, r;

	if (nb_finish_interrupted(nb) < 0)
		return -1;
	if ((r = started(nb, &br, &port)) != 0) {
		if (r < 0)
			return -1;
		log_msg(&nb->log, LOG_DEBUG, "%s already holds %s", nb->bridge, nb->port);
		/* Started without antispoofing before: this start adds it (adding twice is once).
		 */
		if (nb->antispoof && nb_antispoof_add(nb) < 0)
			return -1;
		undo_commit(&nb->undo);
		return 1;
	}
	err = link_get(&nb->net, nb->netdev, &dev);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return nb_fail(nb,
			       "netdev %s does not exist: set netdev= to the physical device "
			       "that carries the host's network",
			       nb->netdev);
	if (err < 0)
		return nb_net_fail(nb, err, "cannot look up %s", nb->netdev);
	if (dev.is_bridge)
		return nb_fail(nb,
			       "netdev %s is a bridge already: nothing to take over (set "
			       "netdev= to the physical device)",
			       nb->netdev);
	if (dev.master)
		return nb_fail(nb,
			       "netdev %s is already enslaved to another device (ifindex %d): "
			       "refusing to take it",
			       nb->netdev, dev.master);
	if (!nb->rename && link_get(&nb->net, nb->bridge, &br) == 0)
		return nb_fail(nb, "%s already exists and %s: choose another bridge= or remove it",
			       nb->bridge,
			       br.is_bridge ? "does not hold the device" : "is not a bridge");
	if (nb->rename && link_get(&nb->net, nb->port, &port) == 0)
		return nb_fail(nb, "cannot rename %s to %s: that name is taken", nb->netdev,
			       nb->port);
	if (nb_check_nfs_root(nb, dev.ifindex) < 0)
		return -1;
	if ((err = netconf_read(&nb->net, dev.ifindex, &conf)) < 0)
		return nb_net_fail(nb, err, "cannot read the addresses and routes of %s",
				   nb->netdev);
	if (nb->params.dry_run) {
		printf("would %screate bridge %s (MAC and MTU of %s), move %zu address(es) and "
		       "%zu route(s) to it, and enslave %s\n",
		       nb->rename ? "rename the device to the port name, " : "", nb->bridge,
		       nb->netdev, conf.n_addrs, conf.n_routes, nb->port);
		netconf_free(&conf);
		return nb->antispoof ? nb_antispoof_add(nb) : 0;
	}

	const char *step = "";
	int brindex = 0;
	bool was_up = dev.up;
	/* Before any change: whatever ends this run, the next one knows what to put back. */
	if (nb_record_save(nb, NB_STARTING, was_up, dev.ifindex, &conf, dev.ifindex, nb->netdev) <
	    0) {
		netconf_free(&conf);
		return -1;
	}
	/* First, so that a kernel without it refuses before the network is touched. */
	if (nb->antispoof && nb_antispoof_add(nb) < 0) {
		netconf_free(&conf);
		char what[sizeof(nb->err)];
		snprintf(what, sizeof(what), "%s", nb->err);
		return unwind(nb, "start", what);
	}
	if (nb->rename) {
		/* A link must be down to be renamed, and down takes its routes and IPv6 along:
		 * take them off first, so that the undo knows to put them back. */
		STEP("remove the routes of the device");
		if ((err = netconf_move_routes(&nb->net, &nb->undo, &conf, dev.ifindex, 0)) < 0)
			goto fail;
		STEP("remove the addresses of the device");
		if ((err = netconf_remove_addrs(&nb->net, &nb->undo, &conf)) < 0)
			goto fail;
		STEP("set the device down");
		if ((err = link_set_up(&nb->net, &nb->undo, &dev, false)) < 0)
			goto fail;
		dev.up = false;
		STEP("rename the device");
		if ((err = link_rename(&nb->net, &nb->undo, &dev, nb->port)) < 0)
			goto fail;
		memcpy(dev.name, nb->port, sizeof(dev.name));
	}
	STEP("create the bridge");
	if ((err = bridge_create(&nb->net, &nb->undo, nb->bridge, dev.mac, dev.mtu, 0, &br)) < 0)
		goto fail;
	brindex = br.ifindex;
	STEP("set the bridge up");
	if ((err = link_set_up(&nb->net, &nb->undo, &br, true)) < 0)
		goto fail;
	STEP("put the addresses on the bridge");
	if ((err = netconf_add_addrs(&nb->net, &nb->undo, &conf, brindex, nb->netdev, nb->bridge)) <
	    0)
		goto fail;
	STEP("move the routes to the bridge");
	if ((err = netconf_move_routes(&nb->net, &nb->undo, &conf, dev.ifindex, brindex)) < 0)
		goto fail;
	if (!nb->rename) {
		STEP("remove the addresses of the device");
		if ((err = netconf_remove_addrs(&nb->net, &nb->undo, &conf)) < 0)
			goto fail;
	}
	STEP("add the device to the bridge");
	if ((err = link_set_master(&nb->net, &nb->undo, &dev, brindex)) < 0)
		goto fail;
	STEP("set the device up");
	if ((err = link_set_up(&nb->net, &nb->undo, &dev, true)) < 0)
		goto fail;
	STEP("note the start as done");
	if (nb_record_save(nb, NB_STARTED, was_up, dev.ifindex, NULL, 0, NULL) < 0) {
		netconf_free(&conf);
		char what[sizeof(nb->err)];
		snprintf(what, sizeof(what), "%s", nb->err);
		return unwind(nb, "start", what);
	}
	if (sig_caught()) {
		err = -NLE_INTR;
		goto fail;
	}
	netconf_free(&conf);
	undo_commit(&nb->undo);
	wait_forwarding(nb, dev.ifindex);
	log_msg(&nb->log, LOG_INFO, "%s now carries the network of %s (%s layout)", nb->bridge,
		nb->netdev, nb->rename ? "rename" : "classic");
	return 0;
fail:
	netconf_free(&conf);
	char what[512];
	failed_step(what, sizeof(what), step, err);
	return unwind(nb, "start", what);
}

int nb_stop(struct nb *nb)
{
	struct link_state br, port;
	struct netconf conf;
	int err, r;

	/* A start or stop killed half-way: this stop is done once the network is back. */
	if ((r = nb_finish_interrupted(nb)) != 0)
		return r < 0 ? -1 : 0;
	if ((r = started(nb, &br, &port)) <= 0) {
		if (r < 0)
			return -1;
		log_msg(&nb->log, LOG_DEBUG, "%s does not hold %s: not started", nb->bridge,
			nb->port);
		/* A policy left by a stop that failed after the takeover was undone. */
		return nb_antispoof_del(nb) < 0 ? -1 : 1;
	}
	struct link_state *ports;
	size_t n_ports;
	if ((err = bridge_ports(&nb->net, br.ifindex, &ports, &n_ports)) < 0)
		return nb_net_fail(nb, err, "cannot list the ports of %s", nb->bridge);
	char others[512] = "";
	size_t n_others = 0;
	for (size_t i = 0; i < n_ports; i++) {
		if (ports[i].ifindex == port.ifindex)
			continue;
		size_t l = strlen(others);
		snprintf(others + l, sizeof(others) - l, "%s%s", n_others ? ", " : "",
			 ports[i].name);
		n_others++;
	}
	if (n_others && !nb->force) {
		free(ports);
		return nb_fail(nb,
			       "%s still has guest ports (%s): shut the guests down or detach "
			       "them, or stop with force=yes",
			       nb->bridge, others);
	}
	if ((err = netconf_read(&nb->net, br.ifindex, &conf)) < 0) {
		free(ports);
		return nb_net_fail(nb, err, "cannot read the addresses and routes of %s",
				   nb->bridge);
	}
	if (nb->params.dry_run) {
		printf("would release %s%s%s, move %zu address(es) and %zu route(s) back to %s, "
		       "delete bridge %s%s\n",
		       nb->port, n_others ? " and " : "", others, conf.n_addrs, conf.n_routes,
		       nb->rename ? nb->netdev : nb->port, nb->bridge,
		       nb->rename ? " and rename the device back" : "");
		free(ports);
		netconf_free(&conf);
		return 0;
	}
	struct nb_record rec;
	bool was_up = nb_record_load(nb->bridge, &rec) < 0 || rec.was_up;
	nb_record_free(&rec);
	const char *step = "";
	/* Before any change: what the device will hold, for the stop that finishes this one. */
	if (nb_record_save(nb, NB_STOPPING, was_up, port.ifindex, &conf, br.ifindex, nb->bridge) <
	    0) {
		free(ports);
		netconf_free(&conf);
		return -1;
	}
	STEP("release the guest ports");
	for (size_t i = 0; i < n_ports; i++) {
		if (ports[i].ifindex != port.ifindex &&
		    (err = link_set_master(&nb->net, &nb->undo, &ports[i], 0)) < 0)
			goto fail;
	}
	STEP("release the device");
	if ((err = link_set_master(&nb->net, &nb->undo, &port, 0)) < 0)
		goto fail;
	port.master = 0;
	if (nb->rename) {
		STEP("remove the routes of the bridge");
		if ((err = netconf_move_routes(&nb->net, &nb->undo, &conf, br.ifindex, 0)) < 0)
			goto fail;
		STEP("remove the addresses of the bridge");
		if ((err = netconf_remove_addrs(&nb->net, &nb->undo, &conf)) < 0)
			goto fail;
		STEP("set the bridge down");
		if ((err = link_set_up(&nb->net, &nb->undo, &br, false)) < 0)
			goto fail;
		STEP("delete the bridge");
		if ((err = bridge_delete(&nb->net, &nb->undo, &br)) < 0)
			goto fail;
		STEP("set the device down");
		if ((err = link_set_up(&nb->net, &nb->undo, &port, false)) < 0)
			goto fail;
		port.up = false;
		STEP("rename the device back");
		if ((err = link_rename(&nb->net, &nb->undo, &port, nb->netdev)) < 0)
			goto fail;
		memcpy(port.name, nb->netdev, sizeof(port.name));
	}
	STEP(was_up ? "set the device up" : "set the device down");
	if ((err = link_set_up(&nb->net, &nb->undo, &port, was_up)) < 0)
		goto fail;
	port.up = was_up;
	STEP("put the addresses back on the device");
	if ((err = netconf_add_addrs(&nb->net, &nb->undo, &conf, port.ifindex, nb->bridge,
				     nb->netdev)) < 0)
		goto fail;
	STEP("move the routes back to the device");
	if ((err = netconf_move_routes(&nb->net, &nb->undo, &conf, br.ifindex, port.ifindex)) < 0)
		goto fail;
	if (!nb->rename) {
		STEP("remove the addresses of the bridge");
		if ((err = netconf_remove_addrs(&nb->net, &nb->undo, &conf)) < 0)
			goto fail;
		STEP("set the bridge down");
		if ((err = link_set_up(&nb->net, &nb->undo, &br, false)) < 0)
			goto fail;
		STEP("delete the bridge");
		if ((err = bridge_delete(&nb->net, &nb->undo, &br)) < 0)
			goto fail;
	}
	/* The last step, still undoable: a record left would say the bridge holds it. */
	STEP("remove the record");
	if (nb_record_forget(nb) < 0) {
		free(ports);
		netconf_free(&conf);
		char what[sizeof(nb->err)];
		snprintf(what, sizeof(what), "%s", nb->err);
		return unwind(nb, "stop", what);
	}
	if (sig_caught()) {
		err = -NLE_INTR;
		goto fail;
	}
	free(ports);
	netconf_free(&conf);
	undo_commit(&nb->undo);
	log_msg(&nb->log, LOG_INFO, "%s gave the network back to %s", nb->bridge, nb->netdev);
	/* The network is back: a policy that cannot go is worth a warning, not a failure. */
	if (nb_antispoof_del(nb) < 0)
		log_msg(&nb->log, LOG_WARNING, "%s", nb->err);
	return 0;
fail:
	free(ports);
	netconf_free(&conf);
	char what[512];
	failed_step(what, sizeof(what), step, err);
	return unwind(nb, "stop", what);
}
