/* A bridge's VLAN filtering and its ports' VLAN tables, over rtnetlink (Linux 5.8 or later). */
#ifndef XNH_BRIDGE_VLAN_H
#define XNH_BRIDGE_VLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "link.h"
#include "undo.h"
#include "vlan.h"

/* What the bridge's VLAN settings are (IFLA_BR_VLAN_*). */
struct bridge_vlan_state {
	bool filtering;
	uint16_t default_pvid; /* the VLAN a new port joins as PVID, untagged; 0: none */
	uint16_t protocol;     /* host order: 0x8100 (802.1Q) or 0x88a8 (802.1ad) */
};

/* All return 0 or a negative libnl error code, as link.h's functions do. */
int bridge_vlan_get(int bridge, struct bridge_vlan_state *out);

/*
 * Turn the bridge's VLAN filtering on or off; the inverse, recorded in u when not NULL, puts
 * back the other value.  A port's own VLAN table is not touched by either.
 */
int bridge_set_vlan_filtering(struct net *n, struct undo *u, int bridge, bool on);

/* The VLAN table of a bridge port, read from the kernel (a dump of that port alone). */
int port_vlans_get(int port, struct vlan_set *out);

/*
 * Make the port's VLAN table exactly want, from now (what port_vlans_get read): the IDs of want
 * whose flags differ are added or changed (one request), those of now not in want deleted (a
 * second).  The inverse, recorded in u first when not NULL, makes it now again.
 */
int port_vlans_set(struct net *n, struct undo *u, int port, const struct vlan_set *now,
		   const struct vlan_set *want);

#endif
