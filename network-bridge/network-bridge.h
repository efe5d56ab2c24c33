/* network-bridge's context, shared by its main file, the takeover and the status report. */
#ifndef XNH_NETWORK_BRIDGE_H
#define XNH_NETWORK_BRIDGE_H

#include <stdbool.h>

#include "firewall.h"
#include "link.h"
#include "lock.h"
#include "log.h"
#include "params.h"
#include "undo.h"

struct nb {
	struct params params;
	struct log log;
	struct net net;
	struct undo undo;
	struct lock lock;
	char netdev[IFNAME_MAX + 1]; /* the physical device as the administrator names it */
	char bridge[IFNAME_MAX + 1];
	char port[IFNAME_MAX + 1]; /* the device the bridge enslaves: netdev, or p<netdev> */
	bool rename;		   /* bridge == netdev: the Xen 3.3-4.4 layout */
	bool force;
	bool antispoof; /* antispoof=yes */
	struct fw fw;	/* for the antispoof policy; opened by nb_open_firewall */
	char err[1024];
};

/* Set nb->err; returns -1. */
int nb_fail(struct nb *nb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int nb_net_fail(struct nb *nb, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* In dry-run print the step and return false; else log it and return true. */
bool nb_step(struct nb *nb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* start and stop: 0 done, 1 nothing to do, -1 failed (nb->err; changes undone). */
int nb_start(struct nb *nb);
int nb_stop(struct nb *nb);

/*
 * The firewall backend (firewall=, else the default).  0, or -1 (nb->err) for a bad value.
 * The antispoof policy of the bridge (SPEC §3, §6): installed, with its removal in the undo
 * journal; removed (a policy not there is no error).  0 or -1 (nb->err).
 */
int nb_open_firewall(struct nb *nb);
int nb_antispoof_add(struct nb *nb);
int nb_antispoof_del(struct nb *nb);

/* Print the state of the bridge and the device, as text or JSON.  0 or -1. */
int nb_status(struct nb *nb, bool json);

/*
 * The state file start leaves for bridge: the device it took (into netdev) and the bridge
 * (into bridge_out), and whether the device was up.  0, or -1 when there is none.
 */
int nb_state_read(const char *bridge, char *netdev, char *bridge_out);
bool nb_state_was_up(struct nb *nb);

/* Refuse when the root filesystem is on NFS reached through netdev. 0 or -1 (nb->err). */
int nb_check_nfs_root(struct nb *nb, int netdev_ifindex);

#endif
