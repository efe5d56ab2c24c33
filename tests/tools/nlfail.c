/*
 * nlfail.so: fault injection for the tests, loaded with LD_PRELOAD.
 *
 * Counts the steps that change the system, in the order the program makes them, and makes the
 * one that reaches $NLFAIL_AT (1-based) fail without taking effect. A step is one of (the kind,
 * as the log names it):
 *   route   a request that changes the kernel's network state on a NETLINK_ROUTE socket
 *           (RTM_NEW*, RTM_DEL*, RTM_SET*; never RTM_GET*);
 *   nft     an nf_tables batch on a NETLINK_NETFILTER socket, as a whole: the kernel takes or
 *           refuses a batch atomically;
 *   ct      a connection-tracking entry deletion (ctnetlink IPCTNL_MSG_CT_DELETE);
 *   sysctl  a write to a file under /proc/sys;
 *   file    a rename (how files are replaced atomically) or an unlink, but for the lock files
 *           under $XEN_LOCK_DIR (a lock's release, no change);
 *   xs      a xenstore request that changes the store (write, mkdir, rm, set-perms) on the
 *           xenstored socket;
 *   exec    a program started (posix_spawn, or execve after fork): iptables, a DHCP server's
 *           init script, a hook;
 *   signal  a signal sent to another process (dnsmasq's SIGHUP).
 * How the step fails is $NLFAIL_MODE:
 *   send (the default)  the call itself fails (EIO; ENOENT for exec, ESRCH for signal);
 *   nack                the request "goes" and the other side refuses it: the kernel's
 *                       NLMSG_ERROR carrying -EIO (for a batch: one per message, the first
 *                       -EIO), xenstored's error reply EACCES, EACCES from a file operation,
 *                       a started program that exits 1, EPERM from kill;
 *   stop                the program stops itself (SIGSTOP) just before the step, which then
 *                       goes ahead as usual once it is continued: a test can act between two
 *                       steps of a program (a race made certain), then send SIGCONT; the
 *                       pid of the stopped process, then the program's (the same but for a
 *                       step taken in a forked child), go to the file $NLFAIL_STOPPED first;
 *   kill                the program dies of SIGKILL just before the step, which never happens:
 *                       what libxl's timeout, the OOM killer or a power cut leave behind, for a
 *                       test of the next run's repair. A step taken in a forked child kills the
 *                       program first, then the child: the program is what is interrupted. (A
 *                       datagram goes whole or not at all: were there two requests in one, dying
 *                       before the second would lose the first too; the programs send one.)
 * A test learns how many steps a run has from $NLFAIL_COUNT, a file rewritten with the running
 * total as each step is counted, before it is taken (so it is right even if the program is
 * killed; in kill mode it ends at the step the program died before), then fails each step in
 * turn. $NLFAIL_LOG, when set, gets one line per step, "N KIND DETAIL" with " failed" at the end
 * of the failed one (in kill mode, the last line).
 *
 * The count lives in shared memory, so that a step taken in a forked child (the execve of an
 * init script) is counted in the parent's sequence. The shim takes LD_PRELOAD and NLFAIL_* out
 * of the environment at load time: the programs the program starts (iptables, init scripts,
 * hooks) run without it, as they would without the test.
 *
 * The programs link libc dynamically (libnl, libxenstore and libnftnl statically, libmnl
 * dynamically), so their calls to these functions go through libc's symbols and land here.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* xenstore's wire header and the request types that change the store (xs_wire.h). */
struct xs_hdr {
	uint32_t type, req_id, tx_id, len;
};
enum { XS_MKDIR = 12, XS_RM = 13, XS_SET_PERMS = 14, XS_WRITE = 11, XS_ERROR = 16 };

