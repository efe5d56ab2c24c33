/* xenstored-stub: an in-memory xenstored on a unix socket, so tests run libxenstore without Xen. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

/* Every client is dom0, whose relative paths live here. */
#define HOME   "/local/domain/0"
#define MAX_TX 16
/* A client that never reads its watch events must not exhaust our memory. */
#define MAX_PENDING_OUT (64u << 20)

struct node {
	char *name;
	struct node *parent;
	struct node **kids; /* in creation order, as cxenstored lists them */
	size_t nkids;
	char *value; /* arbitrary bytes: vlen says how many */
	size_t vlen;
	char *perms; /* wire form: NUL-terminated strings back to back */
	size_t plen;
	uint64_t gen; /* lets XS_DIRECTORY_PART readers notice a change between calls */
};

struct watch {
	struct watch *next;
	char *path; /* absolute, or "@..." */
	char *token;
	bool relative; /* events then name paths relative to HOME, like the watch did */
};

struct conn {
	int fd;
	bool dead;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	struct watch *watches;
	uint32_t tx[MAX_TX]; /* open transaction ids, 0 = free slot */
};

struct stub {
	struct node *root;
	struct conn **conns;
	size_t nconns;
	int listen_fd, sig_fd;
	FILE *log;
	uint32_t next_tx;
	uint64_t gen;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		perror("xenstored-stub");
		exit(1);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		perror("xenstored-stub");
		exit(1);
	}
	return p;
}

static char *xmemdup(const void *src, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, src, n);
	p[n] = '\0';
	return p;
}

static const char *errname(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EINVAL"; /* what cxenstored sends for an untranslatable error */
}

static void conn_queue(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
		       const void *data, size_t len)
{
	struct xsd_sockmsg h = {type, req_id, tx_id, (uint32_t)len};

	if (c->dead)
		return;
	if (c->outlen + sizeof(h) + len > MAX_PENDING_OUT) {
		c->dead = true;
		return;
	}
	if (c->outlen + sizeof(h) + len > c->outcap) {
		c->outcap = (c->outlen + sizeof(h) + len) * 2;
		c->out = xrealloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, &h, sizeof(h));
	if (len)
		memcpy(c->out + c->outlen + sizeof(h), data, len);
	c->outlen += sizeof(h) + len;
}

static void reply(struct conn *c, const struct xsd_sockmsg *req, const void *data, size_t len)
{
	if (len > XENSTORE_PAYLOAD_MAX) {
		const char *e = errname(E2BIG);
		conn_queue(c, XS_ERROR, req->req_id, req->tx_id, e, strlen(e) + 1);
		return;
	}
	conn_queue(c, req->type, req->req_id, req->tx_id, data, len);
}

static void ack(struct conn *c, const struct xsd_sockmsg *req)
{
	reply(c, req, "OK", 3);
}

/* The request's only argument, or NULL unless the payload is exactly one string. */
static const char *onearg(const char *body, size_t len)
{
	if (len == 0 || memchr(body, '\0', len) != body + len - 1)
		return NULL;
	return body;
}

static size_t count_strings(const char *body, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += body[i] == '\0';
	return n;
}

/* The same rules as cxenstored's is_valid_nodename(), so tests see the same EINVALs. */
static bool valid_path(const char *path, bool allow_special)
{
	size_t len = strlen(path);
	unsigned int domid;
	int off = 0;

	if (path[0] != '/' && !(allow_special && path[0] == '@'))
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	if (strstr(path, "//"))
		return false;
	/* The length quota counts only what follows a domain's home. */
	if (sscanf(path, "/local/domain/%5u/%n", &domid, &off) != 1)
		off = 0;
	if (len - off > XENSTORE_REL_PATH_MAX || len > XENSTORE_ABS_PATH_MAX)
		return false;
	return strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") ==
	       len;
}

/* A malloc'd absolute path for a request's name, or NULL if the daemon would say EINVAL. */
static char *canonical(const char *name, bool allow_special)
{
	char *path;

	if (!name)
		return NULL;
	if (name[0] == '/' || (allow_special && name[0] == '@')) {
		path = xmemdup(name, strlen(name));
	} else {
		path = xmalloc(sizeof(HOME) + 1 + strlen(name));
		sprintf(path, "%s/%s", HOME, name);
	}
	if (!valid_path(path, allow_special)) {
		free(path);
		return NULL;
	}
	return path;
}

