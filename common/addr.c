/* Addresses and routes through libnl-route-3: list what a link carries, move it to another link. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

void netconf_free(struct netconf *c)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		rtnl_addr_put(c->addrs[i]);
	for (size_t i = 0; i < c->n_routes; i++)
		rtnl_route_put(c->routes[i]);
	free(c->addrs);
	free(c->routes);
	memset(c, 0, sizeof(*c));
}

static bool is_link_local6(struct rtnl_addr *a)
{
	struct nl_addr *local = rtnl_addr_get_local(a);
	const uint8_t *b = local ? nl_addr_get_binary_addr(local) : NULL;
	return rtnl_addr_get_family(a) == AF_INET6 && b && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

static bool route_via(struct rtnl_route *r, int ifindex)
{
	for (int i = 0; i < rtnl_route_get_nnexthops(r); i++)
		if (rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, i)) == ifindex)
			return true;
	return false;
}

/* Secondary IPv4 addresses after the primaries, so that they come back as secondaries. */
static int addr_order(const void *a, const void *b)
{
	struct rtnl_addr *x = *(struct rtnl_addr *const *)a, *y = *(struct rtnl_addr *const *)b;
	int sx = (rtnl_addr_get_flags(x) & IFA_F_SECONDARY) != 0;
	int sy = (rtnl_addr_get_flags(y) & IFA_F_SECONDARY) != 0;
	return sx - sy;
}

/* Routes without a gateway first: a gateway must be reachable when its route is added. */
static int route_order(const void *a, const void *b)
{
	struct rtnl_route *x = *(struct rtnl_route *const *)a, *y = *(struct rtnl_route *const *)b;
	struct rtnl_nexthop *nx = rtnl_route_nexthop_n(x, 0), *ny = rtnl_route_nexthop_n(y, 0);
	int gx = nx && rtnl_route_nh_get_gateway(nx), gy = ny && rtnl_route_nh_get_gateway(ny);
	return gx - gy;
}

int netconf_read(struct net *n, int ifindex, struct netconf *out)
{
	struct nl_cache *addrs = NULL, *routes = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = rtnl_addr_alloc_cache(n->sk, &addrs)) < 0)
		return err;
	if ((err = rtnl_route_alloc_cache(n->sk, AF_UNSPEC, 0, &routes)) < 0) {
		nl_cache_free(addrs);
		return err;
	}
	out->addrs = calloc((size_t)nl_cache_nitems(addrs) + 1, sizeof(*out->addrs));
	out->routes = calloc((size_t)nl_cache_nitems(routes) + 1, sizeof(*out->routes));
	if (!out->addrs || !out->routes) {
		err = -NLE_NOMEM;
		goto out;
	}
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		if (rtnl_addr_get_ifindex(a) != ifindex || is_link_local6(a))
			continue;
		int f = rtnl_addr_get_family(a);
		if (f != AF_INET && f != AF_INET6)
			continue;
		nl_object_get(o);
		out->addrs[out->n_addrs++] = a;
	}
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		int f = rtnl_route_get_family(r);
		/* The kernel makes these again when the addresses move. */
		if ((f != AF_INET && f != AF_INET6) || !route_via(r, ifindex) ||
		    rtnl_route_get_protocol(r) == RTPROT_KERNEL ||
		    (rtnl_route_get_flags(r) & RTM_F_CLONED))
			continue;
		nl_object_get(o);
		out->routes[out->n_routes++] = r;
	}
	qsort(out->addrs, out->n_addrs, sizeof(*out->addrs), addr_order);
	qsort(out->routes, out->n_routes, sizeof(*out->routes), route_order);
	err = 0;
out:
	nl_cache_free(addrs);
	nl_cache_free(routes);
	if (err)
		netconf_free(out);
	return err;
}

/* Undo arguments hold a reference to the object to put back or take away. */
struct undo_addr {
	struct rtnl_addr *addr;
};
struct undo_route {
	struct rtnl_route *route;
	bool add; /* the inverse adds it (true) or deletes it (false) */
};

static void release_addr(const void *arg)
{
	rtnl_addr_put(((const struct undo_addr *)arg)->addr);
}

static void release_route(const void *arg)
{
	rtnl_route_put(((const struct undo_route *)arg)->route);
}

static int undo_addr_del(void *ctx, const void *arg)
{
	const struct undo_addr *a = arg;
	struct net *n = ctx;
	int err = rtnl_addr_delete(n->sk, a->addr, 0);
	rtnl_addr_put(a->addr);
	return err == -NLE_NOADDR || err == -NLE_OBJ_NOTFOUND ? 0 : err;
}

