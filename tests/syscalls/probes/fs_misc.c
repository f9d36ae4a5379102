/*
 * fs_misc: FIFOs made by mknod (open without blocking, data through them,
 * end of file, EPIPE, ESPIPE), memfd_create, sendfile, copy_file_range,
 * fsync/fdatasync/sync/syncfs. One process: FIFO opens use O_NONBLOCK or
 * O_RDWR, which never wait for a peer.
 */
#include "probe_fs.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>

static void fifos(void)
{
	char buf[16];
	mkfifo("p", 0644);
	FERR("open O_WRONLY|O_NONBLOCK without a reader",
	     open("p", O_WRONLY | O_NONBLOCK), ENXIO);
	int r =
	    FOK("open O_RDONLY|O_NONBLOCK", open("p", O_RDONLY | O_NONBLOCK));
	CHECK_RET("read, no writer ever: EOF", read(r, buf, sizeof(buf)), 0);
	int w = FOK("open O_WRONLY|O_NONBLOCK with a reader",
		    open("p", O_WRONLY | O_NONBLOCK));
	CHECK_ERR("read, writer but no data", read(r, buf, sizeof(buf)),
		  EAGAIN);
	CHECK_RET("write", write(w, "hello", 5), 5);
	int n = -1;
	CHECK_RET("FIONREAD", ioctl(r, FIONREAD, &n), 0);
	printf("FIONREAD %d\n", n);
	CHECK_RET("read", read(r, buf, 3), 3);
	CHECK_RET("read the rest", read(r, buf, sizeof(buf)), 2);
	CHECK_ERR("lseek on a FIFO", lseek(r, 0, SEEK_SET), ESPIPE);
	CHECK_ERR("pread on a FIFO", pread(r, buf, 1, 0), ESPIPE);
	close(w);
	CHECK_RET("writer gone: EOF", read(r, buf, sizeof(buf)), 0);
	int rw = FOK("open O_RDWR (no wait)", open("p", O_RDWR));
	signal(SIGPIPE, SIG_IGN);
	close(r);
	CHECK_RET("write through the O_RDWR one", write(rw, "ab", 2), 2);
	CHECK_RET("read it back", read(rw, buf, 2), 2);
	close(rw);
	r = open("p", O_RDONLY | O_NONBLOCK);
	w = open("p", O_WRONLY | O_NONBLOCK);
	close(r);
	CHECK_ERR("write without readers", write(w, "x", 1), EPIPE);
	close(w);
	/* Fill it: non-blocking writes stop with EAGAIN, PIPE_BUF whole. */
	r = open("p", O_RDONLY | O_NONBLOCK);
	w = open("p", O_WRONLY | O_NONBLOCK);
	static char big[1 << 20];
	long total = 0, got;
	while ((got = write(w, big, 4096)) > 0)
		total += got;
	CHECK_TRUE("filled, then EAGAIN",
		   got == -1 && errno == EAGAIN && total >= 4096);
	close(w);
	close(r);
	struct stat st;
	stat("p", &st);
	printf("fifo size %ld\n", (long)st.st_size);
}