static struct node *node_new(struct stub *st, struct node *parent, const char *name, size_t len)
{
	struct node *n = xmalloc(sizeof(*n));

	*n = (struct node){.name = xmemdup(name, len), .parent = parent, .gen = ++st->gen};
	n->value = xmemdup("", 0);
	/* New nodes inherit their parent's permissions, as in the real daemon. */
	n->plen = parent ? parent->plen : 3;
	n->perms = xmemdup(parent ? parent->perms : "n0", n->plen);
	if (parent) {
		parent->kids = xrealloc(parent->kids, (parent->nkids + 1) * sizeof(*parent->kids));
		parent->kids[parent->nkids++] = n;
		parent->gen = ++st->gen;
	}
	return n;
}

static void node_free(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

static void node_unlink(struct stub *st, struct node *n)
{
	struct node *p = n->parent;

	for (size_t i = 0; i < p->nkids; i++) {
		if (p->kids[i] == n) {
			memmove(&p->kids[i], &p->kids[i + 1], (p->nkids - i - 1) * sizeof(n));
			p->nkids--;
			break;
		}
	}
	p->gen = ++st->gen;
	node_free(n);
}

/* Walks an absolute path; with create, missing nodes on the way are made with empty values. */
static struct node *lookup(struct stub *st, const char *path, bool create)
{
	struct node *n = st->root;
	const char *p = path + 1;

	while (*p) {
		size_t len = strcspn(p, "/");
		struct node *next = NULL;

		for (size_t i = 0; i < n->nkids && !next; i++)
			if (strlen(n->kids[i]->name) == len && !memcmp(n->kids[i]->name, p, len))
				next = n->kids[i];
		if (!next && !create)
			return NULL;
		n = next ? next : node_new(st, n, p, len);
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

/* True when path is base or lies below it; "/" is above everything. */
static bool is_under(const char *path, const char *base)
{
	size_t len = strlen(base);

	if (!strcmp(base, "/"))
		return path[0] == '/';
	return !strncmp(path, base, len) && (path[len] == '/' || path[len] == '\0');
}

static void send_event(struct conn *c, const struct watch *w, const char *path)
{
	size_t plen, tlen = strlen(w->token) + 1;
	char buf[XENSTORE_PAYLOAD_MAX];

	if (w->relative && is_under(path, HOME) && strcmp(path, HOME))
		path += sizeof(HOME);
	plen = strlen(path) + 1;
	if (plen + tlen > sizeof(buf))
		return;
	memcpy(buf, path, plen);
	memcpy(buf + plen, w->token, tlen);
	conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, plen + tlen);
}

/*
 * A change at path wakes watches on it or above it. A removal also wakes each watch on a node
 * inside the removed subtree, naming that node, as cxenstored does; call it before removing.
 */
static void fire_watches(struct stub *st, const char *path, bool removal)
{
	for (size_t i = 0; i < st->nconns; i++) {
		for (struct watch *w = st->conns[i]->watches; w; w = w->next) {
			if (w->path[0] == '@')
				continue;
			if (is_under(path, w->path))
				send_event(st->conns[i], w, path);
			else if (removal && is_under(w->path, path) && lookup(st, w->path, false))
				send_event(st->conns[i], w, w->path);
		}
	}
}

typedef int (*op_fn)(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body);

/* The node a one-argument request names, or NULL with *err set to the daemon's answer. */
static struct node *arg_node(struct stub *st, const struct xsd_sockmsg *req, const char *body,
			     int *err)
{
	char *path = canonical(onearg(body, req->len), false);
	struct node *n = path ? lookup(st, path, false) : NULL;

	*err = !path ? EINVAL : !n ? ENOENT : 0;
	free(path);
	return n;
}

static int op_read(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	int err;
	struct node *n = arg_node(st, req, body, &err);

	if (n)
		reply(c, req, n->value, n->vlen);
	return err;
}

static int op_write(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	const char *nul = memchr(body, '\0', req->len);
	char *path;
	struct node *n;

	if (!nul || !(path = canonical(body, false)))
		return EINVAL;
	n = lookup(st, path, true);
	free(n->value);
	n->vlen = req->len - (size_t)(nul + 1 - body);
	n->value = xmemdup(nul + 1, n->vlen);
	n->gen = ++st->gen;
	fire_watches(st, path, false);
	free(path);
	ack(c, req);
	return 0;
}

static int op_mkdir(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	char *path = canonical(onearg(body, req->len), false);

	if (!path)
		return EINVAL;
	/* An existing node is left alone and wakes nobody. */
	if (!lookup(st, path, false)) {
		lookup(st, path, true);
		fire_watches(st, path, false);
	}
	free(path);
	ack(c, req);
	return 0;
}

static int op_rm(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	char *path = canonical(onearg(body, req->len), false);
	struct node *n;
	int err = 0;

	if (!path)
		return EINVAL;
	n = lookup(st, path, false);
	if (!n) {
		/* Removing what is already gone is fine, but only if its parent exists. */
		char *slash = strrchr(path, '/');
		if (slash == path)
			slash++; /* the parent is the root */
		*slash = '\0';
		err = lookup(st, path, false) ? 0 : ENOENT;
	} else if (!n->parent) {
		err = EINVAL;
	} else {
		fire_watches(st, path, true);
		node_unlink(st, n);
	}
	free(path);
	if (!err)
		ack(c, req);
	return err;
}

/* Children of n, each NUL-terminated; the caller frees. */
static char *children(const struct node *n, size_t *len)
{
	char *buf;

	*len = 0;
	for (size_t i = 0; i < n->nkids; i++)
		*len += strlen(n->kids[i]->name) + 1;
	buf = xmalloc(*len);
	*len = 0;
	for (size_t i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]->name) + 1;
		memcpy(buf + *len, n->kids[i]->name, l);
		*len += l;
	}
	return buf;
}