static int undo_addr_add(void *ctx, const void *arg)
{
	const struct undo_addr *a = arg;
	struct net *n = ctx;
	int err = rtnl_addr_add(n->sk, a->addr, NLM_F_REPLACE);
	rtnl_addr_put(a->addr);
	return err;
}

static int undo_route(void *ctx, const void *arg)
{
	const struct undo_route *a = arg;
	struct net *n = ctx;
	int err = a->add ? rtnl_route_add(n->sk, a->route, NLM_F_REPLACE)
			 : rtnl_route_delete(n->sk, a->route, 0);
	rtnl_route_put(a->route);
	if (!a->add && (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOADDR))
		return 0;
	return err;
}

/* The label moves with the address: "eth0:1" on eth0 becomes "xenbr0:1" on xenbr0. */
static void relabel(struct rtnl_addr *a, const char *from, const char *to)
{
	const char *label = rtnl_addr_get_label(a);
	size_t fl = strlen(from);
	char buf[IFNAME_MAX + 1 + 16];
	if (!label || strncmp(label, from, fl) || (label[fl] && label[fl] != ':')) {
		rtnl_addr_set_label(a, to);
		return;
	}
	snprintf(buf, sizeof(buf), "%s%s", to, label + fl);
	buf[IFNAME_MAX] = '\0';
	rtnl_addr_set_label(a, buf);
}

/* A copy of the address for the link to (named to_name), as netconf_add_addrs adds it. */
static struct rtnl_addr *addr_moved(struct rtnl_addr *orig, int to, const char *from_name,
				    const char *to_name)
{
	struct rtnl_addr *a = (struct rtnl_addr *)nl_object_clone((struct nl_object *)orig);
	if (!a)
		return NULL;
	rtnl_addr_set_ifindex(a, to);
	if (rtnl_addr_get_family(a) == AF_INET)
		relabel(a, from_name, to_name);
	/* Secondary is the kernel's to decide, from the order the addresses arrive in. */
	rtnl_addr_unset_flags(a, IFA_F_SECONDARY);
	return a;
}

/* A copy of the route with its next hops through from going through to instead. */
static struct rtnl_route *route_moved(struct rtnl_route *orig, int from, int to)
{
	struct rtnl_route *r = (struct rtnl_route *)nl_object_clone((struct nl_object *)orig);
	if (!r)
		return NULL;
	for (int k = 0; k < rtnl_route_get_nnexthops(r); k++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, k);
		if (rtnl_route_nh_get_ifindex(nh) == from)
			rtnl_route_nh_set_ifindex(nh, to);
	}
	return r;
}

int netconf_add_addrs(struct net *n, struct undo *u, const struct netconf *c, int to,
		      const char *from_name, const char *to_name)
{
	for (size_t i = 0; i < c->n_addrs; i++) {
		struct rtnl_addr *a = addr_moved(c->addrs[i], to, from_name, to_name);
		if (!a)
			return -NLE_NOMEM;
		int err = rtnl_addr_add(n->sk, a, NLM_F_REPLACE);
		if (err < 0) {
			rtnl_addr_put(a);
			return err;
		}
		struct undo_addr ua = {a};
		if (undo_push_ref(u, undo_addr_del, release_addr, &ua, sizeof(ua), "addresses")) {
			rtnl_addr_put(a);
			return -NLE_NOMEM;
		}
	}
	return 0;
}

/*
 * An IPv6 address with a finite lifetime leaves its prefix route behind, set to expire, when
 * it goes; on a card whose addresses moved to the bridge, that route would draw the host's
 * traffic for the prefix away from the bridge.  Adding the address back makes it again.
 */
static void drop_prefix_route(struct net *n, struct rtnl_addr *a)
{
	struct nl_addr *local = rtnl_addr_get_local(a);
	if (rtnl_addr_get_family(a) != AF_INET6 || !local ||
	    rtnl_addr_get_valid_lifetime(a) == 0xffffffffu)
		return;
	struct nl_addr *dst = nl_addr_clone(local);
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	if (!dst || !r || !nh) {
		nl_addr_put(dst);
		if (r)
			rtnl_route_put(r);
		if (nh)
			rtnl_route_nh_free(nh);
		return;
	}
	/* The network address: the host bits cleared. */
	uint8_t *b = nl_addr_get_binary_addr(dst);
	unsigned plen = nl_addr_get_prefixlen(dst);
	for (unsigned bit = plen; bit < 128; bit++)
		b[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	rtnl_route_set_family(r, AF_INET6);
	rtnl_route_set_dst(r, dst);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_KERNEL);
	rtnl_route_nh_set_ifindex(nh, rtnl_addr_get_ifindex(a));
	rtnl_route_add_nexthop(r, nh);
	rtnl_route_delete(n->sk, r, 0); /* absent already: fine */
	rtnl_route_put(r);
	nl_addr_put(dst);
}