static unsigned long local_seen;
static unsigned long *seen = &local_seen; /* shared with forked children when mmap works */
static unsigned long fail_at;		  /* 0: never fail */
static bool nack;			  /* NLFAIL_MODE=nack */
static bool stop;			  /* NLFAIL_MODE=stop */
static bool die;			  /* NLFAIL_MODE=kill */
static pid_t program;			  /* the process the shim was loaded into */
static char count_path[512], log_path[512], lock_dir[512], stopped_path[512];

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		fprintf(stderr, "nlfail: cannot find %s: %s\n", name, dlerror());
		abort();
	}
	return f;
}

/* The next definition of name (libc's): the same type as ours. */
#define REAL(name)                                                                                 \
	static __typeof__(name) *real_##name;                                                      \
	if (!real_##name)                                                                          \
	real_##name = (__typeof__(name) *)next(#name)

static void copy_env(const char *var, char *buf, size_t len)
{
	const char *v = getenv(var);
	snprintf(buf, len, "%s", v ? v : "");
}

__attribute__((constructor)) static void configure(void)
{
	const char *at = getenv("NLFAIL_AT");
	if (at && *at) {
		char *end;
		unsigned long n = strtoul(at, &end, 10);
		if (*end == '\0')
			fail_at = n;
	}
	const char *mode = getenv("NLFAIL_MODE");
	nack = mode && !strcmp(mode, "nack");
	stop = mode && !strcmp(mode, "stop");
	die = mode && !strcmp(mode, "kill");
	program = getpid();
	copy_env("NLFAIL_COUNT", count_path, sizeof(count_path));
	copy_env("NLFAIL_LOG", log_path, sizeof(log_path));
	copy_env("NLFAIL_STOPPED", stopped_path, sizeof(stopped_path));
	copy_env("XEN_LOCK_DIR", lock_dir, sizeof(lock_dir));
	void *m =
	    mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED)
		seen = m;
	unsetenv("LD_PRELOAD");
	unsetenv("NLFAIL_AT");
	unsetenv("NLFAIL_MODE");
	unsetenv("NLFAIL_COUNT");
	unsetenv("NLFAIL_LOG");
	unsetenv("NLFAIL_STOPPED");
}

/* Appends or rewrites a small text file, keeping errno: the program must not notice us. */
static void put_file(const char *path, int flags, const char *text)
{
	REAL(open);
	REAL(write);
	if (!*path)
		return;
	int saved = errno;
	int fd = real_open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd >= 0) {
		size_t len = strlen(text);
		if (real_write(fd, text, len) != (ssize_t)len) {
			/* A short file is noticed by the test; nothing better to do here. */
		}
		close(fd);
	}
	errno = saved;
}

