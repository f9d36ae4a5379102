/*
 * fs_rw: read, write, pread64, pwrite64, readv, writev, preadv, pwritev,
 * preadv2, pwritev2 and lseek on regular files: offsets shared by dup'ed
 * fds and not by separate opens, O_APPEND, end of file, holes, big
 * transfers, and the errors of the wrong mode, file type and offsets.
 */
#include "probe_fs.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static void offsets(void)
{
	char buf[64];
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_RET("write 10", write(fd, "0123456789", 10), 10);
	CHECK_RET("lseek cur", lseek(fd, 0, SEEK_CUR), 10);
	CHECK_RET("read at end", read(fd, buf, sizeof(buf)), 0);
	CHECK_RET("lseek set 2", lseek(fd, 2, SEEK_SET), 2);
	CHECK_RET("read 3", read(fd, buf, 3), 3);
	printf("got %.3s\n", buf);
	CHECK_RET("lseek end -1", lseek(fd, -1, SEEK_END), 9);
	CHECK_RET("read last", read(fd, buf, 5), 1);
	CHECK_ERR("lseek negative", lseek(fd, -100, SEEK_CUR), EINVAL);
	CHECK_ERR("lseek bad whence", lseek(fd, 0, 42), EINVAL);
	CHECK_RET("lseek past end", lseek(fd, 20, SEEK_SET), 20);
	CHECK_RET("write past end", write(fd, "X", 1), 1);
	struct stat st;
	fstat(fd, &st);
	printf("size after hole %ld\n", (long)st.st_size);
	CHECK_RET("pread in hole", pread(fd, buf, 4, 12), 4);
	printf("hole bytes %d %d %d %d\n", buf[0], buf[1], buf[2], buf[3]);
	CHECK_RET("SEEK_DATA 0", lseek(fd, 0, SEEK_DATA), 0);
	CHECK_RET("SEEK_HOLE from 0 (a small file is one block)",
		  lseek(fd, 0, SEEK_HOLE), 21);
	CHECK_ERR("SEEK_DATA past end", lseek(fd, 21, SEEK_DATA), ENXIO);
	CHECK_ERR("SEEK_HOLE past end", lseek(fd, 30, SEEK_HOLE), ENXIO);

	/* dup shares the offset; a second open does not. */
	int d = dup(fd);
	lseek(fd, 4, SEEK_SET);
	CHECK_RET("dup sees the offset", lseek(d, 0, SEEK_CUR), 4);
	int o = open("f", O_RDONLY);
	CHECK_RET("another open starts at 0", lseek(o, 0, SEEK_CUR), 0);
	CHECK_RET("pread does not move", pread(o, buf, 2, 5), 2);
	CHECK_RET("offset still 0", lseek(o, 0, SEEK_CUR), 0);
	CHECK_RET("pwrite", pwrite(fd, "ab", 2, 0), 2);
	CHECK_RET("offset unchanged by pwrite", lseek(fd, 0, SEEK_CUR), 4);
	CHECK_RET("read sees pwrite", read(o, buf, 2), 2);
	printf("got %.2s\n", buf);
	CHECK_ERR("pread negative", pread(o, buf, 1, -1), EINVAL);
	CHECK_ERR("write to O_RDONLY", write(o, "x", 1), EBADF);
	close(o);
	o = open("f", O_WRONLY);
	CHECK_ERR("read from O_WRONLY", read(o, buf, 1), EBADF);
	CHECK_ERR("pread from O_WRONLY", pread(o, buf, 1, 0), EBADF);
	close(o);
	close(d);
	close(fd);
}

