/* A bridge's VLAN filtering and its ports' VLAN tables, over rtnetlink (Linux 5.8 or later). */
#include "bridge-vlan.h"

#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

/*
 * A request whose answers fn reads (a GET, or a dump), on a socket of its own: libnl's other
 * requests on the program's socket must not meet this callback.  Ends at the kernel's
 * acknowledgement or at the dump's end.
 */
static int query(struct nl_msg *msg, int (*fn)(struct nl_msg *, void *), void *arg)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -NLE_NOMEM;
	if ((err = nl_connect(sk, NETLINK_ROUTE)) >= 0) {
		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
		if ((err = nl_send_auto(sk, msg)) >= 0)
			err = nl_wait_for_ack(sk);
	}
	nl_socket_free(sk);
	return err < 0 ? err : 0;
}

/* Send a change on the program's socket and wait for the kernel's answer. */
static int change(struct net *n, struct nl_msg *msg)
{
	int err = nl_send_auto(n->sk, msg);
	if (err >= 0)
		err = nl_wait_for_ack(n->sk);
	return err < 0 ? err : 0;
}

struct bridge_vlan_reply {
	int ifindex;
	struct bridge_vlan_state *out;
	bool seen;
};

static int parse_bridge(struct nl_msg *msg, void *arg)
{
	struct bridge_vlan_reply *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1], *br[IFLA_BR_MAX + 1];
	const struct ifinfomsg *ifi = nlmsg_data(h);

	if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != r->ifindex ||
	    nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_LINKINFO] ||
	    nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0 ||
	    !li[IFLA_INFO_DATA] || nla_parse_nested(br, IFLA_BR_MAX, li[IFLA_INFO_DATA], NULL) < 0)
		return NL_OK;
	/* A kernel without bridge VLAN filtering sends IFLA_BR_VLAN_FILTERING (0) but none of
	 * the other VLAN attributes. */
	if (!br[IFLA_BR_VLAN_FILTERING] || !br[IFLA_BR_VLAN_DEFAULT_PVID])
		return NL_OK;
	r->seen = true;
	r->out->filtering = nla_get_u8(br[IFLA_BR_VLAN_FILTERING]);
	r->out->default_pvid = nla_get_u16(br[IFLA_BR_VLAN_DEFAULT_PVID]);
	if (br[IFLA_BR_VLAN_PROTOCOL])
		r->out->protocol = ntohs(nla_get_u16(br[IFLA_BR_VLAN_PROTOCOL]));
	return NL_OK;
}

int bridge_vlan_get(int bridge, struct bridge_vlan_state *out)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = bridge};
	struct bridge_vlan_reply r = {bridge, out, false};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
	int err = -NLE_NOMEM;

	memset(out, 0, sizeof(*out));
	out->protocol = 0x8100;
	if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) >= 0)
		err = query(msg, parse_bridge, &r);
	nlmsg_free(msg);
	if (err == 0 && !r.seen)
		err = -NLE_OPNOTSUPP; /* not a bridge, or no VLAN filtering in this kernel */
	return err;
}

static int set_filtering(struct net *n, int bridge, bool on)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = bridge};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	struct nlattr *info, *data;
	int err = -NLE_NOMEM;

	if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) >= 0 &&
	    (info = nla_nest_start(msg, IFLA_LINKINFO)) &&
	    nla_put_string(msg, IFLA_INFO_KIND, "bridge") >= 0 &&
	    (data = nla_nest_start(msg, IFLA_INFO_DATA)) &&
	    nla_put_u8(msg, IFLA_BR_VLAN_FILTERING, on) >= 0) {
		nla_nest_end(msg, data);
		nla_nest_end(msg, info);
		err = change(n, msg);
	}
	nlmsg_free(msg);
	return err;
}

struct undo_filtering {
	int bridge;
	bool on;
};

static int undo_filtering(void *ctx, const void *arg)
{
	const struct undo_filtering *a = arg;
	return set_filtering(ctx, a->bridge, a->on);
}