/* One step of kind (with what it is, for the log): true when it is the one to fail. */
static bool step(const char *kind, const char *fmt, ...)
{
	char detail[200], line[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	unsigned long n = __atomic_add_fetch(seen, 1, __ATOMIC_SEQ_CST);
	bool fail = fail_at && n == fail_at;
	snprintf(line, sizeof(line), "%lu %s %s%s\n", n, kind, detail, fail ? " failed" : "");
	put_file(log_path, O_APPEND, line);
	snprintf(line, sizeof(line), "%lu\n", n);
	put_file(count_path, O_TRUNC, line);
	if (fail && die) {
		/* The log and the count are written above: a test reads where the program died. */
		REAL(kill);
		if (getpid() != program)
			real_kill(program, SIGKILL);
		raise(SIGKILL);
	}
	if (fail && stop) {
		int saved = errno;
		char pid[64];
		snprintf(pid, sizeof(pid), "%ld %ld\n", (long)getpid(), (long)program);
		put_file(stopped_path, O_TRUNC, pid);
		raise(SIGSTOP);
		errno = saved;
		return false;
	}
	return fail;
}

/* ---------------------------------------------------------------- canned answers */

/*
 * The answer waiting to be received on one descriptor (nack mode): a netlink datagram,
 * delivered whole, or xenstored's reply, read as a stream. One at most: requests are
 * synchronous.
 */
static struct {
	int fd; /* -1: none */
	bool stream;
	size_t len, off;
	unsigned char buf[16384];
} pending = {.fd = -1};

/* A nacked xenstore request: its payload, still to be written, is swallowed. */
static struct {
	int fd;
	size_t left;
} swallow = {.fd = -1};

static void queue_ack(int fd, const struct nlmsghdr *req, int error)
{
	/* Addressed to the socket, as the kernel's answers are (the request may carry 0). */
	struct sockaddr_nl self = {0};
	socklen_t sl = sizeof(self);
	int saved = errno;
	if (getsockname(fd, (struct sockaddr *)&self, &sl) < 0 || !self.nl_pid)
		self.nl_pid = req->nlmsg_pid;
	errno = saved;
	struct nlmsghdr h = {
	    .nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)),
	    .nlmsg_type = NLMSG_ERROR,
	    .nlmsg_seq = req->nlmsg_seq,
	    .nlmsg_pid = self.nl_pid,
	};
	struct nlmsgerr e = {.error = error, .msg = *req};
	if (pending.fd != fd) {
		pending.len = 0;
		pending.off = 0;
	}
	if (pending.len + NLMSG_SPACE(sizeof(e)) > sizeof(pending.buf))
		return;
	unsigned char *p = pending.buf + pending.len;
	memset(p, 0, NLMSG_SPACE(sizeof(e)));
	memcpy(p, &h, sizeof(h));
	memcpy(p + NLMSG_HDRLEN, &e, sizeof(e));
	pending.len += NLMSG_SPACE(sizeof(e));
	pending.fd = fd;
	pending.stream = false;
}

/* ---------------------------------------------------------------- netlink */

static int netlink_protocol(int fd)
{
	int domain = -1, proto = -1;
	socklen_t dl = sizeof(domain), pl = sizeof(proto);
	int saved = errno;
	bool yes = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 &&
		   domain == AF_NETLINK &&
		   getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0;
	errno = saved;
	return yes ? proto : -1;
}

static const char *rtm_name(unsigned type)
{
	static const char *const names[] = {
	    [RTM_NEWLINK] = "RTM_NEWLINK",   [RTM_DELLINK] = "RTM_DELLINK",
	    [RTM_SETLINK] = "RTM_SETLINK",   [RTM_NEWADDR] = "RTM_NEWADDR",
	    [RTM_DELADDR] = "RTM_DELADDR",   [RTM_NEWROUTE] = "RTM_NEWROUTE",
	    [RTM_DELROUTE] = "RTM_DELROUTE", [RTM_NEWNEIGH] = "RTM_NEWNEIGH",
	    [RTM_DELNEIGH] = "RTM_DELNEIGH", [RTM_NEWRULE] = "RTM_NEWRULE",
	    [RTM_DELRULE] = "RTM_DELRULE",
	};
	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : NULL;
}

