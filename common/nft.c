/* nftables batches over libmnl and libnftnl: the few message kinds the firewall needs. */
#include "nft.h"
#include "signals.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#define NFT_BUF_SIZE (64 * 1024)

int nft_open(struct nft *n, int family, const char *table)
{
	memset(n, 0, sizeof(*n));
	n->family = family;
	n->table = table;
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->nl)
		return -errno;
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(n->nl);
		n->nl = NULL;
		return -e;
	}
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	/* Zeroed, as netlink padding is sent as is; mapped, not calloc'd, so that only the pages
	 * a batch reaches are ever touched (zeroing 64 KiB costs a run some 16 page faults). */
	n->buf =
	    mmap(NULL, NFT_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n->buf == MAP_FAILED) {
		n->buf = NULL;
		mnl_socket_close(n->nl);
		n->nl = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * Read the answers on nl until fn says stop, giving fn each one to a request numbered lo to
 * hi; answers to other requests (one left over from an earlier request) are passed over.  0,
 * or a negative errno when the receive fails.
 */
static int read_answers(struct mnl_socket *nl, uint32_t lo, uint32_t hi,
			bool (*fn)(const struct nlmsghdr *h, void *arg), void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	for (;;) {
		ssize_t len = sig_recv_again(nl, buf, sizeof(buf));
		if (len < 0)
			return errno == ENOBUFS ? -ENOBUFS : -errno;
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		int left = (int)len;
		for (; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			/* Unsigned: also across a wrap of the numbers. */
			if (h->nlmsg_seq - lo <= hi - lo && fn(h, arg))
				return 0;
		}
	}
}

/* The generation's answer: its NEWGEN message (anything else: 0). */
static bool generation_answer(const struct nlmsghdr *r, void *arg)
{
	uint32_t *gen = arg;
	if ((r->nlmsg_type & 0xff) != NFT_MSG_NEWGEN)
		return true;
	const struct nlattr *a;
	mnl_attr_for_each(a, r, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*gen = ntohl(mnl_attr_get_u32(a));
	}
	return true;
}

/*
 * The ruleset's generation: the kernel counts every commit (anyone's).  0 when it cannot be
 * asked, which reads as activity.
 */
static uint32_t generation(struct mnl_socket *nl, uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return 0;
	uint32_t gen = 0;
	return read_answers(nl, seq, seq, generation_answer, &gen) < 0 ? 0 : gen;
}

/*
 * Closing a netfilter socket makes the kernel finish freeing what deletions released, this
 * run's or another's (any netfilter user's), after an RCU grace period: some 10 ms, while the
 * rule set is long final (each commit was acknowledged), and holding the namespace's nf_tables
 * commit lock, so that the next vif's commit waits too.  Whoever closes the last reference to
 * a netfilter socket pays it, so the last references go to one process, the closer, which
 * closes them all at once when the rule set is quiet, out of every caller's way.
 *
 * The closer is a child of the first run that deleted something: it waits for that run to end
 * (udev or libxl, waiting for the run, does not wait for the clean-up); then for the ruleset
 * to be quiet, since a close while the others of a boot storm still commit would make each
 * wait in turn (no commit for QUIET_MS, at most LINGER_MS in all).  By then the kernel's
 * freeing, started by the last commit, is done or nearly, and the close waits for little and
 * holds up nobody.  Meanwhile it listens on an abstract unix socket of the network namespace (the
 * nf_tables state is per namespace, and so is that name): any run, deleting or not, connects
 * and sends its socket (SCM_RIGHTS) instead of closing it, which costs a few system calls where
 * a close would wait out the grace period or a fork would copy the process.  The closer never
 * even accepts: a connection waits in the listener's backlog with the socket queued on it, and
 * the listener's close at the end releases the lot.  A run checks that the listener is its own
 * user's (SO_PEERCRED, which a connect gets from the listener) before it hands anything over;
 * when no closer listens, a run that deleted nothing closes its socket itself (it left the
 * kernel nothing to free, and a fork for each of a storm's onlines costs more than the rare
 * wait for another run's freeing).  The closer keeps nothing else open (no lock, no pipe of
 * the caller's); on any failure the socket is simply closed here.
 */
/* Measured on 2 cores (storm.sh): the offline storm's last close came some 17 ms after its
 * last return with these, 26 ms with 10 and 20; 2 and 5 came no sooner, and a closer that quick
 * closed in the middle of back-to-back cycles. */
#define QUIET_MS  5
#define NAP_MS	  10
#define LINGER_MS 1500
#define BACKLOG	  4096

static const char closer_name[] = "xen-net-hooks/nft-closer";

static socklen_t closer_addr(struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* Abstract: sun_path[0] is NUL, and the name is not NUL-terminated. */
	memcpy(a->sun_path + 1, closer_name, sizeof(closer_name) - 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(closer_name));
}

/* Give the socket's reference to a listening closer: true when it has it. */
static bool give_to_closer(int fd)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return false;
	struct sockaddr_un a;
	socklen_t alen = closer_addr(&a);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	bool given = false;
	if (connect(s, (struct sockaddr *)&a, alen) == 0 &&
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.uid == geteuid()) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		memset(&u, 0, sizeof(u));
		char byte = 0;
		struct iovec iov = {&byte, 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = u.buf,
				   .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		given = sendmsg(s, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
	}
	close(s);
	return given;
}

/* Close every descriptor but the n in keep (ascending). */
static void close_all_but(const int *keep, int n)
{
	unsigned from = 0;
	bool ok = true;
	for (int i = 0; i < n && ok; i++) {
		if ((unsigned)keep[i] > from)
			ok = close_range(from, (unsigned)keep[i] - 1, 0) == 0;
		from = (unsigned)keep[i] + 1;
	}
	if (ok && close_range(from, ~0u, 0) == 0)
		return;
	/* A kernel before 5.9: one by one, up to the limit of descriptors. */
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = 0; fd < (max > 0 ? max : 1024); fd++) {
		bool kept = false;
		for (int i = 0; i < n; i++)
			kept |= keep[i] == fd;
		if (!kept)
			close(fd);
	}
}

