/* futex and robust lists; the work is in sentry/kernel/futex.c. */
#include <errno.h>

#include "../sentry/kernel/futex.h"
#include "handlers.h"

SYSCALL(futex)
{
	return futex_op(t, a->a[0], (int)a->a[1], (uint32_t)a->a[2], a->a[3],
			a->a[4], (uint32_t)a->a[5]);
}

SYSCALL(set_robust_list)
{
	if (a->a[1] != 24) /* sizeof(struct robust_list_head) */
		return -EINVAL;
	t->robust_list = a->a[0];
	t->robust_len = a->a[1];
	return 0;
}

SYSCALL(get_robust_list)
{
	int pid = (int)a->a[0];
	uint64_t head, len;

	pthread_mutex_lock(&t->k->lock);
	struct task *x = pid ? task_lookup(t->k, pid) : t;
	long err = 0;
	if (!x || x->exiting)
		err = -ESRCH;
	else if (!may_signal(t, x, 0))
		err = -EPERM;
	else {
		head = x->robust_list;
		len = x->robust_len ? x->robust_len : 24;
	}
	pthread_mutex_unlock(&t->k->lock);
	if (err)
		return err;
	err = task_copy_out(t, a->a[1], &head, sizeof(head));
	if (!err)
		err = task_copy_out(t, a->a[2], &len, sizeof(len));
	return err;
}