static int op_directory(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	int err;
	struct node *n = arg_node(st, req, body, &err);
	char *list;
	size_t len;

	if (n) {
		list = children(n, &len);
		reply(c, req, list, len);
		free(list);
	}
	return err;
}

/*
 * Reply: the node's generation, then as many whole children as fit from byte offset off of
 * the child list; an extra empty string marks the end of the list (cxenstored's format).
 */
static int op_directory_part(struct stub *st, struct conn *c, const struct xsd_sockmsg *req,
			     char *body)
{
	char *path, *list, *out;
	struct node *n;
	size_t len, off, take = 0, genlen, max;
	char gen[24];

	if (count_strings(body, req->len) != 2 || !(path = canonical(body, false)))
		return EINVAL;
	n = lookup(st, path, false);
	free(path);
	if (!n)
		return ENOENT;
	off = strtoul(body + strlen(body) + 1, NULL, 10);
	genlen = (size_t)snprintf(gen, sizeof(gen), "%llu", (unsigned long long)n->gen) + 1;
	list = children(n, &len);
	max = XENSTORE_PAYLOAD_MAX - genlen - 1;
	while (off < len && take + strlen(list + off + take) < max) {
		take += strlen(list + off + take) + 1;
		if (off + take == len)
			break;
	}
	out = xmalloc(genlen + take + 1);
	memcpy(out, gen, genlen);
	if (take)
		memcpy(out + genlen, list + off, take);
	out[genlen + take] = '\0';
	reply(c, req, out, genlen + take + (off + take >= len));
	free(out);
	free(list);
	return 0;
}

static int op_get_perms(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	int err;
	struct node *n = arg_node(st, req, body, &err);

	if (n)
		reply(c, req, n->perms, n->plen);
	return err;
}

