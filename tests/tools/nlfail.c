/*
 * nlfail.so: fault injection for the tests, loaded with LD_PRELOAD.
 *
 * Counts the requests that change the kernel's network state (RTM_NEW*, RTM_DEL*, RTM_SET*;
 * never RTM_GET*) that the program sends on NETLINK_ROUTE sockets, and makes the one that
 * reaches $NLFAIL_AT (1-based) fail without reaching the kernel. How it fails is
 * $NLFAIL_MODE:
 *   send (the default)  the send itself fails: -1 with errno EIO;
 *   nack                the send "succeeds" and the next receive on that socket returns the
 *                       kernel's refusal, an NLMSG_ERROR acknowledgement carrying -EIO with
 *                       the request's sequence number: a step the kernel refused.
 * A test learns how many steps a run has from $NLFAIL_COUNT, a file rewritten with the running
 * total after each such request (so it is right even if the program is killed), then fails
 * each step in turn. $NLFAIL_LOG, when set, gets one line per request ("N TYPE [failed]"), to
 * tell which step a failure was injected at.
 *
 * The programs link libc dynamically (libnl statically), so their calls to sendmsg/sendto go
 * through libc's symbols and land here; libnl sends with sendmsg (and sendto in nl_sendto) and
 * receives with recvmsg, libmnl uses sendto and recvfrom.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

static unsigned long seen;    /* mutating requests so far, the failed one included */
static unsigned long fail_at; /* 0: never fail */
static bool nack;	      /* NLFAIL_MODE=nack */
static bool configured;

/* The refusal waiting to be received (nack mode): one at most, requests are synchronous. */
static struct {
	int fd; /* -1: none */
	size_t len;
	unsigned char buf[NLMSG_SPACE(sizeof(struct nlmsgerr))];
} pending = {.fd = -1};

static void configure(void)
{
	if (configured)
		return;
	configured = true;
	const char *at = getenv("NLFAIL_AT");
	if (at && *at) {
		char *end;
		unsigned long n = strtoul(at, &end, 10);
		if (*end == '\0')
			fail_at = n;
	}
	const char *mode = getenv("NLFAIL_MODE");
	nack = mode && !strcmp(mode, "nack");
}

/* A socket of the routing netlink family? (NETLINK_ROUTE is 0, like IPPROTO_IP: check both.) */
static bool is_rtnetlink(int fd)
{
	int domain = -1, proto = -1;
	socklen_t dl = sizeof(domain), pl = sizeof(proto);
	int saved = errno;
	bool yes =
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain == AF_NETLINK &&
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0 && proto == NETLINK_ROUTE;
	errno = saved;
	return yes;
}

static bool mutating(unsigned type)
{
	/* rtnetlink types come in fours from RTM_BASE: NEW, DEL, GET, SET. */
	return type >= RTM_BASE && (type - RTM_BASE) % 4 != 2;
}

/* Appends or rewrites a small text file, keeping errno: the program must not notice us. */
static void put_file(const char *var, int flags, const char *text)
{
	const char *path = getenv(var);
	if (!path || !*path)
		return;
	int saved = errno;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd >= 0) {
		size_t len = strlen(text);
		if (write(fd, text, len) != (ssize_t)len) {
			/* A short file is noticed by the test; nothing better to do here. */
		}
		close(fd);
	}
	errno = saved;
}

/* The kernel's answer to a refused request: NLMSG_ERROR with -EIO and the request's header. */
static void queue_refusal(int fd, const struct nlmsghdr *req)
{
	struct nlmsghdr h = {
	    .nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)),
	    .nlmsg_type = NLMSG_ERROR,
	    .nlmsg_flags = 0,
	    .nlmsg_seq = req->nlmsg_seq,
	    .nlmsg_pid = req->nlmsg_pid,
	};
	struct nlmsgerr e = {.error = -EIO, .msg = *req};
	memset(pending.buf, 0, sizeof(pending.buf));
	memcpy(pending.buf, &h, sizeof(h));
	memcpy(pending.buf + NLMSG_HDRLEN, &e, sizeof(e));
	pending.len = h.nlmsg_len;
	pending.fd = fd;
}

/*
 * Counts the mutating requests in one datagram (it may hold several messages, as libmnl's
 * batches do); true when one of them is the request to fail (in nack mode its refusal is
 * then queued for fd).
 */
static bool count_buffer(int fd, const unsigned char *buf, size_t len)
{
	bool fail = false;
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			break;
		if (mutating(h.nlmsg_type) && (h.nlmsg_flags & NLM_F_REQUEST)) {
			seen++;
			bool this_one = fail_at && seen == fail_at;
			char line[64];
			snprintf(line, sizeof(line), "%lu %u%s\n", seen, h.nlmsg_type,
				 this_one ? " failed" : "");
			put_file("NLFAIL_LOG", O_APPEND, line);
			snprintf(line, sizeof(line), "%lu\n", seen);
			put_file("NLFAIL_COUNT", O_TRUNC, line);
			if (this_one) {
				fail = true;
				if (nack)
					queue_refusal(fd, &h);
			}
		}
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return fail;
}

