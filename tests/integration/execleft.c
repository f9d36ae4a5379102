/*
 * execleft: what a program can find, after an execve, of the image that
 * ran before it in the same process, outside its own memory.
 *
 * On systrap an exec may keep the process's stub (exec in place), whose
 * block still holds bytes of the old image: the signal frame a parked
 * thread exited in (its registers and FPU state) and the slots. That is
 * only allowed while the old image ran with the credentials it began with.
 * A root process that drops to another user and then execs must get a
 * fresh stub: the new, unprivileged program must not find what the
 * privileged one left.
 *
 * The driver runs two children. Each starts a thread that puts a marker
 * into xmm8-xmm15 and exits by a raw exit (its host thread is parked with
 * that frame), joins it, then execs this program as "reader": one as it
 * is, one after setresuid(65534). The reader finds its block from the gs
 * base (the stub points it at the thread's slot) and scans the slots and
 * the signal stacks for the marker before it makes any system call.
 *   exit 10: found; 11: not found; 12: no stub block (native, ptrace).
 * Expected: after setresuid, never found; as is, found on systrap (the
 * check that the scan can find the marker at all), 12 elsewhere.
 * Must run as root. Prints "ok ..." lines and "PASS execleft".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK_SIZE (4UL << 20) /* platform/systrap/layout.h */
#define SLOTS_OFF 0x4000UL
#define SLOTS_END 0x84000UL
#define STACKS_OFF 0x200000UL

/* The marker, made at run time so that the reader holds it in no register
 * or memory of its own before it scans: 16 bytes, each MARK_BASE ^ i. */
#define MARK_BASE 0xa5

static void *leave_marker(void *arg)
{
	(void)arg;
	uint8_t m[16];
	for (int i = 0; i < 16; i++)
		m[i] = (uint8_t)(MARK_BASE ^ i);
	__asm__ volatile("movdqu (%0), %%xmm8\n\t"
			 "movdqa %%xmm8, %%xmm9\n\t"
			 "movdqa %%xmm8, %%xmm10\n\t"
			 "movdqa %%xmm8, %%xmm11\n\t"
			 "movdqa %%xmm8, %%xmm12\n\t"
			 "movdqa %%xmm8, %%xmm13\n\t"
			 "movdqa %%xmm8, %%xmm14\n\t"
			 "movdqa %%xmm8, %%xmm15\n\t"
			 "mov $60, %%eax\n\t" /* exit: this thread only */
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "ud2"
			 :
			 : "r"(m)
			 : "memory");
	return NULL;
}

static int reader(void)
{
	uint64_t gs;
	__asm__ volatile("rdgsbase %0" : "=r"(gs));
	if (!gs)
		return 12;
	uint64_t block = gs & ~(BLOCK_SIZE - 1);
	const volatile uint8_t *p;
	int found = 0;
	/* Byte by byte, no library call: compares of the marker's bytes
	 * one at a time never hold all 16 in a register. */
	for (int part = 0; part < 2 && !found; part++) {
		uint64_t lo = block + (part ? STACKS_OFF : SLOTS_OFF);
		uint64_t hi = block + (part ? BLOCK_SIZE : SLOTS_END);
		for (p = (const volatile uint8_t *)lo;
		     p + 16 <= (const volatile uint8_t *)hi && !found; p++) {
			int i = 0;
			while (i < 16 && p[i] == (uint8_t)(MARK_BASE ^ i))
				i++;
			found = i == 16;
		}
	}
	return found ? 10 : 11;
}

static int failures;

static void check(const char *what, int ok)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

/* Whether /proc/self/status says one thread, asked until it does (at
 * most 100 000 times). */
static int alone(void)
{
	for (int i = 0; i < 100000; i++) {
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		int n = 0;
		if (!f)
			return 0;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Threads: %d", &n) == 1)
				break;
		fclose(f);
		if (n == 1)
			return 1;
		sched_yield();
	}
	return 0;
}

/* One child: leave the marker, maybe drop root, exec the reader. */
static int run_child(const char *self, int drop)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		pthread_t th;
		if (pthread_create(&th, NULL, leave_marker, NULL) != 0 ||
		    pthread_join(th, NULL) != 0)
			_exit(2);
		/* The join returns once the thread's tid word is cleared,
		 * a little before the thread is gone from its process (as on
		 * Linux); the exec keeps the stub only when it is alone. */
		if (!alone())
			_exit(5);
		if (drop && setresuid(65534, 65534, 65534) != 0)
			_exit(3);
		execl(self, self, "reader", (char *)NULL);
		_exit(4);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "reader"))
		return reader();
	if (geteuid() != 0) {
		printf("FAIL execleft needs root (setresuid)\n");
		return 1;
	}
	uint64_t gs;
	__asm__ volatile("rdgsbase %0" : "=r"(gs));
	int as_is = run_child("/proc/self/exe", 0);
	int dropped = run_child("/proc/self/exe", 1);
	printf("reader as is: %d, after setresuid: %d (10 found, 11 not, "
	       "12 no block)\n", as_is, dropped);
	check("after setresuid the old image's marker is not found",
	      dropped == 11 || dropped == 12);
	if (gs)
		check("as is, the scan finds the marker (it can see it)",
		      as_is == 10);
	else
		check("no stub block here, nothing to scan", as_is == 12);
	if (failures)
		return 1;
	printf("PASS execleft\n");
	return 0;
}