static void become_closer(struct nft *n, int fd, int parent)
{
	int keep[2] = {fd < parent ? fd : parent, fd < parent ? parent : fd};
	close_all_but(keep, 2);
	/* Another closer may have started since the parent asked: then this one only lingers
	 * for its own socket. */
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un a;
	socklen_t alen = closer_addr(&a);
	if (l >= 0 && (bind(l, (struct sockaddr *)&a, alen) < 0 || listen(l, BACKLOG) < 0)) {
		close(l);
		l = -1;
	}
	/* EOF when the parent has ended and its write end with it. */
	char c;
	while (read(parent, &c, 1) < 0 && errno == EINTR)
		;
	/* Asleep meanwhile, longer while the ruleset moves (up to NAP_MS): a storm's programs
	 * must not compete with it for the CPU. */
	uint32_t last = generation(n->nl, n->seq++);
	for (long waited = 0, nap = QUIET_MS;
	     waited<LINGER_MS; waited += nap, nap = nap * 2> NAP_MS ? NAP_MS : nap * 2) {
		struct timespec t = {nap / 1000, (nap % 1000) * 1000000L};
		nanosleep(&t, NULL);
		uint32_t now = generation(n->nl, n->seq++);
		if (now && now == last)
			break;
		last = now;
	}
	/* No new sockets from here on: a run that comes now closes its own, or starts a closer.
	 */
	if (l >= 0)
		shutdown(l, SHUT_RDWR);
	_exit(0);
}

/* A closer of our own, for this run's socket and the next runs'. */
static void start_closer(struct nft *n)
{
	int fd = mnl_socket_get_fd(n->nl);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0)
		become_closer(n, fd, p[0]);
	close(p[0]);
	/* The write end stays open (close-on-exec) until this process ends. */
	if (pid < 0)
		close(p[1]);
}

void nft_close(struct nft *n)
{
	if (n->batch)
		mnl_nlmsg_batch_stop(n->batch);
	/* Without a deletion of its own and without a closer, the close is as quick as the
	 * kernel lets it be. */
	if (n->nl && !give_to_closer(mnl_socket_get_fd(n->nl)) && n->deleted)
		start_closer(n);
	if (n->nl)
		mnl_socket_close(n->nl);
	if (n->buf)
		munmap(n->buf, NFT_BUF_SIZE);
	memset(n, 0, sizeof(*n));
}

/* The buffer is twice the batch limit, so one message can always be written past it. */
static char *next(struct nft *n)
{
	return n->oom ? NULL : mnl_nlmsg_batch_current(n->batch);
}

