/* sleepers: a process tree that stays alive until killed, for kill.sh.
 * 4 children with 2 extra threads each, one grandchild, and the parent
 * with 2 threads: all block in pause() (or join). Prints "ready N" once
 * every process and thread is started (N = processes + threads). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int ready_w;

static void *sleeper(void *arg)
{
	(void)arg;
	char c = 't';
	if (write(ready_w, &c, 1) != 1)
		_exit(2);
	for (;;)
		pause();
	return NULL;
}

static void with_threads(int n)
{
	pthread_t t;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t, NULL, sleeper, NULL))
			_exit(3);
}

int main(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	ready_w = p[1];
	int expect = 0;
	for (int i = 0; i < 4; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			if (i == 0 && fork() == 0) {
				sleeper(NULL); /* the grandchild */
			}
			with_threads(2);
			sleeper(NULL);
		}
		expect += 3 + (i == 0);
	}
	with_threads(2);
	expect += 2;
	for (int got = 0; got < expect; got++) {
		char c;
		if (read(p[0], &c, 1) != 1)
			return 1;
	}
	printf("ready %d\n", expect + 1);
	fflush(stdout);
	for (;;)
		pause();
}