int netconf_remove_addrs(struct net *n, struct undo *u, const struct netconf *c)
{
	/* Secondaries first: removing a primary would take them along. */
	for (size_t i = c->n_addrs; i-- > 0;) {
		struct rtnl_addr *a = c->addrs[i];
		int err = rtnl_addr_delete(n->sk, a, 0);
		if (err == -NLE_NOADDR || err == -NLE_OBJ_NOTFOUND)
			continue;
		if (err < 0)
			return err;
		nl_object_get((struct nl_object *)a);
		struct undo_addr ua = {a};
		if (undo_push_ref(u, undo_addr_add, release_addr, &ua, sizeof(ua), "addresses")) {
			rtnl_addr_put(a);
			return -NLE_NOMEM;
		}
		drop_prefix_route(n, a);
	}
	return 0;
}

static int push_route(struct undo *u, struct rtnl_route *r, bool add)
{
	struct undo_route ur = {r, add};
	nl_object_get((struct nl_object *)r);
	if (undo_push_ref(u, undo_route, release_route, &ur, sizeof(ur), "routes")) {
		rtnl_route_put(r);
		return -NLE_NOMEM;
	}
	return 0;
}

int netconf_move_routes(struct net *n, struct undo *u, const struct netconf *c, int from, int to)
{
	for (size_t i = 0; i < c->n_routes; i++) {
		struct rtnl_route *old = c->routes[i];
		struct rtnl_route *r = route_moved(old, from, to);
		if (!r)
			return -NLE_NOMEM;
		/* Deleted first: the same route through another link would be a duplicate. */
		int err = rtnl_route_delete(n->sk, old, 0);
		if (err < 0 && err != -NLE_OBJ_NOTFOUND) {
			rtnl_route_put(r);
			return err;
		}
		if (err == 0 && (err = push_route(u, old, true)) < 0) {
			rtnl_route_put(r);
			return err;
		}
		if (to <= 0) {
			rtnl_route_put(r);
			continue;
		}
		err = rtnl_route_add(n->sk, r, NLM_F_EXCL);
		if (err == 0)
			err = push_route(u, r, false);
		rtnl_route_put(r);
		if (err < 0)
			return err;
	}
	return 0;
}

int netconf_restore_routes(struct net *n, const struct netconf *c)
{
	for (size_t i = 0; i < c->n_routes; i++) {
		int err = rtnl_route_add(n->sk, c->routes[i], NLM_F_EXCL);
		if (err < 0 && err != -NLE_EXIST)
			return err;
	}
	return 0;
}

/* One line: the kind, a space, the netlink message in hex. */
static int put_msg(FILE *f, const char *kind, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const unsigned char *b = (const unsigned char *)h;
	fprintf(f, "%s ", kind);
	for (uint32_t i = 0; i < h->nlmsg_len; i++)
		fprintf(f, "%02x", b[i]);
	fputc('\n', f);
	return ferror(f) ? -NLE_NOMEM : 0;
}

