/* network-bridge's context, shared by its main file, the takeover and the status report. */
#ifndef XNH_NETWORK_BRIDGE_H
#define XNH_NETWORK_BRIDGE_H

#include <stdbool.h>

#include "addr.h"
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

/*
 * Print the state of the bridge and the device, as text or JSON.  0, 2 when a start or stop was
 * interrupted (what mends it is printed), or -1.
 */
int nb_status(struct nb *nb, bool json);

/* The record of a takeover (record.c): what start and stop are about to change. */
enum nb_phase { NB_STARTED, NB_STARTING, NB_STOPPING };
struct nb_record {
	enum nb_phase phase;
	char netdev[IFNAME_MAX + 1], bridge[IFNAME_MAX + 1];
	bool was_up;	     /* the device, before start */
	int ifindex;	     /* the device's */
	long pid;	     /* the run that wrote a starting or stopping record */
	struct netconf conf; /* what the device holds once the network is back on it */
	bool temp;	     /* read from the temporary file of a record never put in place */
};

/*
 * Write the record of bridge (flushed to the disk), with its undo (the record as it was).
 * For starting and stopping, conf is what the device (ifindex) will hold, moved from the link
 * from (named from_name) to the device.  0 or -1 (nb->err).
 */
int nb_record_save(struct nb *nb, enum nb_phase phase, bool was_up, int ifindex,
		   const struct netconf *conf, int from, const char *from_name);
int nb_record_forget(struct nb *nb);
/* 0, -ENOENT when there is none, -EINVAL when it cannot be read, other -errno. */
int nb_record_load(const char *bridge, struct nb_record *r);
void nb_record_free(struct nb_record *r);
/* The run that wrote a starting or stopping record is still running. */
bool nb_record_running(const struct nb_record *r);
/*
 * Under the lock: a start or stop of nb->bridge was killed half-way (its record says so): put
 * the device back as it was before that start, or as that stop would have left it.  1 when it
 * did, 0 when there was nothing to finish, -1 (nb->err) when it failed.
 */
int nb_finish_interrupted(struct nb *nb);

/* Refuse when the root filesystem is on NFS reached through netdev. 0 or -1 (nb->err). */
int nb_check_nfs_root(struct nb *nb, int netdev_ifindex);

#endif
