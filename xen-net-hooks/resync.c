/* xen-net-hooks resync: the rules of every connected vif put back, then the host-wide policies. */
#include "xen-net-hooks.h"
#include "signals.h"
#include "lock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tally {
	size_t restored, skipped, failed;
	char failed_names[512]; /* the devices that failed, for the last line */
};

static void failed(struct xnh *x, struct tally *t, const struct store_vif *v, const char *dev,
		   const char *why)
{
	log_msg(&x->log, LOG_ERR, "%s (domain %u, device %u): %s", dev, v->domid, v->devid, why);
	size_t o = strlen(t->failed_names);
	snprintf(t->failed_names + o, sizeof(t->failed_names) - o, "%s%s", t->failed ? ", " : "",
		 dev);
	t->failed++;
}

static void skipped(struct xnh *x, struct tally *t, int level, const struct store_vif *v,
		    const char *dev, const char *why)
{
	log_msg(&x->log, level, "skipped %s (domain %u, device %u): %s", dev, v->domid, v->devid,
		why);
	t->skipped++;
}

static int fw_add(struct xnh *x, bool routed, const struct fw_vif *f, char *err, size_t len)
{
	return routed ? fw_routed_vif_add(&x->fw, f, err, len)
		      : fw_bridged_vif_add(&x->fw, f, err, len);
}

static int fw_del(struct xnh *x, bool routed, const struct fw_vif *f, char *err, size_t len)
{
	return routed ? fw_routed_vif_del(&x->fw, f, err, len)
		      : fw_bridged_vif_del(&x->fw, f, err, len);
}

/*
 * The vif is still what it was when its rules went in: connected, its device the same one
 * and up.  vif-route and vif-nat take no lock, and their offline sets the device down before
 * it removes the rules (SPEC §6): rules added after that must go again.
 */
static bool still_online(struct xnh *x, const struct store_vif *v, const struct vif_dev *d)
{
	char *status = NULL;
	struct vif_dev now = {.tap = d->tap};
	snprintf(now.name, sizeof(now.name), "%s", d->name);
	bool same = xnh_read_dev(x, &now) == 0 && now.exists && now.link.up &&
		    now.link.ifindex == d->link.ifindex;
	if (same && !d->tap)
		same = store_read(x->xs, v->backend, "hotplug-status", &status) == 0 &&
		       !strcmp(status, "connected");
	free(status);
	return same;
}

/* One device of a connected vif: its rules, as its vif program made them at online. */
static void restore_dev(struct xnh *x, struct tally *t, const struct store_vif *v,
			const struct vif_dev *d)
{
	bool routed = mode_routed(v->mode);
	struct fw_vif f = vif_fw_input(v, d);
	char ips[512], err[512];

	if (!d->exists) {
		/* Its rules cannot matter: the device that would carry the frames is gone. */
		skipped(x, t, LOG_WARNING, v, d->name,
			"the device does not exist (xen-net-hooks status names what to do)");
		return;
	}
	if (!d->link.up) {
		/* Down is what offline leaves: online, not resync, brings it back with rules. */
		skipped(x, t, LOG_WARNING, v, d->name, "the device is down");
		return;
	}
	vif_ips_text(v, ips, sizeof(ips));
	if (!xnh_step(
		x, "restore the %s firewall rules of %s (domain %u, device %u; ip %s; mac %s%s%s)",
		mode_name(v->mode), d->name, v->domid, v->devid, ips, v->has_mac ? v->mac : "any",
		f.bridge ? "; bridge " : "", f.bridge ? f.bridge : ""))
		return;
	if (fw_add(x, routed, &f, err, sizeof(err)) < 0) {
		failed(x, t, v, d->name, err);
		return;
	}
	if (!still_online(x, v, d)) {
		if (fw_del(x, routed, &f, err, sizeof(err)) < 0)
			failed(x, t, v, d->name, err);
		else
			skipped(
			    x, t, LOG_WARNING, v, d->name,
			    "it went offline during the resync: its rules were taken out again");
		return;
	}
	printf("%s: %s rules restored (domain %u, device %u)\n", d->name, mode_name(v->mode),
	       v->domid, v->devid);
	t->restored++;
}