int bridge_set_vlan_filtering(struct net *n, struct undo *u, int bridge, bool on)
{
	struct undo_filtering a = {bridge, !on};
	int err = set_filtering(n, bridge, on);
	if (err < 0 || !u)
		return err;
	return undo_push(u, undo_filtering, &a, sizeof(a), "VLAN filtering") ? -NLE_NOMEM : 0;
}

/* ---- a port's table */

struct port_reply {
	int ifindex;
	struct vlan_set *out;
};

/* One RTM_NEWVLAN of the dump: BRIDGE_VLANDB_ENTRY nests, each an ID or a range of them. */
static int parse_port(struct nl_msg *msg, void *arg)
{
	struct port_reply *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct br_vlan_msg *bvm = nlmsg_data(h);
	struct nlattr *a;
	int rem;

	if (h->nlmsg_type != RTM_NEWVLAN || (int)bvm->ifindex != r->ifindex)
		return NL_OK;
	nlmsg_for_each_attr(a, h, sizeof(*bvm), rem)
	{
		struct nlattr *e[BRIDGE_VLANDB_ENTRY_MAX + 1];
		if (nla_type(a) != BRIDGE_VLANDB_ENTRY ||
		    nla_parse_nested(e, BRIDGE_VLANDB_ENTRY_MAX, a, NULL) < 0 ||
		    !e[BRIDGE_VLANDB_ENTRY_INFO] ||
		    nla_len(e[BRIDGE_VLANDB_ENTRY_INFO]) < (int)sizeof(struct bridge_vlan_info))
			continue;
		const struct bridge_vlan_info *info = nla_data(e[BRIDGE_VLANDB_ENTRY_INFO]);
		unsigned last = info->vid;
		if (e[BRIDGE_VLANDB_ENTRY_RANGE])
			last = nla_get_u16(e[BRIDGE_VLANDB_ENTRY_RANGE]);
		for (unsigned v = info->vid; v <= last && v <= VLAN_ID_MAX; v++)
			vlan_put(r->out, v, true, info->flags & BRIDGE_VLAN_INFO_UNTAGGED);
		if (info->flags & BRIDGE_VLAN_INFO_PVID)
			r->out->pvid = info->vid;
	}
	return NL_OK;
}

int port_vlans_get(int port, struct vlan_set *out)
{
	/* The kernel dumps only the port named (br_vlan_msg's ifindex). */
	struct br_vlan_msg bvm = {.family = AF_BRIDGE, .ifindex = (uint32_t)port};
	struct port_reply r = {port, out};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETVLAN, NLM_F_DUMP);
	int err = -NLE_NOMEM;

	memset(out, 0, sizeof(*out));
	if (msg && nlmsg_append(msg, &bvm, sizeof(bvm), NLMSG_ALIGNTO) >= 0)
		err = query(msg, parse_port, &r);
	nlmsg_free(msg);
	return err;
}

/* One IFLA_BRIDGE_VLAN_INFO entry. */
static int put_info(struct nl_msg *msg, unsigned vid, uint16_t flags)
{
	struct bridge_vlan_info info = {.flags = flags, .vid = (uint16_t)vid};
	return nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(info), &info);
}

/*
 * RTM_SETLINK (add) or RTM_DELLINK (del) of AF_BRIDGE for the port, with the IDs keep() picks
 * from s, runs of the same flags as ranges: a handful of entries for the longest list.
 */
