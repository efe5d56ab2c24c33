/* xen-net-hooks status: the store's view of each vif beside the kernel's, and what mends each gap.
 */
#include "xen-net-hooks.h"
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 4

struct problem {
	char what[600];
	char mend[400];
};

/* One vif's row: what the store and the kernel say, and where they disagree. */
struct vif_row {
	struct store_vif v;
	int rules[2]; /* per device: 1 present, 0 missing, -1 not checked or unknown */
	struct problem problems[MAX_PROBLEMS];
	size_t n_problems;
};

/* A host-wide policy network-nat or network-bridge turned on, as the firewall records it. */
struct policy {
	const char *kind;	  /* "masquerade" or "antispoof" */
	const char *program;	  /* the program that turned it on */
	char dev[IFNAME_MAX + 1]; /* netdev, or the bridge */
	int installed;		  /* 1, 0, or -1 unknown */
	bool problem;
};

struct report {
	struct vif_row *rows;
	size_t n_rows;
	struct policy *policies;
	size_t n_policies;
	size_t disagreements;
	bool error;
};

static void add_problem(struct report *r, struct vif_row *row, const char *mend, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));

static void add_problem(struct report *r, struct vif_row *row, const char *mend, const char *fmt,
			...)
{
	if (row->n_problems == MAX_PROBLEMS)
		return;
	struct problem *p = &row->problems[row->n_problems++];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
	snprintf(p->mend, sizeof(p->mend), "%s", mend);
	r->disagreements++;
}

/* Does the device carry its vif's rules?  1, 0, or -1 when it cannot be told. */
static int rules_of(struct xnh *x, struct report *r, const struct store_vif *v,
		    const struct vif_dev *d)
{
	if (x->fw.backend == FW_NONE || v->mode == MODE_UNKNOWN || !d->exists)
		return -1;
	int in = fw_vif_installed(&x->fw, mode_routed(v->mode), d->name);
	if (in < 0) {
		log_msg(&x->log, LOG_ERR, "cannot read the firewall rules of %s: %s", d->name,
			strerror(-in));
		r->error = true;
		return -1;
	}
	return in;
}

/* The gaps between the store's view of a vif and the kernel's, each with its mend. */
static void judge(struct xnh *x, struct report *r, struct vif_row *row)
{
	struct store_vif *v = &row->v;
	const struct vif_dev *d = &v->devs[0];
	char online[400], offline[400];

	vif_program_command(x, v, "online", online, sizeof(online));
	vif_program_command(x, v, "offline", offline, sizeof(offline));
	if (v->problem[0]) {
		add_problem(r, row,
			    "correct it in the guest's vif configuration, then run "
			    "xen-net-hooks resync",
			    "%s", v->problem);
		return;
	}
	if (v->mode == MODE_UNKNOWN || !v->n_devs) {
		/* Another program's vif: nothing here knows what it should look like. */
		return;
	}
	if (!vif_connected(v)) {
		if (row->rules[0] == 1)
			add_problem(r, row, offline,
				    "%s has firewall rules but hotplug-status is %s%s%s, not "
				    "connected",
				    d->name, v->hotplug_status ? "'" : "",
				    v->hotplug_status ? v->hotplug_status : "unset",
				    v->hotplug_status ? "'" : "");
		return;
	}
	if (!d->exists) {
		add_problem(r, row, offline,
			    "hotplug-status is connected but the device %s does not exist",
			    d->name);
		return;
	}
	if (!d->link.up) {
		add_problem(r, row, online, "hotplug-status is connected but %s is down", d->name);
		return;
	}
	if (v->mode == MODE_BRIDGED && !d->master[0])
		add_problem(r, row, online, "%s is a port of no bridge", d->name);
	else if (v->mode == MODE_BRIDGED && v->bridge && *v->bridge &&
		 strcmp(v->bridge, d->master)) {
		/* xenbrN falls back to ethN in the rename layout (vif-bridge's find_bridge). */
		bool renamed = !strncmp(v->bridge, "xenbr", 5) && !strncmp(d->master, "eth", 3) &&
			       !strcmp(v->bridge + 5, d->master + 3);
		if (!renamed)
			add_problem(r, row, online,
				    "%s is a port of %s, but xenstore says bridge %s", d->name,
				    d->master, v->bridge);
	}
	for (size_t i = 0; i < v->n_devs; i++)
		if (row->rules[i] == 0 && v->devs[i].link.up)
			add_problem(r, row, "xen-net-hooks resync",
				    "the firewall rules of %s are missing", v->devs[i].name);
}

