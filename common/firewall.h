/* Guest firewall: owned nftables tables through libmnl/libnftnl, or the scripts' iptables rules. */
#ifndef XNH_FIREWALL_H
#define XNH_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"

/*
 * The tables this project owns, one per family; nothing outside them is ever touched.
 *   table bridge xen_hotplug   bridged vifs (filtered on the vif port) and the antispoof policy
 *   table inet xen_hotplug     routed and NAT vifs, and network-nat's masquerade
 */
#define FW_TABLE "xen_hotplug"

enum fw_backend { FW_NONE, FW_NFT, FW_IPTABLES };

/* What a vif's rules are made of. */
struct fw_vif {
	const char *dev;	     /* the interface, as the kernel names it now */
	const struct ip_prefix *ips; /* the guest's addresses; none: no restriction */
	size_t n_ips;
	const uint8_t *mac; /* the guest's MAC when known, else NULL */
};

/*
 * The backend named by param ("nft", "iptables", "none"; NULL or empty: nft when the kernel
 * has nf_tables, else iptables when the iptables command exists, else none).  Returns NULL or
 * the phrase for an invalid value.  *fallback is set when the default fell to none.
 */
const char *fw_backend_parse(const char *param, enum fw_backend *out, bool *fallback);
const char *fw_backend_name(enum fw_backend b);

/*
 * Each returns 0 or a negative errno, with a message in err.  Adding replaces whatever the
 * same vif had, in one atomic batch; deleting what is not there is not an error.
 */
int fw_bridged_vif_add(enum fw_backend b, const struct fw_vif *v, char *err, size_t errlen);
int fw_bridged_vif_del(enum fw_backend b, const struct fw_vif *v, char *err, size_t errlen);
int fw_routed_vif_add(enum fw_backend b, const struct fw_vif *v, char *err, size_t errlen);
int fw_routed_vif_del(enum fw_backend b, const struct fw_vif *v, char *err, size_t errlen);

/* network-nat: masquerade what leaves netdev (nft only; iptables: the MASQUERADE rule). */
int fw_masquerade_add(enum fw_backend b, const char *netdev, char *err, size_t errlen);
int fw_masquerade_del(enum fw_backend b, const char *netdev, char *err, size_t errlen);

#endif