/* The same for a scattered message: gathered into one buffer first (requests are small). */
static bool count_iov(int fd, const struct iovec *iov, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (!total)
		return false;
	unsigned char *buf = malloc(total);
	if (!buf)
		return false;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	bool fail = count_buffer(fd, buf, total);
	free(buf);
	return fail;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		fprintf(stderr, "nlfail: cannot find %s: %s\n", name, dlerror());
		abort();
	}
	return f;
}

/* What a send of len bytes that was made to fail returns. */
static ssize_t failed_send(size_t len)
{
	if (nack)
		return (ssize_t)len;
	errno = EIO;
	return -1;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))next("sendmsg");
	configure();
	if (msg && is_rtnetlink(fd) && count_iov(fd, msg->msg_iov, msg->msg_iovlen)) {
		size_t len = 0;
		for (size_t i = 0; i < msg->msg_iovlen; i++)
			len += msg->msg_iov[i].iov_len;
		return failed_send(len);
	}
	return real(fd, msg, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, int, const struct sockaddr *,
				   socklen_t))next("sendto");
	configure();
	if (buf && is_rtnetlink(fd) && count_buffer(fd, buf, len))
		return failed_send(len);
	return real(fd, buf, len, flags, to, tolen);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, const void *, size_t, int);
	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, int))next("send");
	configure();
	if (buf && is_rtnetlink(fd) && count_buffer(fd, buf, len))
		return failed_send(len);
	return real(fd, buf, len, flags);
}

/* Each message of the vector is a datagram of its own: the failing one ends the vector. */
int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
	static int (*real)(int, struct mmsghdr *, unsigned int, int);
	if (!real)
		real = (int (*)(int, struct mmsghdr *, unsigned int, int))next("sendmmsg");
	configure();
	if (!vec || !is_rtnetlink(fd))
		return real(fd, vec, n, flags);
	for (unsigned int i = 0; i < n; i++) {
		if (count_iov(fd, vec[i].msg_hdr.msg_iov, vec[i].msg_hdr.msg_iovlen)) {
			if (nack) {
				/* Those before it really go; this one seems to. */
				int sent = i ? real(fd, vec, i, flags) : 0;
				if (sent < (int)i)
					return sent;
				vec[i].msg_len = 0;
				for (size_t k = 0; k < vec[i].msg_hdr.msg_iovlen; k++)
					vec[i].msg_len +=
					    (unsigned)vec[i].msg_hdr.msg_iov[k].iov_len;
				return (int)i + 1;
			}
			if (i == 0) {
				errno = EIO;
				return -1;
			}
			/* Those before it are sent; the caller sees a partial send. */
			return real(fd, vec, i, flags);
		}
	}
	return real(fd, vec, n, flags);
}

/*
 * Delivers the queued refusal, if any, into iov as a receive would: MSG_PEEK leaves it queued,
 * MSG_TRUNC asks for its full length. Returns -2 when there is none for fd.
 */
static ssize_t take_refusal(int fd, const struct iovec *iov, size_t n, int flags, bool *trunc)
{
	if (pending.fd < 0 || pending.fd != fd)
		return -2;
	size_t off = 0;
	for (size_t i = 0; i < n && off < pending.len; i++) {
		size_t k = pending.len - off < iov[i].iov_len ? pending.len - off : iov[i].iov_len;
		memcpy(iov[i].iov_base, pending.buf + off, k);
		off += k;
	}
	*trunc = off < pending.len;
	ssize_t r = (ssize_t)((flags & MSG_TRUNC) ? pending.len : off);
	if (!(flags & MSG_PEEK))
		pending.fd = -1;
	return r;
}

static void from_kernel(struct sockaddr *addr, socklen_t *alen)
{
	if (!addr || !alen)
		return;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	memcpy(addr, &nl, *alen < sizeof(nl) ? *alen : sizeof(nl));
	*alen = sizeof(nl);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	if (!real)
		real = (ssize_t(*)(int, struct msghdr *, int))next("recvmsg");
	bool trunc;
	ssize_t r;
	if (msg && (r = take_refusal(fd, msg->msg_iov, msg->msg_iovlen, flags, &trunc)) != -2) {
		from_kernel(msg->msg_name, &msg->msg_namelen);
		msg->msg_controllen = 0;
		msg->msg_flags = trunc ? MSG_TRUNC : 0;
		return r;
	}
	return real(fd, msg, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen)
{
	static ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	if (!real)
		real = (ssize_t(*)(int, void *, size_t, int, struct sockaddr *, socklen_t *))next(
		    "recvfrom");
	struct iovec iov = {buf, len};
	bool trunc;
	ssize_t r = take_refusal(fd, &iov, 1, flags, &trunc);
	if (r != -2) {
		from_kernel(addr, alen);
		return r;
	}
	return real(fd, buf, len, flags, addr, alen);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	if (!real)
		real = (ssize_t(*)(int, void *, size_t, int))next("recv");
	struct iovec iov = {buf, len};
	bool trunc;
	ssize_t r = take_refusal(fd, &iov, 1, flags, &trunc);
	return r != -2 ? r : real(fd, buf, len, flags);
}
