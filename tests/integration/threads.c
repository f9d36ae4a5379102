/*
 * threads: a static multi-threaded program that checks its own results.
 *  - 8 threads contend on one mutex, each adding 1 to a shared counter
 *    100000 times: the total must be exact.
 *  - Two threads play condition-variable ping-pong for 5000 rounds,
 *    strictly alternating.
 *  - Thread-local storage: an initialised __thread variable starts from the
 *    TLS image in every thread, a large __thread array (so the TLS block is
 *    not tiny) is private to each thread, and pthread_key destructors run
 *    at thread exit with the thread's own value.
 *  - A barrier of 8, and pthread_join collecting every return value.
 * Prints one "ok ..." line per part and "PASS threads" last; exits 0 only
 * if every part held.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS   8
#define INCREMENTS 100000
#define ROUNDS	   5000

static int failures;

static void report(const char *what, int ok)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

/* ---- mutex contention --------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static pthread_barrier_t start_line;

static void *incrementer(void *arg)
{
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < INCREMENTS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return (void *)(long)syscall(SYS_gettid);
}

static void mutex_part(void)
{
	pthread_t t[NTHREADS];
	long tids[NTHREADS];
	int ok = 1;

	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, incrementer, NULL) != 0) {
			/* Nothing to join; the others wait at the barrier. */
			report("pthread_create", 0);
			exit(1);
		}
	for (int i = 0; i < NTHREADS; i++) {
		void *r = NULL;
		ok &= pthread_join(t[i], &r) == 0;
		tids[i] = (long)r;
	}
	pthread_barrier_destroy(&start_line);
	for (int i = 0; i < NTHREADS; i++)
		for (int j = 0; j < i; j++)
			ok &= tids[i] != tids[j] && tids[i] != getpid();
	report("8 threads created and joined, distinct tids", ok);
	report("mutex: counter == 8 x 100000",
	       counter == (long)NTHREADS * INCREMENTS);
}

/* ---- condition-variable ping-pong ------------------------------------- */

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int turn;		/* 0: ping's turn, 1: pong's */
static char played[2 * ROUNDS]; /* who moved, in order */
static int nplayed;

static void *player(void *arg)
{
	int me = (int)(long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&pp_lock);
		while (turn != me)
			pthread_cond_wait(&pp_cond, &pp_lock);
		if (nplayed < 2 * ROUNDS)
			played[nplayed++] = (char)me;
		turn = !me;
		pthread_cond_signal(&pp_cond);
		pthread_mutex_unlock(&pp_lock);
	}
	return NULL;
}

static void condvar_part(void)
{
	pthread_t a, b;

	if (pthread_create(&a, NULL, player, (void *)0L) != 0 ||
	    pthread_create(&b, NULL, player, (void *)1L) != 0) {
		report("pthread_create", 0);
		exit(1);
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	int ok = nplayed == 2 * ROUNDS && turn == 0;
	for (int i = 0; ok && i < nplayed; i++)
		ok = played[i] == i % 2;
	report("condvar ping-pong: 5000 strictly alternating rounds", ok);
}

/* ---- thread-local storage ----------------------------------------------- */

static __thread long tls_init = 12345;
static __thread char tls_big[64 * 1024];
static pthread_key_t key;
static long destructor_sum;
static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;

static void destructor(void *v)
{
	pthread_mutex_lock(&sum_lock);
	destructor_sum += (long)v;
	pthread_mutex_unlock(&sum_lock);
}

static void *tls_worker(void *arg)
{
	long id = (long)arg;
	int ok = tls_init == 12345;

	for (size_t i = 0; i < sizeof(tls_big); i++)
		ok &= tls_big[i] == 0;
	tls_init += id;
	memset(tls_big, (int)id, sizeof(tls_big));
	pthread_setspecific(key, (void *)id);
	pthread_barrier_wait(&start_line);
	/* Everyone has written theirs: ours must still be ours. */
	ok &= tls_init == 12345 + id;
	for (size_t i = 0; i < sizeof(tls_big); i += 4096)
		ok &= tls_big[i] == (char)id;
	ok &= (long)pthread_getspecific(key) == id;
	return (void *)(long)ok;
}

static void tls_part(void)
{
	pthread_t t[NTHREADS];
	int ok = 1;

	pthread_key_create(&key, destructor);
	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, tls_worker, (void *)(i + 1))) {
			report("pthread_create", 0);
			exit(1);
		}
	for (int i = 0; i < NTHREADS; i++) {
		void *r = NULL;
		pthread_join(t[i], &r);
		ok &= (long)r == 1;
	}
	report("TLS: fresh image per thread, private values", ok);
	report("TLS: main thread's copy untouched", tls_init == 12345);
	report("pthread_key destructors ran with each thread's value",
	       destructor_sum == NTHREADS * (NTHREADS + 1) / 2);
	pthread_barrier_destroy(&start_line);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	mutex_part();
	condvar_part();
	tls_part();
	if (failures) {
		printf("FAILED threads: %d part(s)\n", failures);
		return 1;
	}
	printf("PASS threads\n");
	return 0;
}