/* The rtnetlink requests of one datagram that change something: each a step. */
static bool route_steps(int fd, const unsigned char *buf, size_t len)
{
	bool fail = false;
	for (size_t off = 0; len - off >= sizeof(struct nlmsghdr);) {
		struct nlmsghdr h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			break;
		/* rtnetlink types come in fours from RTM_BASE: NEW, DEL, GET, SET. */
		if (h.nlmsg_type >= RTM_BASE && (h.nlmsg_type - RTM_BASE) % 4 != 2 &&
		    (h.nlmsg_flags & NLM_F_REQUEST)) {
			const char *name = rtm_name(h.nlmsg_type);
			if (name ? step("route", "%s", name) : step("route", "%u", h.nlmsg_type)) {
				fail = true;
				if (nack)
					queue_ack(fd, &h, -EIO);
			}
		}
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return fail;
}

/* A netfilter datagram: an nf_tables batch is one step, each conntrack deletion one. */
static bool netfilter_steps(int fd, const unsigned char *buf, size_t len)
{
	struct nlmsghdr h;
	if (len < sizeof(h))
		return false;
	memcpy(&h, buf, sizeof(h));
	if (h.nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
		unsigned n = 0;
		size_t off;
		for (off = 0; len - off >= sizeof(h); off += NLMSG_ALIGN(h.nlmsg_len)) {
			memcpy(&h, buf + off, sizeof(h));
			if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
				break;
			n += h.nlmsg_type != NFNL_MSG_BATCH_BEGIN &&
			     h.nlmsg_type != NFNL_MSG_BATCH_END;
		}
		if (!step("nft", "batch of %u", n))
			return false;
		if (!nack)
			return true;
		/* Refused as a whole: the first message's error, the others' acks. */
		bool first = true;
		for (off = 0; len - off >= sizeof(h); off += NLMSG_ALIGN(h.nlmsg_len)) {
			memcpy(&h, buf + off, sizeof(h));
			if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
				break;
			if (h.nlmsg_type == NFNL_MSG_BATCH_BEGIN ||
			    h.nlmsg_type == NFNL_MSG_BATCH_END || !(h.nlmsg_flags & NLM_F_ACK))
				continue;
			queue_ack(fd, &h, first ? -EIO : 0);
			first = false;
		}
		return true;
	}
	if (h.nlmsg_type == ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE) &&
	    h.nlmsg_len <= len && step("ct", "IPCTNL_MSG_CT_DELETE")) {
		if (nack)
			queue_ack(fd, &h, -EIO);
		return true;
	}
	return false;
}

static bool netlink_steps(int fd, const unsigned char *buf, size_t len)
{
	int proto = netlink_protocol(fd);
	return proto == NETLINK_ROUTE	    ? route_steps(fd, buf, len)
	       : proto == NETLINK_NETFILTER ? netfilter_steps(fd, buf, len)
					    : false;
}

/* The same for a scattered message: gathered into one buffer first (requests are small). */
static bool netlink_steps_iov(int fd, const struct iovec *iov, size_t n, size_t *total)
{
	*total = 0;
	for (size_t i = 0; i < n; i++)
		*total += iov[i].iov_len;
	if (!*total || netlink_protocol(fd) < 0)
		return false;
	unsigned char *buf = malloc(*total);
	if (!buf)
		return false;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	bool fail = netlink_steps(fd, buf, *total);
	free(buf);
	return fail;
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
	REAL(sendmsg);
	size_t len;
	if (msg && netlink_steps_iov(fd, msg->msg_iov, msg->msg_iovlen, &len))
		return failed_send(len);
	return real_sendmsg(fd, msg, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	REAL(sendto);
	if (buf && netlink_protocol(fd) >= 0 && netlink_steps(fd, buf, len))
		return failed_send(len);
	return real_sendto(fd, buf, len, flags, to, tolen);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	REAL(send);
	if (buf && netlink_protocol(fd) >= 0 && netlink_steps(fd, buf, len))
		return failed_send(len);
	return real_send(fd, buf, len, flags);
}

/* Each message of the vector is a datagram of its own: the failing one ends the vector. */
int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
	REAL(sendmmsg);
	if (!vec || netlink_protocol(fd) < 0)
		return real_sendmmsg(fd, vec, n, flags);
	for (unsigned int i = 0; i < n; i++) {
		size_t len;
		if (netlink_steps_iov(fd, vec[i].msg_hdr.msg_iov, vec[i].msg_hdr.msg_iovlen,
				      &len)) {
			if (nack) {
				/* Those before it really go; this one seems to. */
				int sent = i ? real_sendmmsg(fd, vec, i, flags) : 0;
				if (sent < (int)i)
					return sent;
				vec[i].msg_len = (unsigned)len;
				return (int)i + 1;
			}
			if (i == 0) {
				errno = EIO;
				return -1;
			}
			/* Those before it are sent; the caller sees a partial send. */
			return real_sendmmsg(fd, vec, i, flags);
		}
	}
	return real_sendmmsg(fd, vec, n, flags);
}

