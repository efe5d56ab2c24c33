/* Links and bridges through libnl-route-3: look up, rename, MAC, MTU, up/down, bridge ports. */
#include "link.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

int net_open(struct net *n)
{
	int err;

	n->sk = nl_socket_alloc();
	if (!n->sk)
		return -NLE_NOMEM;
	err = nl_connect(n->sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(n->sk);
		n->sk = NULL;
	}
	return err;
}

void net_close(struct net *n)
{
	if (n->sk)
		nl_socket_free(n->sk);
	n->sk = NULL;
}

int net_unwind(struct net *n, struct undo *u, void (*report)(void *ctx, const char *what, int err))
{
	net_close(n);
	if (net_open(n) < 0) {
		int left = (int)u->n;
		undo_commit(u);
		return left;
	}
	return undo_unwind(u, n, report);
}

const char *net_error(int err)
{
	return nl_geterror(err);
}

static void state_from(struct rtnl_link *rl, struct link_state *out)
{
	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(rl);
	out->master = rtnl_link_get_master(rl);
	out->mtu = rtnl_link_get_mtu(rl);
	out->up = rtnl_link_get_flags(rl) & IFF_UP;
	out->noarp = rtnl_link_get_flags(rl) & IFF_NOARP;
	const char *type = rtnl_link_get_type(rl);
	out->is_bridge = type && !strcmp(type, "bridge");
	struct nl_addr *a = rtnl_link_get_addr(rl);
	if (a && nl_addr_get_len(a) == 6)
		memcpy(out->mac, nl_addr_get_binary_addr(a), 6);
	const char *name = rtnl_link_get_name(rl);
	if (name)
		strncpy(out->name, name, IFNAME_MAX);
}

static int get(struct net *n, int ifindex, const char *name, struct link_state *out)
{
	struct rtnl_link *rl = NULL;
	int err = rtnl_link_get_kernel(n->sk, ifindex, name, &rl);

	if (err < 0)
		return err;
	state_from(rl, out);
	rtnl_link_put(rl);
	return 0;
}

int link_get(struct net *n, const char *name, struct link_state *out)
{
	return get(n, 0, name, out);
}

int link_get_index(struct net *n, int ifindex, struct link_state *out)
{
	return get(n, ifindex, NULL, out);
}

/* Apply the attributes set in change to the link with this index. */
static int apply(struct net *n, int ifindex, struct rtnl_link *change)
{
	struct rtnl_link *orig = rtnl_link_alloc();
	int err;

	if (!orig) {
		rtnl_link_put(change);
		return -NLE_NOMEM;
	}
	rtnl_link_set_ifindex(orig, ifindex);
	err = rtnl_link_change(n->sk, orig, change, 0);
	rtnl_link_put(orig);
	rtnl_link_put(change);
	return err;
}

static struct rtnl_link *change_alloc(void)
{
	return rtnl_link_alloc();
}

static int set_up(struct net *n, int ifindex, bool up)
{
	struct rtnl_link *c = change_alloc();
	if (!c)
		return -NLE_NOMEM;
	if (up)
		rtnl_link_set_flags(c, IFF_UP);
	else
		rtnl_link_unset_flags(c, IFF_UP);
	return apply(n, ifindex, c);
}

static int set_arp(struct net *n, int ifindex, bool arp)
{
	struct rtnl_link *c = change_alloc();
	if (!c)
		return -NLE_NOMEM;
	if (arp)
		rtnl_link_unset_flags(c, IFF_NOARP);
	else
		rtnl_link_set_flags(c, IFF_NOARP);
	return apply(n, ifindex, c);
}

static int set_mac(struct net *n, int ifindex, const uint8_t mac[6])
{
	struct rtnl_link *c = change_alloc();
	struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
	if (!c || !a) {
		if (c)
			rtnl_link_put(c);
		nl_addr_put(a);
		return -NLE_NOMEM;
	}
	rtnl_link_set_addr(c, a);
	nl_addr_put(a);
	return apply(n, ifindex, c);
}

static int set_mtu(struct net *n, int ifindex, unsigned mtu)
{
	struct rtnl_link *c = change_alloc();
	if (!c)
		return -NLE_NOMEM;
	rtnl_link_set_mtu(c, mtu);
	return apply(n, ifindex, c);
}

static int set_name(struct net *n, int ifindex, const char *name)
{
	struct rtnl_link *c = change_alloc();
	if (!c)
		return -NLE_NOMEM;
	rtnl_link_set_name(c, name);
	return apply(n, ifindex, c);
}