static int request(struct net *n, int type, int port, const struct vlan_set *s,
		   bool (*keep)(unsigned vid, const void *), const void *arg, bool *sent)
{
	struct ifinfomsg ifi = {.ifi_family = AF_BRIDGE, .ifi_index = port};
	/* Room for every ID as an entry of its own: 4094 of 8 bytes. */
	struct nl_msg *msg = nlmsg_alloc_size(64 * 1024);
	struct nlattr *spec;
	int err = -NLE_NOMEM;
	bool add = type == RTM_SETLINK, any = false;

	*sent = false;
	if (!msg)
		return err;
	struct nlmsghdr *h = nlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, type, 0, NLM_F_REQUEST);
	if (!h || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    !(spec = nla_nest_start(msg, IFLA_AF_SPEC)))
		goto out;
	for (unsigned v = 1; v <= VLAN_ID_MAX; v++) {
		if (!keep(v, arg))
			continue;
		bool pvid = add && v == s->pvid, u = add && vlan_is_untagged(s, v);
		uint16_t flags = (uint16_t)((pvid ? BRIDGE_VLAN_INFO_PVID : 0) |
					    (u ? BRIDGE_VLAN_INFO_UNTAGGED : 0));
		unsigned end = v;
		/* The kernel takes no range with the PVID flag. */
		while (!pvid && end < VLAN_ID_MAX && keep(end + 1, arg) &&
		       !(add && end + 1 == s->pvid) &&
		       (add ? vlan_is_untagged(s, end + 1) : 0) == u)
			end++;
		if (end == v)
			err = put_info(msg, v, flags);
		else if ((err = put_info(msg, v, flags | BRIDGE_VLAN_INFO_RANGE_BEGIN)) >= 0)
			err = put_info(msg, end, flags | BRIDGE_VLAN_INFO_RANGE_END);
		if (err < 0)
			goto out;
		any = true;
		v = end;
	}
	nla_nest_end(msg, spec);
	err = 0;
	if (any) {
		err = change(n, msg);
		*sent = err == 0;
	}
out:
	nlmsg_free(msg);
	return err;
}

struct pair {
	const struct vlan_set *now, *want;
};

/* In want, and not already in now with the same flags. */
static bool to_add(unsigned vid, const void *arg)
{
	const struct pair *p = arg;
	if (!vlan_has(p->want, vid))
		return false;
	return !vlan_has(p->now, vid) ||
	       vlan_is_untagged(p->now, vid) != vlan_is_untagged(p->want, vid) ||
	       (vid == p->want->pvid) != (vid == p->now->pvid);
}

static bool to_delete(unsigned vid, const void *arg)
{
	const struct pair *p = arg;
	return vlan_has(p->now, vid) && !vlan_has(p->want, vid);
}

static int apply(struct net *n, int port, const struct vlan_set *now, const struct vlan_set *want)
{
	struct pair p = {now, want};
	bool sent;
	/* Adds first: the port is never left without the VLANs it is to keep. */
	int err = request(n, RTM_SETLINK, port, want, to_add, &p, &sent);
	if (err >= 0)
		err = request(n, RTM_DELLINK, port, now, to_delete, &p, &sent);
	return err;
}

/* The inverse: the table as it was. */
struct port_undo {
	int port;
	struct vlan_set before;
};

static void release_port_undo(const void *arg)
{
	struct port_undo *pu;
	memcpy(&pu, arg, sizeof(pu));
	free(pu);
}

static int undo_port(void *ctx, const void *arg)
{
	struct port_undo *pu;
	memcpy(&pu, arg, sizeof(pu));
	/* Read again: the change may have been made in part. */
	struct vlan_set now;
	int err = port_vlans_get(pu->port, &now);
	if (err >= 0)
		err = port_vlans_set(ctx, NULL, pu->port, &now, &pu->before);
	/* The port may have left the bridge or gone meanwhile: its table went with it. */
	if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND || err == -NLE_OPNOTSUPP)
		err = 0;
	free(pu);
	return err;
}

int port_vlans_set(struct net *n, struct undo *u, int port, const struct vlan_set *now,
		   const struct vlan_set *want)
{
	if (vlan_equal(now, want))
		return 0;
	if (u) {
		struct port_undo *pu = malloc(sizeof(*pu));
		if (!pu)
			return -NLE_NOMEM;
		pu->port = port;
		pu->before = *now;
		/* Recorded first: whatever part of the change is made, the inverse undoes it. */
		if (undo_push_ref(u, undo_port, release_port_undo, &pu, sizeof(pu),
				  "VLANs of the port")) {
			free(pu);
			return -NLE_NOMEM;
		}
	}
	return apply(n, port, now, want);
}
