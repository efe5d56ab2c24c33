/* Termination signals noted for the program to act on, and the alarm that bounds waits. */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>

#include <libmnl/libmnl.h>
#include <string.h>

static volatile sig_atomic_t caught;

static void note(int sig)
{
	/* The first one is the one reported: the others block while this runs (sa_mask). */
	if (!caught)
		caught = sig;
}

static void wake(int sig)
{
	(void)sig; /* its only work is to make a blocked call return EINTR */
}

void sig_install(void)
{
	static const int ends[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		sigaddset(&sa.sa_mask, ends[i]);
	sa.sa_flags = 0; /* no SA_RESTART: see signals.h */
	sa.sa_handler = note;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		sigaction(ends[i], &sa, NULL);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = wake;
	sigaction(SIGALRM, &sa, NULL);
}

int sig_caught(void)
{
	return caught;
}

const char *sig_caught_name(void)
{
	return caught == SIGINT	   ? "SIGINT"
	       : caught == SIGTERM ? "SIGTERM"
	       : caught		   ? "SIGHUP"
				   : NULL;
}

int sig_exit_status(void)
{
	return caught ? 128 + caught : 1;
}

long sig_recv_again(struct mnl_socket *nl, void *buf, unsigned long len)
{
	ssize_t n;
	while ((n = mnl_socket_recvfrom(nl, buf, len)) < 0 && errno == EINTR)
		;
	return n;
}