/* A message that went past the limit spoils the batch: it must not be sent cut short. */
static void done(struct nft *n)
{
	n->last = mnl_nlmsg_batch_current(n->batch);
	if (!mnl_nlmsg_batch_next(n->batch))
		n->oom = true;
}

void nft_begin(struct nft *n)
{
	if (n->batch)
		mnl_nlmsg_batch_stop(n->batch);
	n->batch = mnl_nlmsg_batch_start(n->buf, NFT_BUF_SIZE / 2);
	n->last = NULL;
	n->oom = false;
	n->deleting = false;
	n->begin_seq = n->seq++;
	nftnl_batch_begin(mnl_nlmsg_batch_current(n->batch), n->begin_seq);
	mnl_nlmsg_batch_next(n->batch);
}

/*
 * The kernel answers a batch's messages only with their errors, and the one message that asks
 * (the last) with its acknowledgement: one answer to read where every message's would cost a
 * receive each (a table's first batch has some forty).  It handles all of them, failed or
 * not, and sends the answers once the transaction is committed or undone, the last message's
 * last; an error with the batch's own (first) sequence number means it stopped short of
 * answering the rest (no memory, a malformed batch).  Read until one of these two; the first
 * error wins.
 */
struct batch_answers {
	uint32_t begin, last, portid;
	int result;
};

static bool batch_answer(const struct nlmsghdr *h, void *arg)
{
	struct batch_answers *b = arg;
	if (h->nlmsg_pid != b->portid || h->nlmsg_type != NLMSG_ERROR)
		return false;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
	if (e->error && !b->result) {
		b->result = e->error;
		if (getenv("NFT_DEBUG"))
			fprintf(stderr, "nft: message %u of the batch: %s\n",
				h->nlmsg_seq - b->begin, strerror(-e->error));
	}
	return h->nlmsg_seq == b->last || (h->nlmsg_seq == b->begin && e->error);
}

static int collect(struct nft *n, uint32_t begin, uint32_t last)
{
	struct batch_answers b = {begin, last, n->portid, 0};
	int err = read_answers(n->nl, begin, last, batch_answer, &b);
	return err < 0 ? err : b.result;
}

int nft_commit(struct nft *n)
{
	if (n->oom)
		return -E2BIG;
	struct nlmsghdr *last = n->last;
	if (last)
		last->nlmsg_flags |= NLM_F_ACK;
	nftnl_batch_end(mnl_nlmsg_batch_current(n->batch), n->seq++);
	mnl_nlmsg_batch_next(n->batch);
	size_t len = mnl_nlmsg_batch_size(n->batch);
	uint32_t last_seq = last ? last->nlmsg_seq : 0;
	if (mnl_socket_sendto(n->nl, mnl_nlmsg_batch_head(n->batch), len) < 0)
		return -errno;
	mnl_nlmsg_batch_stop(n->batch);
	n->batch = NULL;
	n->last = NULL;
	/* An empty batch is answered with nothing. */
	int err = last ? collect(n, n->begin_seq, last_seq) : 0;
	/* Only a committed deletion leaves the kernel freeing to do (an aborted batch is undone
	 * before the answer comes). */
	if (err == 0 && n->deleting)
		n->deleted = true;
	return err;
}