static int set_master(struct net *n, int ifindex, int master)
{
	struct rtnl_link *c = change_alloc();
	if (!c)
		return -NLE_NOMEM;
	rtnl_link_set_master(c, master);
	return apply(n, ifindex, c);
}

/* Undo arguments: the link's index and the value to put back. */
struct undo_int {
	int ifindex;
	int value;
};
struct undo_mac {
	int ifindex;
	uint8_t mac[6];
};
struct undo_name {
	int ifindex;
	char name[IFNAME_MAX + 1];
};

static int undo_up(void *ctx, const void *arg)
{
	const struct undo_int *a = arg;
	return set_up(ctx, a->ifindex, a->value);
}

static int undo_arp(void *ctx, const void *arg)
{
	const struct undo_int *a = arg;
	return set_arp(ctx, a->ifindex, a->value);
}

static int undo_mtu(void *ctx, const void *arg)
{
	const struct undo_int *a = arg;
	return set_mtu(ctx, a->ifindex, (unsigned)a->value);
}

static int undo_master(void *ctx, const void *arg)
{
	const struct undo_int *a = arg;
	return set_master(ctx, a->ifindex, a->value);
}

static int undo_mac(void *ctx, const void *arg)
{
	const struct undo_mac *a = arg;
	return set_mac(ctx, a->ifindex, a->mac);
}

static int undo_name(void *ctx, const void *arg)
{
	const struct undo_name *a = arg;
	return set_name(ctx, a->ifindex, a->name);
}

/* Register the inverse of a change that succeeded; a full journal is a program bug. */
static int record(struct undo *u, int err, undo_fn fn, const void *arg, size_t len,
		  const char *what)
{
	if (err < 0 || !u)
		return err;
	return undo_push(u, fn, arg, len, what) ? -NLE_NOMEM : 0;
}

int link_set_up(struct net *n, struct undo *u, const struct link_state *l, bool up)
{
	struct undo_int a = {l->ifindex, l->up};
	if (l->up == up)
		return 0;
	return record(u, set_up(n, l->ifindex, up), undo_up, &a, sizeof(a), "link up/down state");
}

int link_set_arp(struct net *n, struct undo *u, const struct link_state *l, bool arp)
{
	struct undo_int a = {l->ifindex, !l->noarp};
	if (!l->noarp == arp)
		return 0;
	return record(u, set_arp(n, l->ifindex, arp), undo_arp, &a, sizeof(a), "ARP flag");
}

int link_set_mac(struct net *n, struct undo *u, const struct link_state *l, const uint8_t mac[6])
{
	struct undo_mac a = {.ifindex = l->ifindex};
	if (!memcmp(l->mac, mac, 6))
		return 0;
	memcpy(a.mac, l->mac, 6);
	return record(u, set_mac(n, l->ifindex, mac), undo_mac, &a, sizeof(a), "MAC address");
}

int link_set_mtu(struct net *n, struct undo *u, const struct link_state *l, unsigned mtu)
{
	struct undo_int a = {l->ifindex, (int)l->mtu};
	if (l->mtu == mtu)
		return 0;
	return record(u, set_mtu(n, l->ifindex, mtu), undo_mtu, &a, sizeof(a), "MTU");
}

int link_rename(struct net *n, struct undo *u, const struct link_state *l, const char *name)
{
	struct undo_name a = {.ifindex = l->ifindex};
	if (!strcmp(l->name, name))
		return 0;
	memcpy(a.name, l->name, sizeof(a.name));
	return record(u, set_name(n, l->ifindex, name), undo_name, &a, sizeof(a), "name");
}

int link_set_master(struct net *n, struct undo *u, const struct link_state *l, int master)
{
	struct undo_int a = {l->ifindex, l->master};
	if (l->master == master)
		return 0;
	return record(u, set_master(n, l->ifindex, master), undo_master, &a, sizeof(a),
		      "bridge membership");
}

struct addr_saved {
	size_t n;
	struct rtnl_addr *addrs[];
};

void addr_saved_free(struct addr_saved *saved)
{
	if (!saved)
		return;
	for (size_t i = 0; i < saved->n; i++)
		rtnl_addr_put(saved->addrs[i]);
	free(saved);
}

struct undo_addrs {
	struct addr_saved *saved;
};