int netconf_write(FILE *f, const struct netconf *c, int from, int to, const char *from_name,
		  const char *to_name)
{
	int err = 0;
	for (size_t i = 0; i < c->n_addrs && !err; i++) {
		struct rtnl_addr *a = addr_moved(c->addrs[i], to, from_name, to_name);
		struct nl_msg *msg = NULL;
		if (!a)
			return -NLE_NOMEM;
		if ((err = rtnl_addr_build_add_request(a, NLM_F_REPLACE, &msg)) == 0)
			err = put_msg(f, "addr", msg);
		nlmsg_free(msg);
		rtnl_addr_put(a);
	}
	for (size_t i = 0; i < c->n_routes && !err; i++) {
		struct rtnl_route *r = route_moved(c->routes[i], from, to);
		struct nl_msg *msg = NULL;
		if (!r)
			return -NLE_NOMEM;
		if ((err = rtnl_route_build_add_request(r, NLM_F_EXCL, &msg)) == 0)
			err = put_msg(f, "route", msg);
		nlmsg_free(msg);
		rtnl_route_put(r);
	}
	return err;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

struct parsed {
	struct nl_object *obj;
};

static void take_object(struct nl_object *o, void *arg)
{
	struct parsed *p = arg;
	if (!p->obj) {
		nl_object_get(o);
		p->obj = o;
	}
}

/* Append o to the array *v of *n, taking the reference. */
static int append(void ***v, size_t *n, void *o)
{
	void **grown = realloc(*v, (*n + 2) * sizeof(**v));
	if (!grown)
		return -NLE_NOMEM;
	grown[(*n)++] = o;
	grown[*n] = NULL;
	*v = grown;
	return 0;
}

/* An attribute's type as libnl reads it: without the nested and byte order flags. */
static int rta_kind(const struct rtattr *a)
{
	return a->rta_type & NLA_TYPE_MASK;
}

/* RTA_VIA's payload is the family (2 bytes) and the address; libnl takes its length less
 * those 2 bytes as the address's without a check, so a shorter one would be a negative size. */
static bool via_sane(const struct rtattr *a)
{
	return rta_kind(a) != RTA_VIA || RTA_PAYLOAD(a) >= offsetof(struct rtvia, rtvia_addr);
}

/*
 * A route message as the kernel makes them, as far as libnl's parser trusts it: every
 * attribute within the message, every multipath next hop within its attribute, and every
 * RTA_VIA, also a next hop's, long enough for its family.  A record is only ever written from the
 * kernel's own messages; one that fails this was garbled since.
 */
static bool route_sane(const struct nlmsghdr *h)
{
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return false;
	int left = (int)RTM_PAYLOAD(h);
	for (const struct rtattr *a = RTM_RTA(NLMSG_DATA(h)); left > 0; a = RTA_NEXT(a, left)) {
		if (!RTA_OK(a, left) || !via_sane(a))
			return false;
		if (rta_kind(a) != RTA_MULTIPATH)
			continue;
		int hops = (int)RTA_PAYLOAD(a);
		for (const struct rtnexthop *nh = RTA_DATA(a); hops > 0; nh = RTNH_NEXT(nh)) {
			/* Padded within the attribute too, as the kernel writes it: libnl
			 * counts the padded length off an unsigned rest. */
			if (!RTNH_OK(nh, hops) || (int)RTNH_ALIGN(nh->rtnh_len) > hops)
				return false;
			int in = (int)nh->rtnh_len - (int)RTNH_LENGTH(0);
			for (const struct rtattr *b = RTNH_DATA(nh); in > 0; b = RTA_NEXT(b, in))
				if (!RTA_OK(b, in) || !via_sane(b))
					return false;
			hops -= (int)RTNH_ALIGN(nh->rtnh_len);
		}
	}
	return true;
}

int netconf_parse_line(struct netconf *c, const char *line)
{
	bool addr = !strncmp(line, "addr ", 5);
	if (!addr && strncmp(line, "route ", 6))
		return -NLE_INVAL;
	const char *hex = line + (addr ? 5 : 6);
	size_t len = strcspn(hex, "\n");
	if (len % 2 || len / 2 < sizeof(struct nlmsghdr) || len / 2 > 65536)
		return -NLE_INVAL;
	unsigned char *b = malloc(len / 2);
	if (!b)
		return -NLE_NOMEM;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return -NLE_INVAL;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	struct nlmsghdr *h = (struct nlmsghdr *)b;
	uint16_t want = addr ? RTM_NEWADDR : RTM_NEWROUTE;
	struct nl_msg *msg = NULL;
	struct parsed p = {NULL};
	int err = -NLE_INVAL;
	if (h->nlmsg_len == len / 2 && h->nlmsg_type == want && (addr || route_sane(h)) &&
	    (msg = nlmsg_convert(h))) {
		/* The parser is found by protocol and type. */
		nlmsg_set_proto(msg, NETLINK_ROUTE);
		err = nl_msg_parse(msg, take_object, &p);
	}
	nlmsg_free(msg);
	free(b);
	if (err >= 0 && !p.obj)
		err = -NLE_INVAL;
	if (err < 0) {
		if (p.obj)
			nl_object_put(p.obj);
		return err;
	}
	err = addr ? append((void ***)&c->addrs, &c->n_addrs, p.obj)
		   : append((void ***)&c->routes, &c->n_routes, p.obj);
	if (err < 0)
		nl_object_put(p.obj);
	return err;
}

/*
 * The IPv4 default route's device by the kernel's own lookup (fib match) of 255.255.255.254, an
 * address (class E) that no other route of an ordinary host covers: one answer, where a dump
 * grows with every routed guest's host route. 0 when the answer is not a main-table unicast
 * default route (a class E route, a policy rule, no answer): the caller looks through the table.
 */
static int fib_default(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	struct rtnl_route *r = NULL;
	unsigned char *buf = NULL;
	struct sockaddr_nl peer;
	int ifindex = 0;

	if (!sk)
		return 0;
	/* RTM_F_LOOKUP_TABLE: the answer names the table the lookup used, else it says main. */
	struct rtmsg rtm = {.rtm_family = AF_INET,
			    .rtm_dst_len = 32,
			    .rtm_flags = RTM_F_FIB_MATCH | RTM_F_LOOKUP_TABLE};
	if (nl_connect(sk, NETLINK_ROUTE) < 0 || !(msg = nlmsg_alloc_simple(RTM_GETROUTE, 0)) ||
	    nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, RTA_DST, htonl(0xfffffffeu)) < 0 || nl_send_auto(sk, msg) < 0)
		goto out;
	int len = nl_recv(sk, &peer, &buf, NULL);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (len <= 0 || !nlmsg_ok(h, len) || h->nlmsg_type != RTM_NEWROUTE ||
	    rtnl_route_parse(h, &r) < 0)
		goto out;
	struct nl_addr *dst = rtnl_route_get_dst(r);
	if (rtnl_route_get_table(r) == RT_TABLE_MAIN && (!dst || !nl_addr_get_prefixlen(dst)) &&
	    rtnl_route_get_type(r) == RTN_UNICAST && rtnl_route_get_nnexthops(r) >= 1)
		ifindex = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
out:
	if (r)
		rtnl_route_put(r);
	free(buf);
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ifindex > 0 ? ifindex : 0;
}

