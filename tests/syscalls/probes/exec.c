/*
 * exec: execve of the probe itself, and what survives it.  The new image
 * checks its argv and envp (exact round trip), that close-on-exec fds are
 * gone and the others kept, that handled signals are reset to SIG_DFL while
 * ignored ones stay ignored, that the mask and a pending blocked signal
 * survive, that the alternate signal stack is dropped, that the name and
 * AT_EXECFN follow the new file, and that exec from a non-leader thread
 * takes over the process's pid.  Failed execs (ENOENT, EFAULT, E2BIG) leave
 * the caller intact.  A parent's setpgid on a child that has exec'd gives
 * EACCES; a vfork parent resumes at the child's exec, before its exit.
 * The CPU time and peak memory of the image before an exec still count in
 * the process's getrusage after it.
 * Needs no file of its own; exec.c's companion execfiles.c covers
 * the failures that need files (EACCES, ENOEXEC, #! scripts, execveat).
 *
 * The stage a process runs is chosen by the PROBE_EXEC_STAGE variable; the
 * probe's own path comes from argv[0] (the runners pass an absolute path).
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/prctl.h>

extern char **environ;

static const char *self;

static const char *const image_argv[] = {"custom-argv0", "one", "two words", "",
					 "last",	 NULL};

static const char *getenv_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v ? v : def;
}

static int is_handler(int sig, void (*h)(int))
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == h;
}

/* ---- stages run by the new image ---------------------------------------- */

static int stage_image(int argc, char **argv)
{
	int ok = argc == 5;

	for (int i = 0; ok && i < 5; i++)
		ok = strcmp(argv[i], image_argv[i]) == 0;
	CHECK_TRUE("image: argv round trip (5 strings, one empty)", ok);
	CHECK_TRUE("image: argv[argc] == NULL", argv[argc] == NULL);

	int n = 0;
	while (environ[n])
		n++;
	CHECK_TRUE("image: envp has exactly 5 entries", n == 5);
	CHECK_TRUE("image: FOO=bar", strcmp(getenv_or("FOO", "?"), "bar") == 0);
	CHECK_TRUE("image: EMPTY= present and empty",
		   strcmp(getenv_or("EMPTY", "?"), "") == 0);
	CHECK_TRUE("image: env order kept",
		   strncmp(environ[0], "PROBE_EXEC_STAGE=", 17) == 0 &&
		       strcmp(environ[1], "FOO=bar") == 0);

	CHECK_TRUE("image: same pid",
		   getpid() == atol(getenv_or("PROBE_PID", "0")));
	CHECK_ERR("image: close-on-exec fd 10 is gone", fcntl(10, F_GETFD),
		  EBADF);
	CHECK_RET("image: fd 11 kept, flags clear", fcntl(11, F_GETFD), 0);

	CHECK_TRUE("image: handled SIGUSR1 reset to SIG_DFL",
		   is_handler(SIGUSR1, SIG_DFL));
	CHECK_TRUE("image: ignored SIGUSR2 still SIG_IGN",
		   is_handler(SIGUSR2, SIG_IGN));
	CHECK_TRUE("image: handled SIGTERM reset to SIG_DFL",
		   is_handler(SIGTERM, SIG_DFL));
	sigset_t m, p;
	sigprocmask(SIG_BLOCK, NULL, &m);
	CHECK_TRUE("image: mask kept (SIGHUP, SIGTERM)",
		   sigismember(&m, SIGHUP) && sigismember(&m, SIGTERM) &&
		       !sigismember(&m, SIGUSR1));
	sigpending(&p);
	CHECK_TRUE("image: blocked SIGHUP still pending",
		   sigismember(&p, SIGHUP));

	stack_t ss;
	CHECK_OK("image: sigaltstack query", sigaltstack(NULL, &ss));
	CHECK_TRUE("image: alternate stack dropped", ss.ss_flags == SS_DISABLE);

	/* The name is the new file's, not argv[0]. */
	char name[16] = {0}, want[16] = {0};
	const char *base = strrchr(getenv_or("PROBE_SELF", "/"), '/') + 1;
	strncpy(want, base, 15);
	prctl(PR_GET_NAME, name, 0, 0, 0);
	CHECK_TRUE("image: comm is the file's basename",
		   strcmp(name, want) == 0);
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	CHECK_TRUE("image: AT_EXECFN is the path given to execve",
		   execfn && strcmp(execfn, getenv_or("PROBE_SELF", "")) == 0);
	return probe_done();
}

