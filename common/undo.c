/* The undo journal: every change registers its inverse, and a failure unwinds them in reverse. */
#include "undo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int undo_push(struct undo *u, undo_fn fn, const void *arg, size_t arg_len, const char *what)
{
	return undo_push_ref(u, fn, NULL, arg, arg_len, what);
}

int undo_push_ref(struct undo *u, undo_fn fn, void (*release)(const void *arg), const void *arg,
		  size_t arg_len, const char *what)
{
	if (arg_len > UNDO_ARG_SZ)
		return -EINVAL;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 32;
		struct undo_step *steps = realloc(u->steps, cap * sizeof(*steps));
		if (!steps)
			return -ENOMEM;
		u->steps = steps;
		u->cap = cap;
	}
	struct undo_step *s = &u->steps[u->n++];
	s->fn = fn;
	s->release = release;
	snprintf(s->what, sizeof(s->what), "%s", what ? what : "change");
	memset(s->arg, 0, sizeof(s->arg));
	if (arg_len)
		memcpy(s->arg, arg, arg_len);
	return 0;
}

int undo_unwind(struct undo *u, void *ctx, void (*report)(void *ctx, const char *what, int err))
{
	int failed = 0;

	while (u->n > 0) {
		struct undo_step *s = &u->steps[--u->n];
		int err = s->fn(ctx, s->arg);
		if (err) {
			failed++;
			if (report)
				report(ctx, s->what, err);
		}
	}
	free(u->steps);
	u->steps = NULL;
	u->cap = 0;
	return failed;
}

void undo_commit(struct undo *u)
{
	while (u->n > 0) {
		struct undo_step *s = &u->steps[--u->n];
		if (s->release)
			s->release(s->arg);
	}
	free(u->steps);
	u->steps = NULL;
	u->cap = 0;
}