int route_default_link(struct net *n, struct link_state *out)
{
	struct nl_cache *routes = NULL;
	int best = fib_default();
	uint32_t best_prio = UINT32_MAX;

	if (best)
		return link_get_index(n, best, out);
	int err = rtnl_route_alloc_cache(n->sk, AF_INET, 0, &routes);
	if (err < 0)
		return err;
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(r);
		if (rtnl_route_get_table(r) != RT_TABLE_MAIN ||
		    (dst && nl_addr_get_prefixlen(dst)) || rtnl_route_get_type(r) != RTN_UNICAST ||
		    rtnl_route_get_nnexthops(r) < 1)
			continue;
		if (rtnl_route_get_priority(r) < best_prio) {
			best_prio = rtnl_route_get_priority(r);
			best = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
		}
	}
	nl_cache_free(routes);
	if (!best)
		return -NLE_OBJ_NOTFOUND;
	return link_get_index(n, best, out);
}

int route_default_dev(struct net *n, char name[IFNAME_MAX + 1])
{
	struct link_state st;
	int err = route_default_link(n, &st);
	if (err == 0)
		memcpy(name, st.name, IFNAME_MAX + 1);
	return err;
}

struct primary4 {
	int ifindex;
	struct in_addr *out;
	bool found;
};

static void first_primary4(struct nl_object *o, void *arg)
{
	struct primary4 *p = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	struct nl_addr *local = rtnl_addr_get_local(a);
	if (p->found || rtnl_addr_get_ifindex(a) != p->ifindex ||
	    rtnl_addr_get_family(a) != AF_INET || (rtnl_addr_get_flags(a) & IFA_F_SECONDARY) ||
	    !local || nl_addr_get_len(local) != 4)
		return;
	memcpy(p->out, nl_addr_get_binary_addr(local), 4);
	p->found = true;
}

int addr_primary4(int ifindex, struct in_addr *out)
{
	struct primary4 p = {ifindex, out, false};
	int err = link_dump(RTM_GETADDR, AF_INET, ifindex, first_primary4, &p);
	return err < 0 ? err : p.found ? 0 : -NLE_NOADDR;
}