static int stage_thread_image(void)
{
	CHECK_TRUE("thread image: pid is the old process's",
		   getpid() == atol(getenv_or("PROBE_PID", "0")));
	CHECK_TRUE("thread image: gettid == getpid",
		   syscall(SYS_gettid) == getpid());
	CHECK_TRUE("thread image: parent unchanged",
		   getppid() == atol(getenv_or("PROBE_PPID", "0")));
	return probe_done();
}

static int stage_null_argv(int argc, char **argv)
{
	/* Since Linux 5.18 an empty argv becomes { "" }. */
	CHECK_TRUE("NULL argv image: argc == 1 and argv[0] == \"\"",
		   argc == 1 && argv[0] && argv[0][0] == 0);
	return probe_done();
}

/* The strings page_edges lays against page boundaries. */
#define EDGE_CROSS "crosses-a-page-boundary"
#define EDGE_END "ends-at-a-page-end"

static int stage_pages(int argc, char **argv)
{
	CHECK_TRUE("page-edge image: argc == 3", argc == 3);
	CHECK_TRUE("a string across a page boundary arrives whole",
		   argc > 1 && strcmp(argv[1], EDGE_CROSS) == 0);
	CHECK_TRUE("a string ending at its page's end arrives whole",
		   argc > 2 && strcmp(argv[2], EDGE_END) == 0);
	return probe_done();
}

/* The strings scattered() lays out: the i-th of SCATTER_N. */
#define SCATTER_N 24
static void scatter_string(char *buf, size_t len, int i)
{
	snprintf(buf, len, "scattered-%02d-%.*s", i, i, "abcdefghijklmnopqrstuvwxyz");
}

static int stage_scatter(int argc, char **argv)
{
	char want[64];
	int good = 0;
	for (int i = 0; i < SCATTER_N && i + 1 < argc; i++) {
		scatter_string(want, sizeof(want), i);
		good += strcmp(argv[i + 1], want) == 0;
	}
	CHECK_TRUE("scattered argv: argc", argc == SCATTER_N + 1);
	CHECK_TRUE("scattered argv: every string whole and in order",
		   good == SCATTER_N);
	const char *e = getenv("SCATTER_ENV");
	CHECK_TRUE("scattered envp: a variable from the lower page",
		   e && strcmp(e, "low-in-its-page") == 0);
	return probe_done();
}

/* Holds until its gate (fd 0) closes, after telling fd 1 it is running. */
static int stage_block(void)
{
	char c = 'r';

	if (write(1, &c, 1) != 1)
		return 3;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* The image after usage_exec: its process's CPU time, peak memory and
 * page faults still hold what the image before it used. */
static int stage_usage(void)
{
	const char *cpu = getenv("PROBE_CPU_US"), *rss = getenv("PROBE_RSS_KB");
	const char *flt = getenv("PROBE_MINFLT");
	struct rusage ru;

	if (!cpu || !rss || !flt || getrusage(RUSAGE_SELF, &ru) != 0)
		return 2;
	long long us = (long long)ru.ru_utime.tv_sec * 1000000 +
		       ru.ru_utime.tv_usec +
		       (long long)ru.ru_stime.tv_sec * 1000000 +
		       ru.ru_stime.tv_usec;
	if (us < atoll(cpu))
		return 3;
	if (ru.ru_maxrss < atol(rss))
		return 4;
	/* Page faults too are the process's, not the image's. */
	if (ru.ru_minflt < atol(flt))
		return 5;
	return 0;
}

/* ---- the probe ---------------------------------------------------------- */

static void handler(int sig)
{
}

/* Uses some 30 ms of CPU and touches 28 MiB, then execs stage "usage"
 * with what getrusage says by then. */
static void usage_exec(void)
{
	size_t len = 24 << 20;
	volatile unsigned long x = 0;
	struct rusage ru;
	struct timespec t0, t1;
	char *m = malloc(len);

	if (!m)
		_exit(5);
	memset(m, 1, len);
	/* And 1024 small pages, a minor fault each (m may take huge ones). */
	size_t small = 1024 * 4096UL;
	char *p = mmap(NULL, small, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(5);
	madvise(p, small, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < small; i += 4096)
		p[i] = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i * 7;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000000000L +
		 (t1.tv_nsec - t0.tv_nsec) < 30000000L);
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		_exit(6);
	char cpu[64], rss[64];
	snprintf(cpu, sizeof(cpu), "PROBE_CPU_US=%lld",
		 (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
			 (long long)ru.ru_stime.tv_sec * 1000000 +
			 ru.ru_stime.tv_usec);
	/* Linux's maxrss after exec is at least the old image's peak. */
	snprintf(rss, sizeof(rss), "PROBE_RSS_KB=%ld", ru.ru_maxrss);
	char flt[64];
	snprintf(flt, sizeof(flt), "PROBE_MINFLT=%ld", ru.ru_minflt);
	const char *envp[] = {"PROBE_EXEC_STAGE=usage", cpu, rss, flt, NULL};
	const char *argv[] = {self, NULL};
	execve(self, (char *const *)argv, (char *const *)envp);
	_exit(7);
}

static void exec_image(const char *stage)
{
	char pid_env[32], self_env[4096];
	const char *envp[6];

	snprintf(pid_env, sizeof(pid_env), "PROBE_PID=%d", getpid());
	snprintf(self_env, sizeof(self_env), "PROBE_SELF=%s", self);
	envp[0] = stage;
	envp[1] = "FOO=bar";
	envp[2] = "EMPTY=";
	envp[3] = pid_env;
	envp[4] = self_env;
	envp[5] = NULL;
	execve(self, (char **)image_argv, (char **)envp);
	fprintf(stderr, "execve %s: %s\n", self, strerror(errno));
	_exit(99);
}

static void image_child(void)
{
	struct sigaction sa;
	sigset_t m;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&m);
	sigaddset(&m, SIGHUP);
	sigaddset(&m, SIGTERM);
	sigprocmask(SIG_BLOCK, &m, NULL);
	kill(getpid(), SIGHUP);

	static char alt[65536];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};
	sigaltstack(&ss, NULL);
	prctl(PR_SET_NAME, "before-exec", 0, 0, 0);

	if (dup3(1, 10, O_CLOEXEC) != 10 || dup2(1, 11) != 11) {
		perror("dup");
		_exit(98);
	}
	exec_image("PROBE_EXEC_STAGE=image");
}