static void table_msg(struct nft *n, uint16_t type, uint16_t flags)
{
	char *p = next(n);
	struct nftnl_table *t = nftnl_table_alloc();
	if (!p || !t) {
		n->oom = true;
		nftnl_table_free(t);
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(p, type, (uint16_t)n->family, flags, n->seq++);
	nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
	done(n);
}

void nft_table_add(struct nft *n)
{
	table_msg(n, NFT_MSG_NEWTABLE, NLM_F_CREATE);
}

void nft_table_del(struct nft *n)
{
	n->deleting = true;
	table_msg(n, NFT_MSG_DELTABLE, 0);
}

static struct nftnl_chain *chain_obj(struct nft *n, const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	return c;
}

static void chain_msg(struct nft *n, struct nftnl_chain *c, uint16_t type, uint16_t flags)
{
	char *p = next(n);
	if (!p || !c) {
		n->oom = true;
		nftnl_chain_free(c);
		return;
	}
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(p, type, (uint16_t)n->family, flags, n->seq++);
	nftnl_chain_nlmsg_build_payload(h, c);
	nftnl_chain_free(c);
	done(n);
}

void nft_chain_add(struct nft *n, const char *name, int hook, int prio, const char *type,
		   bool exclusive)
{
	struct nftnl_chain *c = chain_obj(n, name);
	if (c && hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	chain_msg(n, c, NFT_MSG_NEWCHAIN, NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0));
}

void nft_chain_del(struct nft *n, const char *name)
{
	n->deleting = true;
	chain_msg(n, chain_obj(n, name), NFT_MSG_DELCHAIN, 0);
}

void nft_set_add(struct nft *n, const struct nft_set_spec *spec)
{
	char *p = next(n);
	struct nftnl_set *s = nftnl_set_alloc();
	if (!p || !s) {
		n->oom = true;
		nftnl_set_free(s);
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, spec->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, (uint32_t)n->family);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, spec->flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, spec->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, spec->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	if (spec->fields[0]) {
		size_t k = 0;
		while (k < sizeof(spec->fields) && spec->fields[k])
			k++;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, spec->fields, (uint32_t)k);
	}
	if (spec->data_type) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, spec->data_type);
		if (spec->data_type != NFT_DATA_VERDICT)
			nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, spec->data_len);
	}
	/* Tell nft which are in host order (interface names), or it lists them garbled. */
	bool data_host = spec->data_type && spec->data_type != NFT_DATA_VERDICT;
	struct nftnl_udata_buf *ud =
	    spec->host_order || data_host ? nftnl_udata_buf_alloc(64) : NULL;
	if (ud && (!spec->host_order || nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1)) &&
	    (!data_host || nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER, 1)))
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	struct nlmsghdr *h =
	    nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSET, (uint16_t)n->family, NLM_F_CREATE, n->seq++);
	nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	done(n);
}

void nft_set_del(struct nft *n, const char *name)
{
	n->deleting = true;
	char *p = next(n);
	struct nftnl_set *s = nftnl_set_alloc();
	if (!p || !s) {
		n->oom = true;
		nftnl_set_free(s);
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	struct nlmsghdr *h =
	    nftnl_nlmsg_build_hdr(p, NFT_MSG_DELSET, (uint16_t)n->family, 0, n->seq++);
	nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	done(n);
}

static struct nftnl_set_elem *elem_obj(const struct nft_elem_spec *spec)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, spec->key, spec->key_len);
	if (spec->key_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, spec->key_end, spec->key_len);
	if (spec->flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, spec->flags);
	if (spec->data)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, spec->data, spec->data_len);
	return e;
}

void nft_elem(struct nft *n, bool add, const char *set, const struct nft_elem_spec *spec)
{
	n->deleting |= !add;
	char *p = next(n);
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = elem_obj(spec);
	if (!p || !s || !e) {
		n->oom = true;
		nftnl_set_free(s);
		nftnl_set_elem_free(e);
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_elem_add(s, e);
	struct nlmsghdr *h =
	    nftnl_nlmsg_build_hdr(p, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
				  (uint16_t)n->family, (add ? NLM_F_CREATE : 0), n->seq++);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	done(n);
}

void nft_rule_add(struct nft *n, struct nftnl_rule *r)
{
	char *p = next(n);
	if (!p || !r) {
		n->oom = true;
		nftnl_rule_free(r);
		return;
	}
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWRULE, (uint16_t)n->family,
						   NLM_F_APPEND | NLM_F_CREATE, n->seq++);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	done(n);
}

/* The answer is the chain (then an ack) or an error: 1 there, 0 missing, or -errno. */
static bool chain_answer(const struct nlmsghdr *r, void *arg)
{
	int *have = arg;
	if (r->nlmsg_type != NLMSG_ERROR)
		return false;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);
	*have = e->error == -ENOENT ? 0 : e->error ? e->error : 1;
	return true;
}

int nft_chain_exists(struct nft *n, const char *name)
{
	char req[512] = {0}; /* netlink padding is sent as is */
	struct nftnl_chain *c = chain_obj(n, name);
	if (!c)
		return -ENOMEM;
	uint32_t seq = n->seq++;
	struct nlmsghdr *h =
	    nftnl_nlmsg_build_hdr(req, NFT_MSG_GETCHAIN, (uint16_t)n->family, NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(h, c);
	nftnl_chain_free(c);
	if (mnl_socket_sendto(n->nl, h, h->nlmsg_len) < 0)
		return -errno;
	int have = 0, err = read_answers(n->nl, seq, seq, chain_answer, &have);
	return err < 0 ? err : have;
}

struct nftnl_rule *rule_new(struct nft *n, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)n->family);
	return r;
}

