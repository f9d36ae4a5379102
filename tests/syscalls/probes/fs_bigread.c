/*
 * fs_bigread: big reads of regular files (the sandbox does them straight
 * into the caller's memory): contents, offsets of read and pread, readv,
 * end of file, a buffer that runs into an unmapped or read-only page (a
 * short count, or EFAULT with the offset unmoved), for a file made in
 * /tmp and for the probe's own executable, read whole and in small pieces.
 */
#include "probe_fs.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#define MB (1024 * 1024)

static uint32_t sum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 4096);
}

static void made_here(void)
{
	size_t len = 3 * MB + 1234;
	unsigned char *w = malloc(len), *r = malloc(2 * MB);
	for (size_t i = 0; i < len; i++)
		w[i] = pattern(i);
	int fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_RET("write 3 MiB", write(fd, w, len), len);
	lseek(fd, 0, SEEK_SET);

	CHECK_RET("read 1 MiB", read(fd, r, MB), MB);
	CHECK_TRUE("the bytes", memcmp(r, w, MB) == 0);
	CHECK_RET("offset moved", lseek(fd, 0, SEEK_CUR), MB);
	CHECK_RET("pread 512 KiB at 2 MiB", pread(fd, r, 512 * 1024, 2 * MB),
		  512 * 1024);
	CHECK_TRUE("the bytes at 2 MiB",
		   memcmp(r, w + 2 * MB, 512 * 1024) == 0);
	CHECK_RET("offset unchanged by pread", lseek(fd, 0, SEEK_CUR), MB);
	CHECK_RET("pread past the end: short", pread(fd, r, MB, len - 1000),
		  1000);
	CHECK_RET("pread at the end", pread(fd, r, MB, len), 0);
	CHECK_ERR("pread at a negative offset", pread(fd, r, MB, -4096),
		  EINVAL);

	struct iovec iov[2] = {{r, 300 * 1024}, {r + MB, 200 * 1024}};
	lseek(fd, 4096, SEEK_SET);
	CHECK_RET("readv 500 KiB", readv(fd, iov, 2), 500 * 1024);
	CHECK_TRUE("readv bytes",
		   memcmp(r, w + 4096, 300 * 1024) == 0 &&
		       memcmp(r + MB, w + 4096 + 300 * 1024, 200 * 1024) == 0);

	/* A buffer whose last quarter is not mapped: Linux copies up to the
	 * hole and reports that much. */
	unsigned char *m = mmap(NULL, MB, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + 768 * 1024, 256 * 1024);
	CHECK_RET("pread into a buffer with a hole: short", pread(fd, m, MB, 0),
		  768 * 1024);
	CHECK_TRUE("what came before the hole", memcmp(m, w, 768 * 1024) == 0);
	munmap(m, 768 * 1024);

	unsigned char *ro =
	    mmap(NULL, MB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR("read into read-only memory", read(fd, ro, MB), EFAULT);
	CHECK_RET("offset unmoved by the fault", lseek(fd, 0, SEEK_CUR), 0);
	munmap(ro, MB);
	/* readv: a good buffer then a bad one counts only the first, and so
	 * does the offset. */
	lseek(fd, 0, SEEK_SET);
	char small[10];
	struct iovec two[2] = {{small, 10}, {(void *)8, 100}};
	CHECK_RET("readv into a good then a bad buffer", readv(fd, two, 2), 10);
	CHECK_RET("the offset counts what was copied", lseek(fd, 0, SEEK_CUR),
		  10);
	void *volatile bad = (void *)8;
	CHECK_ERR("read at a bad address", read(fd, bad, MB), EFAULT);

	/* relatime: an access time older than the last change moves on a
	 * big read as on a small one. */
	struct timespec now, ts[2];
	clock_gettime(CLOCK_REALTIME, &now);
	ts[0] = (struct timespec){ now.tv_sec - 1000, 0 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	utimensat(AT_FDCWD, "big", ts, 0);
	struct stat s0, s1;
	stat("big", &s0);
	unsigned char *rb = malloc(MB);
	CHECK_RET("pread 1 MiB for atime", pread(fd, rb, MB, 0), MB);
	free(rb);
	stat("big", &s1);
	CHECK_TRUE("the access time moved", s1.st_atim.tv_sec > s0.st_atim.tv_sec);
	int wo = open("big", O_WRONLY);
	CHECK_ERR("read a write-only fd", read(wo, r, MB), EBADF);
	close(wo);
	close(fd);
	free(w);
	free(r);
}

/* The same file read whole in one call and in 4 KiB pieces must agree. */
static void own_image(const char *self)
{
	int fd = open(self, O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	size_t len = (size_t)st.st_size;
	unsigned char *whole = malloc(len), *piece = malloc(len);
	CHECK_TRUE("the executable is bigger than 256 KiB", len > 256 * 1024);
	CHECK_RET("read it whole", read(fd, whole, len), len);
	size_t got = 0;
	for (;;) {
		ssize_t r = pread(fd, piece + got, 4096, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	CHECK_TRUE("4 KiB pieces add up", got == len);
	CHECK_TRUE("whole and pieces agree",
		   sum(whole, len) == sum(piece, len));
	close(fd);
	free(whole);
	free(piece);
}

int main(int argc, char **argv)
{
	(void)argc;
	char *self = realpath(argv[0], NULL);
	fs_setup();
	made_here();
	if (self)
		own_image(self);
	else
		CHECK_TRUE("the probe's own path resolves", 0);
	fs_cleanup();
	return probe_done();
}