static void *exec_thread(void *arg)
{
	char pid_env[32], ppid_env[32];
	const char *argv[] = {self, NULL};
	const char *envp[4];

	snprintf(pid_env, sizeof(pid_env), "PROBE_PID=%d", getpid());
	snprintf(ppid_env, sizeof(ppid_env), "PROBE_PPID=%d", getppid());
	envp[0] = "PROBE_EXEC_STAGE=thread-image";
	envp[1] = pid_env;
	envp[2] = ppid_env;
	envp[3] = NULL;
	execve(self, (char **)argv, (char **)envp);
	_exit(99);
}

static void thread_exec_child(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, exec_thread, NULL) != 0)
		_exit(97);
	/* The exec in the other thread ends this one. */
	pthread_join(t, NULL);
	_exit(96);
}

static void setpgid_after_exec(void)
{
	int gate[2], ready[2];

	if (pipe(gate) != 0 || pipe(ready) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		const char *argv[] = {self, NULL};
		const char *envp[] = {"PROBE_EXEC_STAGE=block", NULL};
		dup2(gate[0], 0);
		dup2(ready[1], 1);
		close(gate[1]);
		execve(self, (char **)argv, (char **)envp);
		_exit(99);
	}
	close(gate[0]);
	close(ready[1]);
	px_pend(ready[0]);
	CHECK_ERR("parent: setpgid(child that has exec'd)",
		  syscall(SYS_setpgid, pid, pid), EACCES);
	close(gate[1]);
	close(ready[0]);
	px_expect_exit("blocking image", pid, "exited 0");
}

/*
 * vfork: the parent is held until the child's exec, not its exit.  The new
 * image blocks until the parent closes the gate, so a parent held until
 * exit would never get there.
 */
static void vfork_until_exec(void)
{
	int gate[2], ready[2];

	if (pipe(gate) != 0 || pipe(ready) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	static const char *const argv[] = {"vforked", NULL};
	static const char *const envp[] = {"PROBE_EXEC_STAGE=block", NULL};
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		dup2(gate[0], 0);
		dup2(ready[1], 1);
		close(gate[1]);
		execve(self, (char **)argv, (char **)envp);
		_exit(99);
	}
	close(gate[0]);
	close(ready[1]);
	CHECK_TRUE("vfork: parent resumed", pid > 0);
	px_pend(ready[0]);
	CHECK_TRUE("vfork: the child's new image runs while we do", 1);
	close(gate[1]);
	close(ready[0]);
	px_expect_exit("vfork child's image", pid, "exited 0");
}

/* argv, its pointers and its strings against page boundaries, the page
 * after them inaccessible: read whole where they are readable, EFAULT
 * where a string or the pointer array runs into the inaccessible page. */