static void append(void)
{
	fs_put("a", "start", 0644);
	int fd = open("a", O_WRONLY | O_APPEND);
	CHECK_RET("offset at open", lseek(fd, 0, SEEK_CUR), 0);
	CHECK_RET("append", write(fd, "+end", 4), 4);
	CHECK_RET("offset after append", lseek(fd, 0, SEEK_CUR), 9);
	lseek(fd, 0, SEEK_SET);
	CHECK_RET("append after seek", write(fd, "!", 1), 1);
	CHECK_RET("pwrite with O_APPEND appends", pwrite(fd, "?", 1, 0), 1);
	printf("content %s\n", fs_get("a"));
	CHECK_RET("F_SETFL drops O_APPEND", fcntl(fd, F_SETFL, 0), 0);
	lseek(fd, 0, SEEK_SET);
	CHECK_RET("overwrite", write(fd, "S", 1), 1);
	printf("content %s\n", fs_get("a"));
	close(fd);
}

/* A write of nothing is 0 and changes nothing, wherever it points: no size
 * past the end, no offset (Linux returns before O_APPEND or the limits). */
static void zero_length(void)
{
	struct stat st;
	int fd = open("z", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_RET("pwrite of 0 bytes past the end", pwrite(fd, "", 0, 1000), 0);
	CHECK_RET("lseek past the end", lseek(fd, 5000, SEEK_SET), 5000);
	CHECK_RET("write of 0 bytes there", write(fd, "", 0), 0);
	CHECK_RET("write of 0 bytes from NULL", write(fd, NULL, 0), 0);
	struct iovec none[2] = {{NULL, 0}, {NULL, 0}};
	CHECK_RET("pwritev of empty buffers past the end",
		  pwritev(fd, none, 2, 7000), 0);
	fstat(fd, &st);
	printf("size after writes of nothing %ld\n", (long)st.st_size);
	CHECK_RET("offset unchanged", lseek(fd, 0, SEEK_CUR), 5000);
	close(fd);
	fd = open("z", O_WRONLY | O_APPEND);
	CHECK_RET("seek in an O_APPEND file", lseek(fd, 3, SEEK_SET), 3);
	CHECK_RET("append of nothing", write(fd, "", 0), 0);
	CHECK_RET("offset not moved to the end", lseek(fd, 0, SEEK_CUR), 3);
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	CHECK_RET("read of 0 bytes from /dev/zero into NULL", read(fd, NULL, 0), 0);
	close(fd);
}

static void vectors(void)
{
	char a[4], b[8];
	int fd = open("v", O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct iovec wv[3] = {{"abc", 3}, {NULL, 0}, {"defgh", 5}};
	CHECK_RET("writev", writev(fd, wv, 3), 8);
	struct iovec rv[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	lseek(fd, 0, SEEK_SET);
	CHECK_RET("readv", readv(fd, rv, 2), 8);
	printf("readv %.4s|%.4s\n", a, b);
	CHECK_RET("preadv", preadv(fd, rv, 2, 2), 6);
	printf("preadv %.4s|%.2s\n", a, b);
	struct iovec pw[1] = {{"ZZ", 2}};
	CHECK_RET("pwritev", pwritev(fd, pw, 1, 1), 2);
	CHECK_RET("offset after p*v", lseek(fd, 0, SEEK_CUR), 8);
	CHECK_RET("preadv2 -1 uses the offset",
		  syscall(SYS_preadv2, fd, rv, 2, -1L, 0L, 0), 0);
	lseek(fd, 0, SEEK_SET);
	CHECK_RET("preadv2 -1 at 0",
		  syscall(SYS_preadv2, fd, rv, 1, -1L, 0L, 0), 4);
	printf("preadv2 %.4s\n", a);
	CHECK_RET("offset moved by preadv2 -1", lseek(fd, 0, SEEK_CUR), 4);
	CHECK_RET("pwritev2 at 0", syscall(SYS_pwritev2, fd, pw, 1, 0L, 0L, 0),
		  2);
	CHECK_ERR("preadv2 bad flag",
		  syscall(SYS_preadv2, fd, rv, 1, 0L, 0L, 0x1000), EOPNOTSUPP);
	CHECK_RET(
	    "pwritev2 RWF_APPEND",
	    syscall(SYS_pwritev2, fd, pw, 1, 0L, 0L, 0x10 /* RWF_APPEND */), 2);
	printf("content %s\n", fs_get("v"));
	CHECK_ERR("readv iovcnt too big", syscall(SYS_readv, fd, rv, 2000),
		  EINVAL);
	close(fd);
}

static void big(void)
{
	/* 3 MiB: more than one bounce chunk in the sandbox. */
	size_t n = 3 << 20;
	char *p = malloc(n), *q = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7 + (i >> 12));
	int fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_RET("write 3 MiB", write(fd, p, n), (long)n);
	CHECK_RET("pread 3 MiB", pread(fd, q, n, 0), (long)n);
	CHECK_TRUE("same bytes", memcmp(p, q, n) == 0);
	CHECK_RET("pread past half", pread(fd, q, n, n / 2), (long)(n / 2));
	CHECK_TRUE("same tail", memcmp(p + n / 2, q, n / 2) == 0);
	close(fd);
	free(p);
	free(q);
}

/* Linux's null and zero devices take no bytes from a write's buffer and
 * full refuses before reading it, so an unmapped user address (below the
 * top of user space) is no error there; urandom mixes the bytes in, so it
 * faults. An address above user space fails every write with EFAULT. */
static void unmapped_buffers(void)
{
	char *hole = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	CHECK_TRUE("a hole for the buffers", hole != MAP_FAILED);
	munmap(hole, 8192); /* now nothing is mapped there */
	char *kernel = (char *)0xffff800000000000ul;
	int nl = open("/dev/null", O_WRONLY);
	CHECK_RET("write /dev/null from unmapped memory",
		  write(nl, hole, 4096), 4096);
	CHECK_RET("pwrite /dev/null from unmapped memory",
		  pwrite(nl, hole, 100, 5), 100);
	struct iovec iov[2] = { { hole, 10 }, { hole + 4096, 20 } };
	CHECK_RET("writev /dev/null from unmapped memory",
		  writev(nl, iov, 2), 30);
	CHECK_ERR("write /dev/null from a kernel address",
		  write(nl, kernel, 10), EFAULT);
	iov[1].iov_base = kernel;
	CHECK_ERR("writev /dev/null with a kernel address",
		  writev(nl, iov, 2), EFAULT);
	CHECK_ERR("writev /dev/null with an unmapped vector",
		  writev(nl, (struct iovec *)hole, 1), EFAULT);
	close(nl);
	int z = open("/dev/zero", O_WRONLY);
	CHECK_RET("write /dev/zero from unmapped memory", write(z, hole, 64),
		  64);
	close(z);
	int fl = open("/dev/full", O_WRONLY);
	CHECK_ERR("write /dev/full from unmapped memory", write(fl, hole, 64),
		  ENOSPC);
	close(fl);
	int r = open("/dev/urandom", O_WRONLY);
	CHECK_ERR("write /dev/urandom from unmapped memory",
		  write(r, hole, 64), EFAULT);
	close(r);
}

/* A write whose buffer stops being readable part way: a regular file
 * takes the bytes up to the first it could not read, and is EFAULT only
 * when it could read none; the offset moves by what was written. */
static void partly_mapped(void)
{
	char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_TRUE("an area", a != MAP_FAILED);
	CHECK_OK("its second page inaccessible",
		 mprotect(a + 4096, 4096, PROT_NONE));
	memset(a, 'y', 4096);
	int fd = open("partly", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_RET("write across into inaccessible memory", write(fd, a, 8192),
		  4096);
	CHECK_RET("a short one across it", write(fd, a + 4000, 200), 96);
	CHECK_RET("offset after them", lseek(fd, 0, SEEK_CUR), 4192);
	CHECK_ERR("all inaccessible", write(fd, a + 4096, 10), EFAULT);
	CHECK_RET("pwrite across", pwrite(fd, a + 100, 8000, 0), 3996);
	struct iovec v[3] = { { a, 100 }, { a + 4090, 10 }, { a, 5 } };
	CHECK_RET("writev into a bad second buffer", writev(fd, v, 3), 106);
	CHECK_RET("size", lseek(fd, 0, SEEK_END), 4298);
	int ro = open("partly", O_RDONLY);
	CHECK_ERR("a read-only fd is EBADF first", write(ro, a + 4096, 10),
		  EBADF);
	close(ro);
	close(fd);
	munmap(a, 8192);
}

/* Small buffers whose protections forbid the access a call needs fail
 * with EFAULT and change nothing, whatever way the sandbox copies them.
 * (x86 lets a call read memory mapped execute-only; the sandbox refuses
 * that with EFAULT, a difference not checked here.) */
static void protected_buffers(void)
{
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	char *xo = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_TRUE("a read-only page and a readable one",
		   ro != MAP_FAILED && xo != MAP_FAILED);
	memcpy(xo, "executable", 10);
	int fd = open("prot", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_RET("a file to read", write(fd, "0123456789", 10), 10);
	CHECK_ERR("read into a read-only page", pread(fd, ro, 10, 0), EFAULT);
	CHECK_TRUE("which stays zero", ro[0] == 0 && ro[9] == 0);
	CHECK_ERR("fstat into a read-only page", fstat(fd, (struct stat *)ro),
		  EFAULT);
	/* The raw call: glibc's wrapper copies the old action itself. */
	CHECK_ERR("rt_sigaction's old action into a read-only page",
		  syscall(SYS_rt_sigaction, SIGUSR1, NULL, ro, 8), EFAULT);
	CHECK_RET("write from the readable page", pwrite(fd, xo, 10, 0), 10);
	char back[11] = { 0 };
	CHECK_RET("read back", pread(fd, back, 10, 0), 10);
	CHECK_TRUE("its bytes", memcmp(back, "executable", 10) == 0);
	CHECK_OK("then inaccessible", mprotect(xo, 4096, PROT_NONE));
	CHECK_ERR("write from it", pwrite(fd, xo, 10, 0), EFAULT);
	close(fd);
	munmap(ro, 4096);
	munmap(xo, 4096);
}

static void types(void)
{
	char buf[8];
	mkdir("dir", 0755);
	int d = open("dir", O_RDONLY);
	CHECK_ERR("read a directory", read(d, buf, 1), EISDIR);
	CHECK_ERR("pread a directory", pread(d, buf, 1, 0), EISDIR);
	CHECK_ERR("write a directory fd", write(d, "x", 1), EBADF);
	close(d);
	int z = open("/dev/zero", O_RDONLY);
	CHECK_RET("read /dev/zero", read(z, buf, 8), 8);
	CHECK_TRUE("zeros", buf[0] == 0 && buf[7] == 0);
	CHECK_RET("lseek /dev/zero", lseek(z, 100, SEEK_SET), 0);
	close(z);
	int nl = open("/dev/null", O_RDWR);
	CHECK_RET("write /dev/null", write(nl, "abc", 3), 3);
	CHECK_RET("read /dev/null", read(nl, buf, 3), 0);
	close(nl);
	int fl = open("/dev/full", O_WRONLY);
	CHECK_ERR("write /dev/full", write(fl, "abc", 3), ENOSPC);
	close(fl);
	int r = open("/dev/urandom", O_RDONLY);
	CHECK_RET("read /dev/urandom", read(r, buf, 8), 8);
	close(r);
	unmapped_buffers();
	partly_mapped();
	protected_buffers();
	CHECK_ERR("write bad fd", write(555, "x", 1), EBADF);
	CHECK_ERR("lseek bad fd", lseek(555, 0, SEEK_SET), EBADF);
}

int main(void)
{
	fs_setup();
	offsets();
	append();
	zero_length();
	vectors();
	big();
	types();
	fs_cleanup();
	return probe_done();
}