/*
 * Delivers the queued answer, if any, into iov as a receive would: a datagram whole (MSG_PEEK
 * leaves it queued, MSG_TRUNC asks for its full length), a stream in pieces. Returns -2 when
 * there is none for fd.
 */
static ssize_t take_answer(int fd, const struct iovec *iov, size_t n, int flags, bool *trunc)
{
	if (pending.fd < 0 || pending.fd != fd)
		return -2;
	size_t off = pending.off;
	for (size_t i = 0; i < n && off < pending.len; i++) {
		size_t k = pending.len - off < iov[i].iov_len ? pending.len - off : iov[i].iov_len;
		memcpy(iov[i].iov_base, pending.buf + off, k);
		off += k;
	}
	size_t got = off - pending.off;
	*trunc = !pending.stream && off < pending.len;
	ssize_t r = (ssize_t)((flags & MSG_TRUNC) && !pending.stream ? pending.len : got);
	if (!(flags & MSG_PEEK)) {
		if (pending.stream && off < pending.len)
			pending.off = off;
		else
			pending.fd = -1, pending.len = pending.off = 0;
	}
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
	REAL(recvmsg);
	bool trunc;
	ssize_t r;
	if (msg && (r = take_answer(fd, msg->msg_iov, msg->msg_iovlen, flags, &trunc)) != -2) {
		from_kernel(msg->msg_name, &msg->msg_namelen);
		msg->msg_controllen = 0;
		msg->msg_flags = trunc ? MSG_TRUNC : 0;
		return r;
	}
	return real_recvmsg(fd, msg, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen)
{
	REAL(recvfrom);
	struct iovec iov = {buf, len};
	bool trunc;
	ssize_t r = take_answer(fd, &iov, 1, flags, &trunc);
	if (r != -2) {
		from_kernel(addr, alen);
		return r;
	}
	return real_recvfrom(fd, buf, len, flags, addr, alen);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	REAL(recv);
	struct iovec iov = {buf, len};
	bool trunc;
	ssize_t r = take_answer(fd, &iov, 1, flags, &trunc);
	return r != -2 ? r : real_recv(fd, buf, len, flags);
}

/* ---------------------------------------------------------------- xenstore, /proc/sys */

/* Descriptors open for writing on /proc/sys, with their paths. */
#define MAX_FDS 1024
static char *sysctl_fds[MAX_FDS];

static void note_open(int fd, const char *path, int flags)
{
	if (fd < 0 || fd >= MAX_FDS)
		return;
	free(sysctl_fds[fd]);
	sysctl_fds[fd] = NULL;
	if ((flags & O_ACCMODE) != O_RDONLY && !strncmp(path, "/proc/sys/", 10))
		sysctl_fds[fd] = strdup(path + 10);
}

static bool is_unix_stream(int fd)
{
	int domain = -1, type = -1;
	socklen_t dl = sizeof(domain), tl = sizeof(type);
	int saved = errno;
	bool yes = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain == AF_UNIX &&
		   getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM;
	errno = saved;
	return yes;
}

static const char *xs_name(uint32_t type)
{
	return type == XS_WRITE	      ? "XS_WRITE"
	       : type == XS_MKDIR     ? "XS_MKDIR"
	       : type == XS_RM	      ? "XS_RM"
	       : type == XS_SET_PERMS ? "XS_SET_PERMS"
				      : NULL;
}

/* xenstored's refusal of a request: an XS_ERROR reply naming the errno. */
static void queue_xs_error(int fd, const struct xs_hdr *req)
{
	static const char text[] = "EACCES";
	struct xs_hdr h = {XS_ERROR, req->req_id, req->tx_id, sizeof(text)};
	memcpy(pending.buf, &h, sizeof(h));
	memcpy(pending.buf + sizeof(h), text, sizeof(text));
	pending.len = sizeof(h) + sizeof(text);
	pending.off = 0;
	pending.stream = true;
	pending.fd = fd;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	REAL(write);
	if (fd == swallow.fd && swallow.left) {
		size_t k = len < swallow.left ? len : swallow.left;
		swallow.left -= k;
		if (!swallow.left)
			swallow.fd = -1;
		return (ssize_t)k;
	}
	if (fd >= 0 && fd < MAX_FDS && sysctl_fds[fd] && step("sysctl", "%s", sysctl_fds[fd])) {
		errno = nack ? EACCES : EIO;
		return -1;
	}
	struct xs_hdr h;
	if (buf && len == sizeof(h) && fd > 2) {
		memcpy(&h, buf, sizeof(h));
		const char *name = xs_name(h.type);
		if (name && h.len <= 4096 && is_unix_stream(fd) && step("xs", "%s", name)) {
			if (!nack) {
				errno = EIO;
				return -1;
			}
			swallow.fd = h.len ? fd : -1;
			swallow.left = h.len;
			queue_xs_error(fd, &h);
			return (ssize_t)len;
		}
	}
	return real_write(fd, buf, len);
}

ssize_t read(int fd, void *buf, size_t len)
{
	REAL(read);
	struct iovec iov = {buf, len};
	bool trunc;
	ssize_t r = take_answer(fd, &iov, 1, 0, &trunc);
	return r != -2 ? r : real_read(fd, buf, len);
}

static int open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	REAL(open);
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	int fd = real_open(path, flags, mode);
	note_open(fd, path, flags);
	return fd;
}

