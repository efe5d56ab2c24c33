/* Termination signals noted for the program to act on, and the alarm that bounds waits. */
#ifndef XNH_SIGNALS_H
#define XNH_SIGNALS_H

/*
 * Catch SIGINT, SIGTERM and SIGHUP: the first one's number is kept for sig_caught, and the
 * program goes on, so that it can undo what it did before it exits.  No SA_RESTART: a call
 * blocked when one arrives (a lock wait, a child's end) returns EINTR, and the program sees
 * it at once.  SIGALRM gets a handler that does nothing, also without SA_RESTART: the
 * bounded waits (lock.c) arm a timer so that a blocking call returns EINTR at their deadline.
 * Call it first thing in main: without it, that timer's SIGALRM would kill the program.
 */
void sig_install(void);

/* 0, or the number of the first of SIGINT, SIGTERM and SIGHUP caught since sig_install. */
int sig_caught(void);

/* That signal's name ("SIGTERM"), or NULL when none was caught. */
const char *sig_caught_name(void);

/* The exit status of a run that failed: 128 + that signal when one was caught, else 1. */
int sig_exit_status(void);

/* A receive from a socket, again when a signal interrupts it (the answer is still owed). */
struct mnl_socket;
long sig_recv_again(struct mnl_socket *nl, void *buf, unsigned long len);

#endif
