/* The life cycle every vif program shares: parameters, device, vifname, MTU, hooks, report. */
#ifndef XNH_VIF_H
#define XNH_VIF_H

#include <netinet/in.h>
#include <stdbool.h>

#include "firewall.h"
#include "link.h"
#include "lock.h"
#include "log.h"
#include "params.h"
#include "store.h"
#include "undo.h"
#include "vlan.h"

/* What makes one vif program different from another, for the shared code. */
struct vif_program {
	const char *name;
	const char *usage; /* the --help text */
	const char *lock;  /* named lock, or NULL */
	/* false: lock is held from the device's lookup to the end (vif_begin takes it); true:
	 * the program takes it with vif_lock around the steps that need it. */
	bool lock_late;
	bool vlan; /* reads the vlan node (bridged: libxl 4.19's VLANs of the port) */
};

enum vif_command { VIF_ONLINE, VIF_OFFLINE, VIF_ADD, VIF_REMOVE };

struct vif_ctx {
	const struct vif_program *prog;
	struct params params;
	struct log log;
	struct store *xs;
	struct net net;
	struct undo undo;
	struct lock lock;

	enum vif_command command;
	bool up;       /* online or add: bringing the device up */
	bool tap;      /* type_if=tap: the emulated NIC of an HVM guest */
	bool no_hooks; /* vif_finish reports without running the hooks (nothing was done) */
	char backend[256];
	unsigned domid, devid;
	char vif[IFNAME_MAX + 1]; /* the name the toolstack gave, from $vif or $INTERFACE */
	char dev[IFNAME_MAX + 1]; /* the name worked on, after vifname */
	bool dev_exists;
	struct link_state link;

	/* Parameters, validated; NULL or empty when not given. */
	char *bridge, *ip, *mac, *mtu, *vifname, *frontend;
	struct ip_prefix ips[IP_LIST_MAX];
	size_t n_ips;
	uint8_t mac_bytes[6];
	unsigned mtu_value;
	char *vlan;    /* the vlan node as given, when the program reads one */
	bool has_vlan; /* vlan given and valid: vlans holds it */
	struct vlan_set vlans;
	struct fw fw;
	const char *port_of; /* bridged online: the bridge the vif joins, for its rules */

	struct addr_saved *flushed;
	char err[1024];
};

/*
 * Parse and validate everything (arguments, environment, xenstore), connect to netlink, take
 * the lock, and find the device.  Returns 1 when the program should exit 0 now (help, version,
 * a no-op command for this type_if), 0 to go on, -1 on error (message in c->err).
 */
int vif_begin(struct vif_ctx *c, const struct vif_program *prog, int argc, char *argv[]);

/* Take the program's lock unless it is held (0, or -1 with c->err); let it go again. */
int vif_lock(struct vif_ctx *c);
void vif_unlock(struct vif_ctx *c);

/*
 * The pure steps of vif_begin, for the fuzzer.  vif_resolve_device: type_if, the device name,
 * the backend path and the domid and devid, from c->params (SPEC §2).  vif_check_values: judge
 * the values read from xenstore, arguments or environment (bridge, ip, mac, mtu, vifname,
 * vlan) and fill in ips, mac_bytes, mtu_value and vlans.  Each 0, or -1 with a message in c->err
 * naming the parameter and its value.
 */
int vif_resolve_device(struct vif_ctx *c);
int vif_check_values(struct vif_ctx *c);

/* Rename the device to vifname (online/add) when one is set.  0 or -1 (c->err). */
int vif_rename(struct vif_ctx *c);

/* Online: device down, MAC fe:ff:ff:ff:ff:ff, addresses flushed, MTU set.  0 or -1. */
int vif_prepare_port(struct vif_ctx *c, unsigned fallback_mtu);

/* Set the device's MTU to the xenstore mtu, when one is given and differs.  0 or -1. */
int vif_set_mtu(struct vif_ctx *c);

/*
 * True when the device is already up as a port of master with the port MAC and the MTU that
 * vif_prepare_port would set (xenstore mtu, else fallback_mtu): online has nothing to do.
 */
bool vif_is_port_ready(struct vif_ctx *c, int master, unsigned fallback_mtu);

/* Routed and NAT modes: the device answers ARP for the addresses routed through it.  0 or -1. */
int vif_proxy_arp(struct vif_ctx *c);

/*
 * Routed and NAT modes: a route to dst (shown as shown) through the device, with source src
 * (IPv4 only) and this metric, its removal registered for the undo.  A route to dst with that
 * metric through another device (another guest's) is refused in words that say so.  0 or -1.
 */
int vif_route(struct vif_ctx *c, const struct ip_prefix *dst, const char *shown,
	      const struct in_addr *src, unsigned metric);

/* Offline: device down, tolerating its absence.  0 or -1. */
int vif_take_down(struct vif_ctx *c);

/*
 * The vif's firewall rules (SPEC §6), bridged or routed: installed on online/add, with their
 * removal registered for the undo; removed on offline/remove, also when the device is gone.
 */
int vif_firewall(struct vif_ctx *c, bool routed);

/* Set the device up.  0 or -1. */
int vif_bring_up(struct vif_ctx *c);

/*
 * Write the frontend MTU, keep the changes, run the vif-post.d hooks, write hotplug-status and
 * release resources.  -1 (c->err) when a write fails: the caller reports it with vif_fail.
 */
int vif_finish(struct vif_ctx *c, const char *bridge);

/* Undo the changes made, report the failure in c->err to xenstore and the log; returns 1. */
int vif_fail(struct vif_ctx *c);

/* In dry-run, print the step and return false; else log it (debug) and return true. */
bool vif_step(struct vif_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set c->err.  Returns -1. */
int vif_error(struct vif_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set c->err: the device (named by $vif or $INTERFACE, or by vifname) is missing. Returns -1. */
int vif_no_device(struct vif_ctx *c);

/* Set c->err from a netlink error. Returns -1. */
int vif_net_error(struct vif_ctx *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