/* Every expression of a rule works on register 1, as nft's own output does. */
static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name)
{
	if (!r)
		return NULL;
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

void rule_meta_to(struct nftnl_rule *r, uint32_t key, uint32_t reg)
{
	struct nftnl_expr *e = expr(r, "meta");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
}

void rule_meta(struct nftnl_rule *r, uint32_t key)
{
	rule_meta_to(r, key, NFT_REG_1);
}

void rule_payload_to(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
		     uint32_t reg)
{
	struct nftnl_expr *e = expr(r, "payload");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
}

void rule_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
	rule_payload_to(r, base, offset, len, NFT_REG_1);
}

void rule_mask(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = expr(r, "bitwise");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

void rule_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "cmp");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void rule_lookup(struct nftnl_rule *r, const char *set, bool invert)
{
	struct nftnl_expr *e = expr(r, "lookup");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (invert)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

void rule_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr(r, "immediate");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

void rule_masq(struct nftnl_rule *r)
{
	expr(r, "masq");
}

struct dump {
	struct nft_elem_info *v;
	size_t n, cap;
};

static int dump_elem(struct nftnl_set_elem *e, void *arg)
{
	struct dump *d = arg;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct nft_elem_info *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return -1;
		d->v = v;
		d->cap = cap;
	}
	struct nft_elem_info *i = &d->v[d->n++];
	memset(i, 0, sizeof(*i));
	uint32_t len = 0;
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	if (key && len <= sizeof(i->key)) {
		memcpy(i->key, key, len);
		i->key_len = len;
	}
	const void *end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)
			      ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len)
			      : NULL;
	if (end && len == i->key_len) {
		memcpy(i->key_end, end, len);
		i->has_end = true;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		i->end =
		    nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END;
	const void *data = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)
			       ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len)
			       : NULL;
	if (data && len <= sizeof(i->data)) {
		memcpy(i->data, data, len);
		i->data_len = len;
	}
	return 0;
}

struct elem_answers {
	struct dump *d;
	int result;
};

/* A dump ends with DONE (or an error); a get with its ack, or an error. */
static bool elem_answer(const struct nlmsghdr *r, void *arg)
{
	struct elem_answers *a = arg;
	if (r->nlmsg_type == NLMSG_DONE)
		return true;
	if (r->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);
		if (e->error && !a->result)
			a->result = e->error;
		return true;
	}
	if (!a->result) {
		struct nftnl_set *part = nftnl_set_alloc();
		if (!part || nftnl_set_elems_nlmsg_parse(r, part) < 0 ||
		    nftnl_set_elem_foreach(part, dump_elem, a->d) < 0)
			a->result = -ENOMEM;
		nftnl_set_free(part);
	}
	return false;
}

/* A GETSETELEM request: a dump of the whole set (key NULL), or one element (key, flags). */
static int elem_request(struct nft *n, const char *set, const void *key, size_t key_len,
			uint32_t flags, struct dump *d)
{
	char req[512] = {0}; /* netlink padding is sent as is */
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	if (key) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)key_len);
		if (flags)
			nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
		nftnl_set_elem_add(s, e);
	}
	uint32_t seq = n->seq++;
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSETELEM, (uint16_t)n->family,
						   (key ? 0 : NLM_F_DUMP) | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(n->nl, h, h->nlmsg_len) < 0)
		return -errno;
	struct elem_answers a = {d, 0};
	int err = read_answers(n->nl, seq, seq, elem_answer, &a);
	return err < 0 ? err : a.result;
}

int nft_set_dump(struct nft *n, const char *set, struct nft_elem_info **out, size_t *count)
{
	struct dump d = {0};
	*out = NULL;
	*count = 0;
	int err = elem_request(n, set, NULL, 0, 0, &d);
	if (err < 0) {
		free(d.v);
		return err;
	}
	*out = d.v;
	*count = d.n;
	return 0;
}

int nft_elem_get(struct nft *n, const char *set, const void *key, size_t key_len, uint32_t flags,
		 struct nft_elem_info *out)
{
	struct dump d = {0};
	int err = elem_request(n, set, key, key_len, flags, &d);
	if (err == 0 && d.n > 0)
		*out = d.v[0];
	free(d.v);
	return err == -ENOENT ? 0 : err < 0 ? err : d.n > 0;
}