static void memfds(void)
{
	char buf[16];
	int fd = FOK("memfd_create", memfd_create("probe", MFD_CLOEXEC));
	CHECK_RET("its cloexec", fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_RET("write", write(fd, "memory", 6), 6);
	struct stat st;
	fstat(fd, &st);
	printf("memfd %c size %ld nlink %lu\n", fs_type(st.st_mode),
	       (long)st.st_size, (unsigned long)st.st_nlink);
	CHECK_RET("pread", pread(fd, buf, 6, 0), 6);
	FOK("ftruncate", ftruncate(fd, 100));
	CHECK_RET("lseek end", lseek(fd, 0, SEEK_END), 100);
	CHECK_RET("F_GETFL", fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	close(fd);
	FERR("memfd bad flags", memfd_create("x", 0x100), EINVAL);
	char longname[300];
	memset(longname, 'm', 299);
	longname[299] = 0;
	FERR("memfd long name", memfd_create(longname, 0), EINVAL);
}

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

/* File seals on memfds (fcntl F_ADD_SEALS, F_GET_SEALS). */
static void memfd_seals(void)
{
	char buf[8192];
	memset(buf, 's', sizeof(buf));
	int nos = FOK("memfd without MFD_ALLOW_SEALING",
		      memfd_create("noseal", MFD_CLOEXEC));
	CHECK_RET("its seals: F_SEAL_SEAL", fcntl(nos, F_GET_SEALS), F_SEAL_SEAL);
	CHECK_ERR("adding one: EPERM", fcntl(nos, F_ADD_SEALS, F_SEAL_GROW),
		  EPERM);
	close(nos);

	int fd = FOK("memfd with MFD_ALLOW_SEALING",
		     memfd_create("seal", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	CHECK_RET("no seals yet", fcntl(fd, F_GET_SEALS), 0);
	CHECK_RET("write 8 KiB", write(fd, buf, sizeof(buf)), 8192);
	CHECK_ERR("an unknown seal", fcntl(fd, F_ADD_SEALS, 0x1000), EINVAL);
	FOK("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK_ERR("ftruncate smaller", ftruncate(fd, 100), EPERM);
	FOK("ftruncate larger", ftruncate(fd, 12288));
	FOK("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK_ERR("ftruncate larger now", ftruncate(fd, 16384), EPERM);
	CHECK_ERR("a write past the end", pwrite(fd, "x", 1, 12288), EPERM);
	CHECK_RET("a write inside", pwrite(fd, "in", 2, 100), 2);
	CHECK_ERR("fallocate past the end (KEEP_SIZE too)",
		  fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 20000), EPERM);
	FOK("ftruncate to its size", ftruncate(fd, 12288));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK_TRUE("a shared writable mapping", m != MAP_FAILED);
	CHECK_ERR("F_SEAL_WRITE while it is mapped",
		  fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	if (m != MAP_FAILED)
		munmap(m, 4096);
	FOK("F_SEAL_WRITE once unmapped", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK_RET("seals now", fcntl(fd, F_GET_SEALS),
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	CHECK_ERR("write", pwrite(fd, "x", 1, 0), EPERM);
	CHECK_ERR("punch a hole",
		  fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			    4096),
		  EPERM);
	CHECK_TRUE("a shared writable mapping: refused",
		   mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
			   MAP_FAILED &&
			   errno == EPERM);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_TRUE("a shared read-only one: fine", m != MAP_FAILED);
	CHECK_TRUE("which reads the data", m != MAP_FAILED && m[100] == 'i');
	if (m != MAP_FAILED)
		munmap(m, 4096);
	CHECK_RET("read still works", pread(fd, buf, 2, 100), 2);
	FOK("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK_ERR("no more seals", fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC), EPERM);
	close(fd);

	fd = FOK("another", memfd_create("seal2", MFD_ALLOW_SEALING));
	int rd = -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rd = open(path, O_RDONLY);
	CHECK_TRUE("a read-only open of it", rd >= 0);
	CHECK_ERR("F_ADD_SEALS through it: EPERM",
		  fcntl(rd, F_ADD_SEALS, F_SEAL_GROW), EPERM);
	CHECK_RET("F_GET_SEALS through it", fcntl(rd, F_GET_SEALS), 0);
	FOK("F_SEAL_FUTURE_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	CHECK_ERR("a write after it", write(fd, "x", 1), EPERM);
	close(rd);
	close(fd);

	fd = FOK("an exec-sealed one",
		 memfd_create("seal3", MFD_NOEXEC_SEAL));
	CHECK_RET("its seals: F_SEAL_EXEC", fcntl(fd, F_GET_SEALS), F_SEAL_EXEC);
	struct stat st;
	fstat(fd, &st);
	CHECK_RET("its mode", st.st_mode & 07777, 0666);
	CHECK_ERR("chmod +x", fchmod(fd, 0777), EPERM);
	FOK("chmod without x", fchmod(fd, 0644));
	close(fd);

	fs_put("plain", "x", 0644);
	int pf = open("plain", O_RDWR);
	CHECK_ERR("F_GET_SEALS on a plain file", fcntl(pf, F_GET_SEALS), EINVAL);
	close(pf);
}

static void copies(void)
{
	char buf[64];
	fs_put("src", "abcdefghijklmnopqrstuvwxyz", 0644);
	int in = open("src", O_RDONLY);
	int out = open("dst", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	off_t off = 3;
	CHECK_RET("sendfile with offset", sendfile(out, in, &off, 5), 5);
	printf("offset now %ld, in's own %ld\n", (long)off,
	       (long)lseek(in, 0, SEEK_CUR));
	CHECK_RET("sendfile from in's offset", sendfile(out, in, NULL, 4), 4);
	printf("in's offset %ld\n", (long)lseek(in, 0, SEEK_CUR));
	printf("dst %s\n", fs_get("dst"));
	off = 100;
	CHECK_RET("sendfile past the end", sendfile(out, in, &off, 5), 0);
	int ro = open("dst", O_RDONLY);
	CHECK_ERR("sendfile to a read-only fd", sendfile(ro, in, NULL, 1),
		  EBADF);
	close(ro);
	int ap = open("dst", O_WRONLY | O_APPEND);
	CHECK_ERR("sendfile to O_APPEND", sendfile(ap, in, NULL, 1), EINVAL);
	close(ap);
	close(out);

	out = open("cfr", O_RDWR | O_CREAT | O_TRUNC, 0644);
	loff_t io = 10, oo = 2;
	CHECK_RET("copy_file_range", copy_file_range(in, &io, out, &oo, 6, 0),
		  6);
	printf("offsets %ld %ld\n", (long)io, (long)oo);
	lseek(in, 0, SEEK_SET);
	CHECK_RET("copy_file_range own offsets",
		  copy_file_range(in, NULL, out, NULL, 2, 0), 2);
	CHECK_RET("pread result", pread(out, buf, sizeof(buf), 0), 8);
	printf("cfr %.2s|%d%d|%.4s\n", buf, buf[0] == 'a', buf[1] == 'b',
	       buf + 4);
	CHECK_ERR("copy_file_range flags",
		  copy_file_range(in, NULL, out, NULL, 1, 1), EINVAL);
	io = 0;
	oo = 2;
	CHECK_ERR("copy_file_range overlapping in one file",
		  copy_file_range(out, &io, out, &oo, 4, 0), EINVAL);
	int d = open(".", O_RDONLY);
	CHECK_ERR("copy_file_range from a dir",
		  copy_file_range(d, NULL, out, NULL, 1, 0), EISDIR);
	close(d);
	close(out);
	close(in);
}

static void syncs(void)
{
	int fd = open("src", O_RDWR);
	CHECK_RET("fsync", fsync(fd), 0);
	CHECK_RET("fdatasync", fdatasync(fd), 0);
	CHECK_RET("syncfs", syncfs(fd), 0);
	close(fd);
	fd = open(".", O_RDONLY);
	CHECK_RET("fsync a dir", fsync(fd), 0);
	close(fd);
	sync();
	printf("sync: ok\n");
	CHECK_ERR("fsync bad fd", fsync(999), EBADF);
	fd = open("src", O_PATH);
	CHECK_ERR("fsync O_PATH", fsync(fd), EBADF);
	close(fd);
}

int main(void)
{
	fs_setup();
	fifos();
	memfds();
	memfd_seals();
	copies();
	syncs();
	fs_cleanup();
	return probe_done();
}