static int undo_flush(void *ctx, const void *arg)
{
	const struct undo_addrs *a = arg;
	struct net *n = ctx;
	int result = 0;

	for (size_t i = 0; i < a->saved->n; i++) {
		int err = rtnl_addr_add(n->sk, a->saved->addrs[i], NLM_F_REPLACE);
		if (err < 0)
			result = err;
	}
	return result;
}

struct addr_collect {
	int ifindex;
	size_t n, cap;
	struct rtnl_addr **v;
	int err;
};

static void collect_addr(struct nl_object *o, void *arg)
{
	struct addr_collect *c = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	if (rtnl_addr_get_ifindex(a) != c->ifindex)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct rtnl_addr **v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = -NLE_NOMEM;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	nl_object_get(o);
	c->v[c->n++] = a;
}

struct dump_cb {
	void (*fn)(struct nl_object *, void *);
	void *arg;
	int err;
};

static int parse_dumped(struct nl_msg *msg, void *arg)
{
	struct dump_cb *d = arg;
	int err = nl_msg_parse(msg, d->fn, d->arg);
	if (err < 0 && !d->err)
		d->err = err;
	return NL_OK;
}

int link_dump(int type, int family, int ifindex, void (*fn)(struct nl_object *, void *), void *arg)
{
	struct dump_cb d = {fn, arg, 0};
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	int one = 1, err = -NLE_NOMEM;

	if (!sk)
		return err;
	if ((err = nl_connect(sk, NETLINK_ROUTE)) < 0)
		goto out;
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	err = -NLE_NOMEM;
	if (!(msg = nlmsg_alloc_simple(type, NLM_F_DUMP)))
		goto out;
	if (type == RTM_GETADDR) {
		struct ifaddrmsg ifa = {.ifa_family = (uint8_t)family,
					.ifa_index = (uint32_t)ifindex};
		if (nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0)
			goto out;
	} else if (type == RTM_GETNEIGH) {
		/* The proxy entries; strict checking wants the link as an attribute. */
		struct ndmsg ndm = {.ndm_family = (uint8_t)family, .ndm_flags = NTF_PROXY};
		if (nlmsg_append(msg, &ndm, sizeof(ndm), NLMSG_ALIGNTO) < 0 ||
		    (ifindex > 0 && nla_put_u32(msg, NDA_IFINDEX, (uint32_t)ifindex) < 0))
			goto out;
	} else {
		struct rtmsg rtm = {.rtm_family = (uint8_t)family, .rtm_table = RT_TABLE_MAIN};
		if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
		    nla_put_u32(msg, RTA_OIF, (uint32_t)ifindex) < 0)
			goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, parse_dumped, &d);
	if ((err = nl_send_auto(sk, msg)) >= 0 && (err = nl_recvmsgs_default(sk)) >= 0)
		err = d.err;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return err < 0 ? err : 0;
}

int addr_save(const struct link_state *l, struct addr_saved **saved)
{
	struct addr_collect c = {.ifindex = l->ifindex};
	int err;

	*saved = NULL;
	if ((err = link_dump(RTM_GETADDR, AF_UNSPEC, l->ifindex, collect_addr, &c)) < 0 ||
	    (err = c.err) < 0)
		goto out;
	struct addr_saved *s = calloc(1, sizeof(*s) + c.n * sizeof(s->addrs[0]));
	if (!s) {
		err = -NLE_NOMEM;
		goto out;
	}
	if (c.n)
		memcpy(s->addrs, c.v, c.n * sizeof(c.v[0]));
	s->n = c.n;
	c.n = 0;
	*saved = s;
	err = 0;
out:
	for (size_t i = 0; i < c.n; i++)
		rtnl_addr_put(c.v[i]);
	free(c.v);
	return err;
}

int addr_flush(struct net *n, struct undo *u, struct addr_saved *saved)
{
	struct undo_addrs ua = {saved};

	if (!saved || !saved->n)
		return 0;
	if (u && undo_push(u, undo_flush, &ua, sizeof(ua), "addresses"))
		return -NLE_NOMEM;
	for (size_t i = 0; i < saved->n; i++) {
		int err = rtnl_addr_delete(n->sk, saved->addrs[i], 0);
		/* Gone already: a primary IPv4 address takes its secondaries, down takes IPv6. */
		if (err < 0 && err != -NLE_NOADDR && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
			return err;
	}
	return 0;
}

/* Every link for which keep() holds, from one dump, in *out (malloc'd). */
static int link_list(struct net *n, bool (*keep)(const struct link_state *, int), int arg,
		     struct link_state **out, size_t *count)
{
	struct nl_cache *cache = NULL;
	int err = rtnl_link_alloc_cache(n->sk, AF_UNSPEC, &cache);

	*out = NULL;
	*count = 0;
	if (err < 0)
		return err;
	struct link_state *v = calloc((size_t)nl_cache_nitems(cache) + 1, sizeof(*v));
	if (!v) {
		nl_cache_free(cache);
		return -NLE_NOMEM;
	}
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		state_from((struct rtnl_link *)o, &v[*count]);
		if (keep(&v[*count], arg))
			(*count)++;
	}
	nl_cache_free(cache);
	*out = v;
	return 0;
}

