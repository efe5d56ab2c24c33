/* A guest card's VLANs: the grammar of libxl's vlan node, parsed into a set.  Pure code, fuzzed. */
#ifndef XNH_VLAN_H
#define XNH_VLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VLAN_ID_MAX 4094

/*
 * The VLANs a bridge port carries: which IDs, which of them leave the port untagged, and the
 * PVID (the VLAN untagged frames entering the port join; 0: none).  Bit v of member is ID v.
 */
struct vlan_set {
	uint8_t member[(VLAN_ID_MAX + 8) / 8];
	uint8_t untagged[(VLAN_ID_MAX + 8) / 8];
	uint16_t pvid;
	uint16_t count; /* how many IDs are members */
};

/*
 * Parse the vlan node as xl-network-configuration(5) and Xen's own hotplug scripts read it: IDs
 * 1-4094 joined by '/', each term N, Np (the PVID, untagged), Nu (untagged), A-B or A-Bu (every
 * ID from A to B), N+OxC or N+OxCu (C IDs: N, N+O, ..., N+(C-1)O); no ID twice, exactly one PVID,
 * which a single ID alone is without its p.  Decimal numbers without sign or leading zero.
 * Returns NULL with *out filled, or the phrase of params_invalid (what was expected and what was
 * wrong, in printable words) in why.
 */
const char *vlan_parse(const char *s, struct vlan_set *out, char *why, size_t whylen);

bool vlan_has(const struct vlan_set *s, unsigned vid);
bool vlan_is_untagged(const struct vlan_set *s, unsigned vid);

/* Set or clear vid's membership, with its untagged flag; the PVID is the caller's to set. */
void vlan_put(struct vlan_set *s, unsigned vid, bool member, bool untagged);

/* The same IDs, untagged flags and PVID? */
bool vlan_equal(const struct vlan_set *a, const struct vlan_set *b);

/*
 * The set in the grammar's shortest plain form (runs as A-B, the PVID as Np), which vlan_parse
 * reads back as the same set; "none" when empty.  Truncated with "..." when len is too short.
 */
void vlan_format(const struct vlan_set *s, char *buf, size_t len);

#endif