static void resync_vif(struct xnh *x, struct tally *t, struct store_vif *v)
{
	char name[32], why[600];
	struct lock lk = {.fd = -1};

	snprintf(name, sizeof(name), "vif%u.%u", v->domid, v->devid);
	if (xnh_read_vif(x, v) < 0) {
		failed(x, t, v, name, x->err);
		return;
	}
	const char *lock = vif_program_lock(v->mode);
	if (vif_connected(v) && lock && !x->params.dry_run) {
		/* The lock of its vif program, so that no online or offline changes its device
		 * meanwhile (their rules are re-checked after, as for the programs without
		 * one: still_online); what was read before waiting for it is read again. */
		int err = lock_take(&lk, lock);
		if (err < 0) {
			lock_strerror(&lk, err, why, sizeof(why));
			failed(x, t, v, name, why);
			return;
		}
		if (xnh_read_vif(x, v) < 0) {
			failed(x, t, v, name, x->err);
			lock_release(&lk);
			return;
		}
	}
	if (!vif_connected(v)) {
		snprintf(why, sizeof(why), "hotplug-status is %s%s%s, not connected",
			 v->hotplug_status ? "'" : "",
			 v->hotplug_status ? v->hotplug_status : "unset",
			 v->hotplug_status ? "'" : "");
		skipped(x, t, LOG_DEBUG, v, name, why);
	} else if (v->mode == MODE_UNKNOWN) {
		char shown[96];
		snprintf(why, sizeof(why),
			 "its script (%s) is none of vif-bridge, vif-route and vif-nat, so its "
			 "rules are unknown",
			 v->script ? printable(v->script, shown, sizeof(shown)) : "no script node");
		skipped(x, t, LOG_WARNING, v, name, why);
	} else if (v->problem[0]) {
		failed(x, t, v, v->n_devs ? v->devs[0].name : name, v->problem);
	} else {
		for (size_t i = 0; i < v->n_devs; i++)
			restore_dev(x, t, v, &v->devs[i]);
	}
	lock_release(&lk);
}

int xnh_resync(struct xnh *x)
{
	struct tally t = {0};
	struct store_vif *vifs = NULL;
	size_t n = 0;
	bool store_failed = false;
	char err[512];

	if (x->fw.backend == FW_NONE) {
		printf("firewall=none: there are no rules to restore\n");
		return 0;
	}
	if (xnh_store_open(x) < 0 || xnh_list_vifs(x, &vifs, &n) < 0) {
		/* The policies do not depend on the store: they are put back all the same. */
		log_msg(&x->log, LOG_ERR, "%s: no vif's rules could be restored", x->err);
		store_failed = true;
	}
	for (size_t i = 0; i < n; i++) {
		resync_vif(x, &t, &vifs[i]);
		store_vif_free(&vifs[i]);
	}
	free(vifs);

	bool policies_failed = false;
	if (xnh_step(x,
		     "put back the policies network-nat and network-bridge recorded "
		     "(masquerade, antispoof) where they are missing (firewall=%s)",
		     fw_backend_name(x->fw.backend)) &&
	    fw_restore_policies(&x->fw, err, sizeof(err)) < 0) {
		log_msg(&x->log, LOG_ERR, "cannot put back the host-wide policies: %s", err);
		policies_failed = true;
	}
	if (!x->params.dry_run)
		printf("%zu restored, %zu skipped, %zu failed\n", t.restored, t.skipped, t.failed);
	if (t.failed)
		log_msg(&x->log, LOG_ERR, "the rules of %s could not be restored", t.failed_names);
	/* What was restored stays (it is what the vifs should have); the rest is left out. */
	if (sig_caught()) {
		log_msg(&x->log, LOG_ERR,
			"resync interrupted by %s: the vifs not reached yet were left as they "
			"were; run it again",
			sig_caught_name());
		return sig_exit_status();
	}
	return store_failed || policies_failed || t.failed ? 1 : 0;
}