static int op_set_perms(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	size_t n = count_strings(body, req->len), plen = 0;
	char *path, *perms, *p;
	struct node *node;

	/* A path and at least one permission, with nothing trailing after the last NUL. */
	if (n < 2 || body[req->len - 1] != '\0' || !(path = canonical(body, false)))
		return EINVAL;
	node = lookup(st, path, false);
	if (!node) {
		free(path);
		return ENOENT;
	}
	/* Stored as the daemon would print them back: letter and decimal domain id. */
	perms = xmalloc(n * 16);
	p = body + strlen(body) + 1;
	for (size_t i = 1; i < n; i++, p += strlen(p) + 1) {
		if (!p[0] || !strchr("rwbn", p[0])) {
			free(perms);
			free(path);
			return EINVAL;
		}
		plen += (size_t)sprintf(perms + plen, "%c%u", p[0],
					(unsigned int)strtoul(p + 1, NULL, 0)) +
			1;
	}
	free(node->perms);
	node->perms = perms;
	node->plen = plen;
	node->gen = ++st->gen;
	fire_watches(st, path, false);
	free(path);
	ack(c, req);
	return 0;
}

static int op_watch(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	char *path;
	struct watch *w;

	(void)st;
	if (count_strings(body, req->len) < 2 || !(path = canonical(body, true)))
		return EINVAL;
	for (w = c->watches; w; w = w->next) {
		if (!strcmp(w->path, path) && !strcmp(w->token, body + strlen(body) + 1)) {
			free(path);
			return EEXIST;
		}
	}
	w = xmalloc(sizeof(*w));
	w->path = path;
	w->token = xmemdup(body + strlen(body) + 1, strlen(body + strlen(body) + 1));
	w->relative = body[0] != '/' && body[0] != '@';
	w->next = c->watches;
	c->watches = w;
	ack(c, req);
	/* The real daemon fires every new watch once, so clients need not read the initial state.
	 */
	send_event(c, w, path);
	return 0;
}

