/* nftables batches over libmnl and libnftnl: the few message kinds the firewall needs. */
#ifndef XNH_NFT_H
#define XNH_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;
struct mnl_nlmsg_batch;
struct nftnl_rule;

struct nft {
	struct mnl_socket *nl;
	uint32_t portid, seq, begin_seq; /* begin_seq: the batch's BATCH_BEGIN message */
	char *buf;
	struct mnl_nlmsg_batch *batch;
	void *last; /* the batch's last message (NULL: none), the one asked to acknowledge */
	int family;
	const char *table;
	bool oom;      /* a message did not fit: the batch must not be sent */
	bool deleting; /* the batch deletes something */
	bool deleted;  /* a batch that deleted something was committed */
};

int nft_open(struct nft *n, int family, const char *table);
void nft_close(struct nft *n);

/* Start a batch; the calls below add messages to it; commit sends it as one transaction. */
void nft_begin(struct nft *n);
int nft_commit(struct nft *n);

void nft_table_add(struct nft *n);
/* A regular chain (hook < 0) or a base chain; exclusive fails with EEXIST if it exists. */
void nft_chain_add(struct nft *n, const char *name, int hook, int prio, const char *type,
		   bool exclusive);
void nft_chain_del(struct nft *n, const char *name);
/* What a set is: its key, for a concatenation each field's length, for a map its data. */
struct nft_set_spec {
	const char *name;
	uint32_t flags; /* NFT_SET_* */
	uint32_t key_type, key_len;
	uint8_t fields[4]; /* a concatenation: each field's length in bytes; else all 0 */
	uint32_t data_type, data_len; /* a map: NFT_DATA_VERDICT or a datatype (data_len bytes) */
	bool host_order;	      /* keys (and map data) are strings, such as interface names */
};
void nft_set_add(struct nft *n, const struct nft_set_spec *spec);
void nft_set_del(struct nft *n, const char *name);
void nft_table_del(struct nft *n);

/*
 * One element, to add (add=true) or delete: key; key_end for a range of a concatenation (its
 * last key, inclusive) or NULL; flags (NFT_SET_ELEM_INTERVAL_END); data for a map, or NULL.
 */
struct nft_elem_spec {
	const void *key, *key_end;
	uint32_t key_len;
	uint32_t flags;
	const void *data;
	uint32_t data_len;
};
void nft_elem(struct nft *n, bool add, const char *set, const struct nft_elem_spec *e);
void nft_rule_add(struct nft *n, struct nftnl_rule *r);

/* An element as a dump returns it: key, range end, interval-end flag, map data. */
struct nft_elem_info {
	uint8_t key[40], key_end[40];
	uint32_t key_len;
	bool has_end; /* key_end is set */
	bool end;     /* an interval's end element */
	uint8_t data[16];
	uint32_t data_len;
};

/* Every element of a set, in *out (malloc'd, *count of them).  0 or a negative errno. */
int nft_set_dump(struct nft *n, const char *set, struct nft_elem_info **out, size_t *count);

/*
 * The element of set with this key and flags (NFT_SET_ELEM_INTERVAL_END or 0), in *out: 1,
 * or 0 when there is none, or a negative errno (EOPNOTSUPP from kernels without it).
 */
int nft_elem_get(struct nft *n, const char *set, const void *key, size_t key_len, uint32_t flags,
		 struct nft_elem_info *out);

/* 1 when the chain exists, 0 when not, or a negative errno. */
int nft_chain_exists(struct nft *n, const char *name);

/* Rule building: r = rule_new(n, chain), then expressions in order, then nft_rule_add. */
struct nftnl_rule *rule_new(struct nft *n, const char *chain);
void rule_meta(struct nftnl_rule *r, uint32_t key);
void rule_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len);
/* The same into another register (NFT_REG_2...), for a concatenation looked up as a whole. */
void rule_meta_to(struct nftnl_rule *r, uint32_t key, uint32_t reg);
void rule_payload_to(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
		     uint32_t reg);
void rule_mask(struct nftnl_rule *r, const void *mask, uint32_t len);
void rule_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
/* Is register 1 (a concatenation: from register 1 on) in set (or not, invert)? */
void rule_lookup(struct nftnl_rule *r, const char *set, bool invert);
void rule_verdict(struct nftnl_rule *r, int verdict, const char *chain);
void rule_masq(struct nftnl_rule *r);

#endif