static bool is_bridge_link(const struct link_state *l, int unused)
{
	(void)unused;
	return l->is_bridge;
}

static bool is_port_of(const struct link_state *l, int bridge)
{
	return l->master == bridge;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct link_state *)a)->name, ((const struct link_state *)b)->name);
}

int bridge_list(struct net *n, struct link_state **bridges, size_t *count)
{
	int err = link_list(n, is_bridge_link, 0, bridges, count);
	if (err == 0)
		qsort(*bridges, *count, sizeof(**bridges), name_cmp);
	return err;
}

int bridge_ports(struct net *n, int bridge, struct link_state **ports, size_t *count)
{
	return link_list(n, is_port_of, bridge, ports, count);
}

static int undo_delete(void *ctx, const void *arg)
{
	const struct undo_int *a = arg;
	int err = link_delete(ctx, a->ifindex);
	return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV ? 0 : err;
}

int link_delete(struct net *n, int ifindex)
{
	struct rtnl_link *l = rtnl_link_alloc();
	if (!l)
		return -NLE_NOMEM;
	rtnl_link_set_ifindex(l, ifindex);
	int err = rtnl_link_delete(n->sk, l);
	rtnl_link_put(l);
	return err;
}

int bridge_create(struct net *n, struct undo *u, const char *name, const uint8_t mac[6],
		  unsigned mtu, int ifindex, struct link_state *out)
{
	/* libnl has no setters for the bridge's own options: build the request by hand. */
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info, *data;
	int err = -NLE_NOMEM;

	if (!msg)
		return err;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, IFLA_IFNAME, name) < 0 || nla_put(msg, IFLA_ADDRESS, 6, mac) < 0 ||
	    nla_put_u32(msg, IFLA_MTU, mtu) < 0 || !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 ||
	    !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
	    nla_put_u32(msg, IFLA_BR_STP_STATE, 0) < 0 ||
	    nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, 0) < 0)
		goto done;
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	if ((err = nl_send_auto(n->sk, msg)) < 0 || (err = nl_wait_for_ack(n->sk)) < 0)
		goto done;
	if (u || out) {
		struct link_state st;
		if ((err = link_get(n, name, &st)) < 0)
			goto done;
		struct undo_int a = {st.ifindex, 0};
		if (out)
			*out = st;
		err = record(u, 0, undo_delete, &a, sizeof(a), "bridge");
	}
done:
	nlmsg_free(msg);
	return err;
}

int bridge_port_state(struct net *n, int ifindex, int *state)
{
	struct nl_cache *cache = NULL;
	/* The bridge family's dump carries each port's STP state. */
	int err = rtnl_link_alloc_cache(n->sk, AF_BRIDGE, &cache);
	if (err < 0)
		return err;
	struct rtnl_link *l = rtnl_link_get(cache, ifindex);
	if (!l) {
		nl_cache_free(cache);
		return -NLE_OBJ_NOTFOUND;
	}
	*state = rtnl_link_bridge_get_port_state(l);
	rtnl_link_put(l);
	nl_cache_free(cache);
	return *state < 0 ? *state : 0;
}

struct undo_bridge {
	int ifindex;
	char name[IFNAME_MAX + 1];
	uint8_t mac[6];
	unsigned mtu;
};

static int undo_bridge_delete(void *ctx, const void *arg)
{
	const struct undo_bridge *a = arg;
	return bridge_create(ctx, NULL, a->name, a->mac, a->mtu, a->ifindex, NULL);
}

int bridge_delete(struct net *n, struct undo *u, const struct link_state *br)
{
	struct undo_bridge a = {.ifindex = br->ifindex, .mtu = br->mtu};
	memcpy(a.name, br->name, sizeof(a.name));
	memcpy(a.mac, br->mac, 6);
	return record(u, link_delete(n, br->ifindex), undo_bridge_delete, &a, sizeof(a), "bridge");
}