static void page_edges(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!CHECK_TRUE("four pages", a != MAP_FAILED))
		return;
	CHECK_OK("the fourth inaccessible", mprotect(a + 3 * pg, pg, PROT_NONE));
	char *cross = a + pg - 5;
	memcpy(cross, EDGE_CROSS, sizeof(EDGE_CROSS));
	char *end = a + 3 * pg - sizeof(EDGE_END);
	memcpy(end, EDGE_END, sizeof(EDGE_END));
	/* The array unaligned, its third pointer across a page boundary. */
	char *arr = a + 2 * pg - 20;
	const char *v[4] = {self, cross, end, NULL};
	memcpy(arr, v, sizeof(v));
	const char *envp[] = {"PROBE_EXEC_STAGE=pages", NULL};
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		syscall(SYS_execve, self, arr, envp);
		_exit(99);
	}
	px_expect_exit("exec of strings and argv at page edges", pid,
		       "exited 0");

	memcpy(a + 3 * pg - 4, "abcd", 4);
	const char *run[] = {self, a + 3 * pg - 4, NULL};
	CHECK_ERR("an argument running into an inaccessible page",
		  syscall(SYS_execve, self, run, envp), EFAULT);
	const char *v2[2] = {self, cross};
	memcpy(a + 3 * pg - 16, v2, sizeof(v2));
	CHECK_ERR("argv running into an inaccessible page, no NULL",
		  syscall(SYS_execve, self, a + 3 * pg - 16, envp), EFAULT);
	memcpy(a + 3 * pg - 12, v2, 8);
	CHECK_ERR("an argv pointer across into an inaccessible page",
		  syscall(SYS_execve, self, a + 3 * pg - 12, envp), EFAULT);
	munmap(a, 4 * pg);
}

/* argv's strings spread over SCATTER_PAGES pages, the i-th on page
 * i % SCATTER_PAGES and each page filled from its end down (so a page is
 * met again after all the others: more pages than a reader may keep), its
 * pointer array on one more page: every string arrives whole and in
 * order, whatever order the reads come in. */
#define SCATTER_PAGES 10
static void scattered(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *a = mmap(NULL, (SCATTER_PAGES + 1) * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!CHECK_TRUE("pages for scattered strings", a != MAP_FAILED))
		return;
	char **v = (char **)(a + SCATTER_PAGES * pg);
	size_t used[SCATTER_PAGES] = { 0 };
	v[0] = (char *)self;
	for (int i = 0; i < SCATTER_N; i++) {
		char buf[64];
		scatter_string(buf, sizeof(buf), i);
		int page = i % SCATTER_PAGES;
		used[page] += 48;
		char *at = a + page * pg + pg - used[page];
		memcpy(at, buf, strlen(buf) + 1);
		v[i + 1] = at;
	}
	v[SCATTER_N + 1] = NULL;
	/* envp: its stage high in page 1, its other variable at page 0's
	 * very start, below everything read there before. */
	char *stage = a + pg + pg - used[1] - 64;
	strcpy(stage, "PROBE_EXEC_STAGE=scatter");
	strcpy(a, "SCATTER_ENV=low-in-its-page");
	char **envp = v + SCATTER_N + 2;
	envp[0] = stage;
	envp[1] = a;
	envp[2] = NULL;
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		syscall(SYS_execve, self, v, envp);
		_exit(99);
	}
	px_expect_exit("exec of argv and envp strings scattered over pages",
		       pid, "exited 0");
	munmap(a, (SCATTER_PAGES + 1) * pg);
}