static void watch_free(struct watch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

static void watches_free(struct conn *c)
{
	while (c->watches) {
		struct watch *w = c->watches;
		c->watches = w->next;
		watch_free(w);
	}
}

static int op_unwatch(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	char *path;

	(void)st;
	if (count_strings(body, req->len) < 2 || !(path = canonical(body, true)))
		return EINVAL;
	for (struct watch **wp = &c->watches; *wp; wp = &(*wp)->next) {
		struct watch *w = *wp;
		if (!strcmp(w->path, path) && !strcmp(w->token, body + strlen(body) + 1)) {
			*wp = w->next;
			watch_free(w);
			free(path);
			ack(c, req);
			return 0;
		}
	}
	free(path);
	return ENOENT;
}

static int op_reset_watches(struct stub *st, struct conn *c, const struct xsd_sockmsg *req,
			    char *body)
{
	(void)st;
	(void)body;
	watches_free(c);
	ack(c, req);
	return 0;
}

/*
 * Transactions only hand out ids: their operations apply at once and "F" undoes nothing.
 * Tests see the same final state whenever the transaction commits, which is the common case.
 */
static int op_transaction_start(struct stub *st, struct conn *c, const struct xsd_sockmsg *req,
				char *body)
{
	char id[16];

	(void)body;
	if (req->tx_id)
		return EBUSY;
	for (size_t i = 0; i < MAX_TX; i++) {
		if (!c->tx[i]) {
			if (!++st->next_tx)
				st->next_tx = 1;
			c->tx[i] = st->next_tx;
			reply(c, req, id, (size_t)snprintf(id, sizeof(id), "%u", c->tx[i]) + 1);
			return 0;
		}
	}
	return ENOSPC;
}

static int op_transaction_end(struct stub *st, struct conn *c, const struct xsd_sockmsg *req,
			      char *body)
{
	const char *arg = onearg(body, req->len);

	(void)st;
	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return EINVAL;
	if (!req->tx_id)
		return ENOENT;
	for (size_t i = 0; i < MAX_TX; i++) {
		if (c->tx[i] == req->tx_id) {
			c->tx[i] = 0;
			ack(c, req);
			return 0;
		}
	}
	return ENOENT;
}

static int op_get_domain_path(struct stub *st, struct conn *c, const struct xsd_sockmsg *req,
			      char *body)
{
	const char *arg = onearg(body, req->len);
	char path[32];

	(void)st;
	if (!arg || !arg[0] || strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 5)
		return EINVAL;
	reply(c, req, path, (size_t)snprintf(path, sizeof(path), "/local/domain/%s", arg) + 1);
	return 0;
}

static int op_ok(struct stub *st, struct conn *c, const struct xsd_sockmsg *req, char *body)
{
	(void)st;
	(void)body;
	ack(c, req);
	return 0;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[XS_TYPE_COUNT] = {
    [XS_CONTROL] = {"CONTROL", op_ok},
    [XS_DIRECTORY] = {"DIRECTORY", op_directory},
    [XS_READ] = {"READ", op_read},
    [XS_GET_PERMS] = {"GET_PERMS", op_get_perms},
    [XS_WATCH] = {"WATCH", op_watch},
    [XS_UNWATCH] = {"UNWATCH", op_unwatch},
    [XS_TRANSACTION_START] = {"TRANSACTION_START", op_transaction_start},
    [XS_TRANSACTION_END] = {"TRANSACTION_END", op_transaction_end},
    [XS_GET_DOMAIN_PATH] = {"GET_DOMAIN_PATH", op_get_domain_path},
    [XS_WRITE] = {"WRITE", op_write},
    [XS_MKDIR] = {"MKDIR", op_mkdir},
    [XS_RM] = {"RM", op_rm},
    [XS_SET_PERMS] = {"SET_PERMS", op_set_perms},
    [XS_RESET_WATCHES] = {"RESET_WATCHES", op_reset_watches},
    [XS_DIRECTORY_PART] = {"DIRECTORY_PART", op_directory_part},
};

/* One line per request: op, tx, the arguments with NULs shown as spaces, and the outcome. */
static void log_request(FILE *log, const struct xsd_sockmsg *req, const char *body, int err)
{
	const char *name = req->type < XS_TYPE_COUNT ? ops[req->type].name : NULL;

	if (!log)
		return;
	if (name)
		fprintf(log, "%s", name);
	else
		fprintf(log, "type%u", req->type);
	fprintf(log, " tx=%u \"", req->tx_id);
	for (size_t i = 0; i < req->len && i < 200; i++) {
		unsigned char ch = (unsigned char)body[i];
		if (ch == '\0')
			fputc(i + 1 < req->len ? ' ' : '"', log);
		else
			fputc(ch >= 0x20 && ch < 0x7f && ch != '"' ? ch : '?', log);
	}
	if (!req->len || body[req->len - 1] != '\0' || req->len > 200)
		fputc('"', log);
	fprintf(log, " -> %s\n", err ? errname(err) : "OK");
	fflush(log);
}

static void handle_request(struct stub *st, struct conn *c, const struct xsd_sockmsg *req,
			   char *body)
{
	bool tx_open = !req->tx_id;
	int err;

	for (size_t i = 0; i < MAX_TX; i++)
		tx_open |= c->tx[i] == req->tx_id;
	if (!tx_open)
		err = ENOENT;
	else if (req->type < XS_TYPE_COUNT && ops[req->type].fn)
		err = ops[req->type].fn(st, c, req, body);
	else
		err = ENOSYS;
	if (err) {
		const char *e = errname(err);
		conn_queue(c, XS_ERROR, req->req_id, req->tx_id, e, strlen(e) + 1);
	}
	log_request(st->log, req, body, err);
}

static void conn_flush(struct conn *c)
{
	while (c->outlen && !c->dead) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			if (errno == EAGAIN)
				return;
			continue;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
}

static void conn_read(struct stub *st, struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	struct xsd_sockmsg req;
	char body[XENSTORE_PAYLOAD_MAX + 1];

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->dead = true;
		return;
	}
	c->inlen += (size_t)n;
	while (c->inlen >= sizeof(req) && !c->dead) {
		size_t total;

		memcpy(&req, c->in, sizeof(req));
		/* An oversized request is a protocol violation: the real daemon drops the client.
		 */
		if (req.len > XENSTORE_PAYLOAD_MAX) {
			c->dead = true;
			return;
		}
		total = sizeof(req) + req.len;
		if (c->inlen < total)
			return;
		/* The NUL after the payload keeps string functions inside it. */
		memcpy(body, c->in + sizeof(req), req.len);
		body[req.len] = '\0';
		memmove(c->in, c->in + total, c->inlen - total);
		c->inlen -= total;
		handle_request(st, c, &req, body);
	}
}

static void conn_free(struct conn *c)
{
	watches_free(c);
	close(c->fd);
	free(c->out);
	free(c);
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "xenstored-stub: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	/* A socket left by a killed stub is stale; anything else is not ours to delete. */
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			fprintf(stderr, "xenstored-stub: %s exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "xenstored-stub: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Written whole under a temporary name, so a test polling for the file never reads half. */
static int write_pid_file(const char *file)
{
	char tmp[4096];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0 || rename(tmp, file) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void serve(struct stub *st)
{
	struct pollfd *pfds = NULL;

	for (;;) {
		size_t npfd = st->nconns + 2;

		pfds = xrealloc(pfds, npfd * sizeof(*pfds));
		pfds[0] = (struct pollfd){.fd = st->sig_fd, .events = POLLIN};
		pfds[1] = (struct pollfd){.fd = st->listen_fd, .events = POLLIN};
		for (size_t i = 0; i < st->nconns; i++)
			pfds[i + 2] = (struct pollfd){
			    .fd = st->conns[i]->fd,
			    .events = POLLIN | (st->conns[i]->outlen ? POLLOUT : 0)};
		if (poll(pfds, npfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("xenstored-stub: poll");
			break;
		}
		if (pfds[0].revents)
			break;
		for (size_t i = 0; i < npfd - 2; i++) {
			if (pfds[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(st, st->conns[i]);
		}
		if (pfds[1].revents & POLLIN) {
			int fd = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0) {
				struct conn *c = xmalloc(sizeof(*c));
				memset(c, 0, sizeof(*c));
				c->fd = fd;
				st->conns = xrealloc(st->conns, (st->nconns + 1) * sizeof(c));
				st->conns[st->nconns++] = c;
			}
		}
		/* Requests queue events on other clients too, so flush everyone, then reap. */
		for (size_t i = 0; i < st->nconns;) {
			conn_flush(st->conns[i]);
			if (st->conns[i]->dead) {
				conn_free(st->conns[i]);
				st->conns[i] = st->conns[--st->nconns];
			} else {
				i++;
			}
		}
	}
	free(pfds);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xenstored-stub --socket PATH [--pid-file FILE] [--log FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"pid-file", required_argument, NULL, 'p'},
	    {"log", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *pid_file = NULL, *log_file = NULL;
	struct stub st = {.listen_fd = -1, .sig_fd = -1};
	sigset_t sigs;
	int opt, ret = 1;

	while ((opt = getopt_long(argc, argv, "s:p:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'l':
			log_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!sock || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Signals arrive through a descriptor, so the poll loop needs no global flag. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	st.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (st.sig_fd < 0) {
		perror("xenstored-stub: signalfd");
		return 1;
	}
	if (log_file && !(st.log = fopen(log_file, "a"))) {
		fprintf(stderr, "xenstored-stub: %s: %s\n", log_file, strerror(errno));
		goto out;
	}
	st.root = xmalloc(sizeof(*st.root));
	*st.root = (struct node){.name = xmemdup("", 0), .value = xmemdup("", 0)};
	st.root->perms = xmemdup("n0", 2);
	st.root->plen = 3;
	st.listen_fd = listen_on(sock);
	if (st.listen_fd < 0)
		goto out;
	if (pid_file && write_pid_file(pid_file) < 0) {
		fprintf(stderr, "xenstored-stub: %s: %s\n", pid_file, strerror(errno));
		unlink(sock);
		goto out;
	}
	serve(&st);
	unlink(sock);
	if (pid_file)
		unlink(pid_file);
	ret = 0;
out:
	for (size_t i = 0; i < st.nconns; i++)
		conn_free(st.conns[i]);
	free(st.conns);
	if (st.root)
		node_free(st.root);
	if (st.listen_fd >= 0)
		close(st.listen_fd);
	if (st.log)
		fclose(st.log);
	close(st.sig_fd);
	return ret;
}