/* The vifs: each read, its devices' rules looked up, judged. */
static int collect_vifs(struct xnh *x, struct report *r)
{
	struct store_vif *vifs;
	size_t n;

	if (xnh_store_open(x) < 0 || xnh_list_vifs(x, &vifs, &n) < 0)
		return -1;
	r->rows = calloc(n ? n : 1, sizeof(*r->rows));
	if (!r->rows) {
		free(vifs);
		return xnh_fail(x, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct vif_row *row = &r->rows[r->n_rows++];
		row->v = vifs[i];
		if (xnh_read_vif(x, &row->v) < 0) {
			log_msg(&x->log, LOG_ERR, "%s", x->err);
			r->error = true;
		}
		row->rules[0] = row->rules[1] = -1;
		for (size_t j = 0; j < row->v.n_devs; j++)
			row->rules[j] = rules_of(x, r, &row->v, &row->v.devs[j]);
		judge(x, r, row);
	}
	free(vifs);
	return 0;
}

struct policy_walk {
	struct xnh *x;
	struct report *r;
};

static int add_policy(bool masquerade, const char *name, int installed, void *arg)
{
	struct policy_walk *w = arg;
	struct report *r = w->r;
	struct policy *grown = realloc(r->policies, (r->n_policies + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->policies = grown;
	struct policy *p = &r->policies[r->n_policies++];
	memset(p, 0, sizeof(*p));
	p->kind = masquerade ? "masquerade" : "antispoof";
	p->program = masquerade ? "network-nat" : "network-bridge";
	snprintf(p->dev, sizeof(p->dev), "%s", name);
	p->installed = installed < 0 ? -1 : installed;
	if (installed < 0) {
		log_msg(&w->x->log, LOG_ERR, "cannot read the %s policy of %s: %s", p->kind, name,
			strerror(-installed));
		r->error = true;
	} else if (!installed) {
		p->problem = true;
		r->disagreements++;
	}
	return 0;
}

/*
 * The policies the firewall recorded as on when network-nat and network-bridge turned them on
 * (the records resync puts back from), beside the kernel's.  nft only: the iptables backend
 * keeps no such record.
 */
static int collect_policies(struct xnh *x, struct report *r)
{
	struct policy_walk w = {x, r};
	int err = fw_recorded_policies(&x->fw, add_policy, &w);
	if (err < 0)
		return xnh_fail(x, "cannot read the recorded host-wide policies: %s",
				strerror(-err));
	return 0;
}

static void print_dev_json(const struct vif_dev *d, int rules)
{
	printf("{\"name\":");
	json_str(stdout, d->name);
	printf(",\"tap\":%s,\"exists\":%s", d->tap ? "true" : "false",
	       d->exists ? "true" : "false");
	printf(",\"up\":%s,\"master\":", d->exists && d->link.up ? "true" : "false");
	json_str(stdout, d->master[0] ? d->master : NULL);
	printf(",\"rules\":%s}", rules < 0 ? "null" : rules ? "true" : "false");
}

static void print_json(struct xnh *x, const struct report *r)
{
	char ips[512];
	printf("{\"firewall\":");
	json_str(stdout, fw_backend_name(x->fw.backend));
	printf(",\"vifs\":[");
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct vif_row *row = &r->rows[i];
		const struct store_vif *v = &row->v;
		printf("%s{\"domain\":%u,\"devid\":%u,\"backend\":", i ? "," : "", v->domid,
		       v->devid);
		json_str(stdout, v->backend);
		printf(",\"device\":");
		json_str(stdout, v->n_devs ? v->devs[0].name : NULL);
		printf(",\"mode\":");
		json_str(stdout, v->mode == MODE_UNKNOWN ? NULL : mode_name(v->mode));
		const char *keys[] = {"script", "bridge", "ip", "mac", "hotplug_status"};
		const char *values[] = {v->script, v->bridge, v->ip, v->mac, v->hotplug_status};
		for (size_t k = 0; k < 5; k++) {
			printf(",\"%s\":", keys[k]);
			json_str(stdout, values[k]);
		}
		printf(",\"connected\":%s,\"firewall_ips\":[", vif_connected(v) ? "true" : "false");
		for (size_t k = 0; !v->problem[0] && k < v->n_ips; k++) {
			ip_prefix_format(&v->ips[k], ips, sizeof(ips));
			printf("%s", k ? "," : "");
			json_str(stdout, ips);
		}
		printf("],\"devices\":[");
		for (size_t k = 0; k < v->n_devs; k++) {
			printf("%s", k ? "," : "");
			print_dev_json(&v->devs[k], row->rules[k]);
		}
		printf("],\"problems\":[");
		for (size_t k = 0; k < row->n_problems; k++) {
			printf("%s{\"problem\":", k ? "," : "");
			json_str(stdout, row->problems[k].what);
			printf(",\"mend\":");
			json_str(stdout, row->problems[k].mend);
			printf("}");
		}
		printf("]}");
	}
	printf("],\"policies\":[");
	for (size_t i = 0; i < r->n_policies; i++) {
		const struct policy *p = &r->policies[i];
		printf("%s{\"policy\":\"%s\",\"program\":\"%s\",\"dev\":", i ? "," : "", p->kind,
		       p->program);
		json_str(stdout, p->dev);
		printf(",\"installed\":%s,\"mend\":%s}",
		       p->installed < 0 ? "null"
		       : p->installed	? "true"
					: "false",
		       p->problem ? "\"xen-net-hooks resync\"" : "null");
	}
	printf("],\"disagreements\":%zu,\"agree\":%s}\n", r->disagreements,
	       r->disagreements ? "false" : "true");
}

/* "-" for what is absent, shown without control characters. */
static const char *cell(const char *s, char *buf, size_t len)
{
	return s && *s ? printable(s, buf, len) : "-";
}

/* The table: the store's columns, then the kernel's. */
#define ROW_FMT "%-8s %-15s %-8s %-10s %-20s %-17s %-10s | %-5s %-4s %-10s %s\n"

/* One line of the table: device k of a vif (the vif itself when it has no device name). */
static void print_row(const struct vif_row *row, size_t k)
{
	const struct store_vif *v = &row->v;
	const struct vif_dev *d = &v->devs[k];
	char vid[24], ip[520], ips[512], b1[64], b2[128], b3[64], b4[64];

	snprintf(vid, sizeof(vid), "%u.%u%s", v->domid, v->devid, d->tap ? "-emu" : "");
	/* NAT without an ip node: the address vif-nat derived, in brackets. */
	if (v->ip_derived && !v->problem[0]) {
		vif_ips_text(v, ips, sizeof(ips));
		snprintf(ip, sizeof(ip), "(%s)", ips);
	} else {
		snprintf(ip, sizeof(ip), "%s", cell(v->ip, b2, sizeof(b2)));
	}
	int rules = row->rules[k];
	printf(ROW_FMT, vid, v->n_devs ? d->name : "?",
	       v->mode == MODE_UNKNOWN ? "?" : mode_name(v->mode), cell(v->bridge, b1, sizeof(b1)),
	       ip, cell(v->mac, b3, sizeof(b3)), cell(v->hotplug_status, b4, sizeof(b4)),
	       d->exists ? "yes" : "no", d->exists ? (d->link.up ? "yes" : "no") : "-",
	       d->master[0] ? d->master : "-",
	       rules < 0 ? "-"
	       : rules	 ? "yes"
			 : "no");
}

static void print_text(struct xnh *x, const struct report *r)
{
	char shown[128];

	if (!r->n_rows)
		printf("no vifs in xenstore (%s)\n", XNH_BACKEND_DIR);
	else
		printf(ROW_FMT, "VIF", "DEVICE", "MODE", "BRIDGE", "IP", "MAC", "HOTPLUG", "LINK",
		       "UP", "MASTER", "RULES");
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct store_vif *v = &r->rows[i].v;
		for (size_t k = 0; k < (v->n_devs ? v->n_devs : 1); k++)
			print_row(&r->rows[i], k);
		if (v->mode == MODE_UNKNOWN && x->params.verbose)
			printf("  (%s: script %s is none of vif-bridge, vif-route and vif-nat: not "
			       "judged)\n",
			       v->backend, cell(v->script, shown, sizeof(shown)));
	}
	for (size_t i = 0; i < r->n_policies; i++) {
		const struct policy *p = &r->policies[i];
		printf("%s of %s (%s): %s\n", p->kind, p->dev, p->program,
		       p->installed < 0 ? "unknown"
		       : p->installed	? "present"
					: "missing");
	}
	if (!r->disagreements) {
		printf("everything agrees\n");
		return;
	}
	printf("%zu disagreement(s):\n", r->disagreements);
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct vif_row *row = &r->rows[i];
		for (size_t k = 0; k < row->n_problems; k++)
			printf("  vif%u.%u: %s\n    mend: %s\n", row->v.domid, row->v.devid,
			       row->problems[k].what, row->problems[k].mend);
	}
	for (size_t i = 0; i < r->n_policies; i++)
		if (r->policies[i].problem)
			printf("  the %s policy of %s is missing though %s turned it on\n    mend: "
			       "xen-net-hooks resync\n",
			       r->policies[i].kind, r->policies[i].dev, r->policies[i].program);
}

int xnh_status(struct xnh *x)
{
	struct report r = {0};

	if (collect_vifs(x, &r) < 0 || collect_policies(x, &r) < 0) {
		log_msg(&x->log, LOG_ERR, "%s", x->err);
		r.error = true;
	} else if (x->params.json) {
		print_json(x, &r);
	} else {
		print_text(x, &r);
	}
	for (size_t i = 0; i < r.n_rows; i++)
		store_vif_free(&r.rows[i].v);
	free(r.rows);
	free(r.policies);
	return r.error ? 2 : r.disagreements ? 1 : 0;
}