int open64(const char *path, int flags, ...)
{
	REAL(open64);
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	int fd = real_open64(path, flags, mode);
	note_open(fd, path, flags);
	return fd;
}

int openat(int dir, const char *path, int flags, ...)
{
	REAL(openat);
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	int fd = real_openat(dir, path, flags, mode);
	note_open(fd, path, flags);
	return fd;
}

int close(int fd)
{
	REAL(close);
	if (fd >= 0 && fd < MAX_FDS && sysctl_fds[fd]) {
		free(sysctl_fds[fd]);
		sysctl_fds[fd] = NULL;
	}
	if (fd == pending.fd)
		pending.fd = -1;
	return real_close(fd);
}

/* ---------------------------------------------------------------- files, programs, signals */

int rename(const char *from, const char *to)
{
	REAL(rename);
	if (step("file", "rename %s", to)) {
		errno = nack ? EACCES : EIO;
		return -1;
	}
	return real_rename(from, to);
}

int unlink(const char *path)
{
	REAL(unlink);
	size_t n = strlen(lock_dir);
	bool lock = n && !strncmp(path, lock_dir, n) && path[n] == '/';
	if (!lock && step("file", "unlink %s", path)) {
		errno = nack ? EACCES : EIO;
		return -1;
	}
	return real_unlink(path);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	REAL(execve);
	if (step("exec", "%s", path)) {
		if (nack)
			_exit(1); /* it ran, and failed */
		errno = ENOENT;
		return -1;
	}
	return real_execve(path, argv, envp);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	REAL(posix_spawn);
	char args[160] = "";
	for (size_t i = 1, n = 0; argv[0] && argv[i] && n < sizeof(args); i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, " %s", argv[i]);
	if (step("exec", "%s%s", path, args)) {
		if (!nack)
			return ENOENT;
		static char *const no[] = {"false", NULL};
		return real_posix_spawn(pid, "/bin/false", fa, attr, no, envp);
	}
	return real_posix_spawn(pid, path, fa, attr, argv, envp);
}

int kill(pid_t pid, int sig)
{
	REAL(kill);
	if (sig && pid > 0 && pid != getpid() && step("signal", "%d to %d", sig, (int)pid)) {
		errno = nack ? EPERM : ESRCH;
		return -1;
	}
	return real_kill(pid, sig);
}
