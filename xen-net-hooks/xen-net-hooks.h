/* xen-net-hooks' context and what resync and status share: the vifs xenstore knows. */
#ifndef XNH_XEN_NET_HOOKS_H
#define XNH_XEN_NET_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firewall.h"
#include "link.h"
#include "log.h"
#include "params.h"
#include "store.h"

/* Where netback's backend directories are: the vifs of dom0's netback. */
#define XNH_BACKEND_DIR "/local/domain/0/backend/vif"

struct xnh {
	struct params params;
	struct log log;
	struct store *xs; /* NULL until opened */
	struct net net;
	struct fw fw;
	char err[1024];
};

/* The vif program a backend's script node names: what rules the vif has. */
enum vif_mode { MODE_UNKNOWN, MODE_BRIDGED, MODE_ROUTED, MODE_NAT };

/* A network device of a vif, as the kernel has it now. */
struct vif_dev {
	char name[IFNAME_MAX + 1];
	bool tap;    /* the emulated NIC of an HVM guest, <name>-emu */
	bool exists; /* the rest is valid only when it exists */
	struct link_state link;
	char master[IFNAME_MAX + 1]; /* the bridge it is a port of, "" when none */
};

/* One backend/vif/<domid>/<devid> directory, and the devices of that vif. */
struct store_vif {
	unsigned domid, devid;
	char backend[64];
	/* The store's nodes, NULL when absent. */
	char *script, *vifname, *ip, *mac, *bridge, *hotplug_status;
	enum vif_mode mode;
	/* The firewall input the vif program gave it (SPEC §6), when problem is empty. */
	struct ip_prefix ips[IP_LIST_MAX];
	size_t n_ips;
	bool ip_derived; /* NAT without an ip node: vif-nat's address from the domain id */
	uint8_t mac_bytes[6];
	bool has_mac;
	char problem[640]; /* a node that makes no valid firewall input, e.g. a bad ip */
	/* devs[0] is the vif (vifname, else vif<domid>.<devid>); devs[1], when n_devs is 2, its
	 * -emu twin, which carries the same rules while it exists (not in NAT mode). */
	struct vif_dev devs[2];
	size_t n_devs;
};

/* Set x->err; returns -1. */
int xnh_fail(struct xnh *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* In dry-run print the step and return false; else log it (debug) and return true. */
bool xnh_step(struct xnh *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connect to xenstore when not yet connected.  0 or -1 (x->err). */
int xnh_store_open(struct xnh *x);

/*
 * Every vif directory under XNH_BACKEND_DIR, sorted by domain and device id, in *vifs
 * (malloc'd; each freed with store_vif_free), with only the ids and the backend path set.
 * No directory: none.  0 or -1 (x->err).
 */
int xnh_list_vifs(struct xnh *x, struct store_vif **vifs, size_t *n);

/*
 * (Re)read v's nodes and derive its mode and firewall input (v->problem names a node that
 * does not make one), then its devices' state.  A vanished directory reads as all nodes
 * absent.  0, or -1 on a xenstore or netlink error (x->err).
 */
int xnh_read_vif(struct xnh *x, struct store_vif *v);
void store_vif_free(struct store_vif *v);

/* Read d's state from the kernel (d->name set).  0 or -1 (x->err). */
int xnh_read_dev(struct xnh *x, struct vif_dev *d);

bool vif_connected(const struct store_vif *v);
bool mode_routed(enum vif_mode m); /* routed and NAT vifs are filtered in the inet family */
const char *mode_name(enum vif_mode m);
const char *mode_program(enum vif_mode m); /* vif-bridge, vif-route, vif-nat */

/* What the firewall calls take for device d of v. */
struct fw_vif vif_fw_input(const struct store_vif *v, const struct vif_dev *d);

/* The named lock the vif program of v's mode holds around its firewall changes, or NULL. */
const char *vif_program_lock(enum vif_mode m);

/*
 * The command line that runs v's vif program with command (online, offline) by hand, as udev
 * would: "vif=vif1.0 XENBUS_PATH=backend/vif/1/0 /etc/xen/scripts/vif-bridge offline".
 */
void vif_program_command(const struct xnh *x, const struct store_vif *v, const char *command,
			 char *buf, size_t len);

/* v's firewall addresses as text, space-separated ("none" when there are none). */
void vif_ips_text(const struct store_vif *v, char *buf, size_t len);

/* The commands.  Each returns the exit status. */
int xnh_resync(struct xnh *x);
int xnh_status(struct xnh *x);

#endif