static void failures(void)
{
	const char *argv[] = {self, NULL};
	const char *envp[] = {"PROBE_EXEC_STAGE=image", NULL};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);

	CHECK_ERR(
	    "execve missing file",
	    execve("/nonexistent-probe-dir/prog", (char **)argv, (char **)envp),
	    ENOENT);
	CHECK_ERR("execve empty path", execve("", (char **)argv, (char **)envp),
		  ENOENT);
	CHECK_ERR("execve path EFAULT",
		  syscall(SYS_execve, (void *)1, argv, envp), EFAULT);
	CHECK_ERR("execve argv EFAULT",
		  syscall(SYS_execve, self, (void *)1, envp), EFAULT);
	const char *bad_argv[] = {self, (const char *)1, NULL};
	CHECK_ERR("execve argv[1] EFAULT",
		  syscall(SYS_execve, self, bad_argv, envp), EFAULT);

	/* One string above MAX_ARG_STRLEN (32 pages). */
	size_t big = 200 * 1024;
	char *s = malloc(big + 1);
	memset(s, 'a', big);
	s[big] = 0;
	const char *long_argv[] = {self, s, NULL};
	CHECK_ERR("execve one 200 KiB argument",
		  execve(self, (char **)long_argv, (char **)envp), E2BIG);
	const char *long_envp[] = {s, NULL};
	CHECK_ERR("execve one 200 KiB env string",
		  execve(self, (char **)argv, (char **)long_envp), E2BIG);

	/* Many legal strings whose total passes a quarter of the stack limit.
	 */
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	size_t total = rl.rlim_cur == RLIM_INFINITY
			   ? (64u << 20)
			   : rl.rlim_cur / 4 + (1 << 20);
	size_t each = 100 * 1024, count = total / each + 1;
	const char **many = calloc(count + 2, sizeof(char *));
	s[each] = 0;
	many[0] = self;
	for (size_t i = 1; i <= count; i++)
		many[i] = s;
	CHECK_ERR("execve argv total above stack limit / 4",
		  execve(self, (char **)many, (char **)envp), E2BIG);
	free(many);
	free(s);

	CHECK_TRUE("caller intact: handler still installed",
		   is_handler(SIGUSR1, handler));
	CHECK_OK("caller intact: stdout still open", fcntl(1, F_GETFD));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR1, &sa, NULL);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *stage = getenv("PROBE_EXEC_STAGE");

	if (stage && strcmp(stage, "image") == 0)
		return stage_image(argc, argv);
	if (stage && strcmp(stage, "thread-image") == 0)
		return stage_thread_image();
	if (stage && strcmp(stage, "null-argv") == 0)
		return stage_null_argv(argc, argv);
	if (stage && strcmp(stage, "pages") == 0)
		return stage_pages(argc, argv);
	if (stage && strcmp(stage, "scatter") == 0)
		return stage_scatter(argc, argv);
	if (stage && strcmp(stage, "block") == 0)
		return stage_block();
	if (stage && strcmp(stage, "usage") == 0)
		return stage_usage();
	if (stage && strcmp(stage, "fpu") == 0) {
		/* A new program starts with the FPU in its init state. */
		uint32_t mx;
		uint16_t cw;
		__asm__ volatile("stmxcsr %0" : "=m"(mx));
		__asm__ volatile("fnstcw %0" : "=m"(cw));
		return mx == 0x1f80 && cw == 0x37f ? 0 : 1;
	}

	px_reset();
	self = argv[0];
	if (!CHECK_TRUE("probe path is absolute", self && self[0] == '/'))
		return probe_done();

	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		image_child();
	px_expect_exit("exec'd image checks passed", pid, "exited 0");

	fflush(stdout);
	pid = px_fork();
	if (pid == 0)
		thread_exec_child();
	px_expect_exit("exec from a non-leader thread", pid, "exited 0");

	/* Twice: the fork child execs in place; a second thread makes the
	 * exec build a new stub. */
	for (int k = 0; k < 2; k++) {
		fflush(stdout);
		pid = px_fork();
		if (pid == 0) {
			uint32_t mx = 0x7f80; /* round toward zero */
			uint16_t cw = 0x0f7f;
			__asm__ volatile("ldmxcsr %0" ::"m"(mx));
			__asm__ volatile("fldcw %0" ::"m"(cw));
			char *argv2[] = { (char *)self, NULL };
			char *envp2[] = { "PROBE_EXEC_STAGE=fpu", NULL };
			if (k == 1) {
				pthread_t th;
				pthread_create(&th, NULL, idle_thread, NULL);
			}
			execve(self, argv2, envp2);
			_exit(99);
		}
		px_expect_exit(k ? "a new program starts with a clean FPU "
				   "(exec from a process with two threads)"
				 : "a new program starts with a clean FPU",
			       pid, "exited 0");
	}

	fflush(stdout);
	pid = px_fork();
	if (pid == 0) {
		const char *envp[] = {"PROBE_EXEC_STAGE=null-argv", NULL};
		syscall(SYS_execve, self, NULL, envp);
		_exit(99);
	}
	px_expect_exit("execve with a NULL argv", pid, "exited 0");

	page_edges();
	scattered();

	fflush(stdout);
	pid = px_fork();
	if (pid == 0)
		usage_exec();
	px_expect_exit("CPU time, peak memory and faults survive exec", pid,
		       "exited 0");

	setpgid_after_exec();
	vfork_until_exec();
	failures();
	return probe_done();
}
