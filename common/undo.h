/* The undo journal: every change registers its inverse, and a failure unwinds them in reverse. */
#ifndef XNH_UNDO_H
#define XNH_UNDO_H

#include <stddef.h>

#define UNDO_ARG_SZ 64

typedef int (*undo_fn)(void *ctx, const void *arg);

struct undo_step {
	undo_fn fn;
	void (*release)(const void *arg); /* drops what arg holds when the step is not run */
	char what[48];			  /* copied: callers may pass a buffer of their own */
	unsigned char arg[UNDO_ARG_SZ];
};

/* Zero-initialised it is empty; it grows as steps are pushed, and is freed when emptied. */
struct undo {
	size_t n, cap;
	struct undo_step *steps;
};

/* Record how to reverse a change just made; arg (at most UNDO_ARG_SZ bytes) is copied. */
int undo_push(struct undo *u, undo_fn fn, const void *arg, size_t arg_len, const char *what);

/* The same, for an inverse whose arg holds a reference: release drops it if never run. */
int undo_push_ref(struct undo *u, undo_fn fn, void (*release)(const void *arg), const void *arg,
		  size_t arg_len, const char *what);

/* Run every inverse, newest first; returns the number that failed. Leaves the journal empty. */
int undo_unwind(struct undo *u, void *ctx, void (*report)(void *ctx, const char *what, int err));

/* The changes are kept: forget their inverses. */
void undo_commit(struct undo *u);

#endif