/* An nl_addr of p, host bits cleared when network is set. */
static struct nl_addr *prefix_addr(const struct ip_prefix *p, bool network)
{
	uint8_t b[16];
	size_t len = p->family == AF_INET ? 4 : 16;
	memcpy(b, &p->addr, len);
	for (unsigned bit = p->len; network && bit < len * 8; bit++)
		b[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	struct nl_addr *a = nl_addr_build(p->family, b, len);
	if (a)
		nl_addr_set_prefixlen(a, p->len);
	return a;
}

int addr_add_prefix(struct net *n, struct undo *u, int ifindex, const struct ip_prefix *p)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = prefix_addr(p, false);
	if (!a || !local) {
		if (a)
			rtnl_addr_put(a);
		nl_addr_put(local);
		return -NLE_NOMEM;
	}
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, p->family);
	int err = rtnl_addr_set_local(a, local);
	nl_addr_put(local);
	if (err == 0)
		err = rtnl_addr_add(n->sk, a, NLM_F_EXCL);
	if (err == -NLE_EXIST) {
		rtnl_addr_put(a);
		return 0;
	}
	if (err < 0 || !u) {
		rtnl_addr_put(a);
		return err;
	}
	struct undo_addr ua = {a};
	if (undo_push_ref(u, undo_addr_del, release_addr, &ua, sizeof(ua), "address")) {
		rtnl_addr_put(a);
		return -NLE_NOMEM;
	}
	return 0;
}

/* The route `ip route add dst dev <link> [src src] metric metric` makes. */
static struct rtnl_route *route_via_link(int ifindex, const struct ip_prefix *dst,
					 const struct in_addr *src, unsigned metric)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = prefix_addr(dst, true);
	struct nl_addr *s = src ? nl_addr_build(AF_INET, src, 4) : NULL;
	if (!r || !nh || !d || (src && !s)) {
		if (r)
			rtnl_route_put(r);
		if (nh)
			rtnl_route_nh_free(nh);
		nl_addr_put(d);
		nl_addr_put(s);
		return NULL;
	}
	rtnl_route_set_family(r, dst->family);
	rtnl_route_set_dst(r, d);
	nl_addr_put(d);
	if (s) {
		rtnl_route_set_pref_src(r, s);
		nl_addr_put(s);
	}
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_BOOT);
	rtnl_route_set_scope(r, RT_SCOPE_LINK);
	rtnl_route_set_type(r, RTN_UNICAST);
	rtnl_route_set_priority(r, metric);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh);
	return r;
}

/* Routes of the main table through one link, and what is looked for among them. */
struct via {
	int ifindex;
	struct rtnl_route *like; /* NULL: any route; else the same destination and metric */
	bool found;
};

static void route_match(struct nl_object *o, void *arg)
{
	struct via *v = arg;
	struct rtnl_route *r = (struct rtnl_route *)o;
	if (rtnl_route_get_table(r) != RT_TABLE_MAIN || !route_via(r, v->ifindex))
		return;
	v->found |= !v->like || (rtnl_route_get_priority(r) == rtnl_route_get_priority(v->like) &&
				 !nl_addr_cmp(rtnl_route_get_dst(r), rtnl_route_get_dst(v->like)));
}

static int route_through(int family, int ifindex, struct rtnl_route *like)
{
	struct via v = {ifindex, like, false};
	int err = link_dump(RTM_GETROUTE, family, ifindex, route_match, &v);
	return err < 0 ? err : v.found;
}

int route_add_via(struct net *n, struct undo *u, int ifindex, const struct ip_prefix *dst,
		  const struct in_addr *src, unsigned metric)
{
	/* IPv6 routes take no IPv4 source. */
	struct rtnl_route *r =
	    route_via_link(ifindex, dst, dst->family == AF_INET ? src : NULL, metric);
	if (!r)
		return -NLE_NOMEM;
	int err = rtnl_route_add(n->sk, r, NLM_F_EXCL);
	if (err == 0 && u)
		err = push_route(u, r, false);
	else if (err == -NLE_EXIST) /* IPv4 says so too when the route goes through another link */
		err = route_through(dst->family, ifindex, r) == 1 ? 0 : -NLE_EXIST;
	rtnl_route_put(r);
	return err;
}

int route_del_via(struct net *n, int ifindex, const struct ip_prefix *dst, unsigned metric)
{
	struct rtnl_route *r = route_via_link(ifindex, dst, NULL, metric);
	if (!r)
		return -NLE_NOMEM;
	/* The scope and protocol the delete carries must not narrow the match. */
	rtnl_route_set_scope(r, RT_SCOPE_NOWHERE);
	rtnl_route_set_protocol(r, RTPROT_UNSPEC);
	int err = rtnl_route_delete(n->sk, r, 0);
	rtnl_route_put(r);
	return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV || err == -NLE_NOADDR ? 0 : err;
}

int route_any_via(int ifindex)
{
	return route_through(AF_INET, ifindex, NULL);
}
