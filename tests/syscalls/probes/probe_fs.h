/*
 * probe_fs.h - helpers for the file-system probes (issue 5). Builds on
 * probe.h.
 *
 * Every file probe works in a fresh directory made by mkdtemp under /tmp
 * (natively on the host's /tmp; in the sandbox, on the overlay's upper
 * layer) and removes it at the end. The transcript never shows the
 * directory's name, inode numbers, device numbers, times, block counts or
 * directory sizes: those differ between file systems without either being
 * wrong. Listings are sorted.
 */
#ifndef PROBE_FS_H
#define PROBE_FS_H

#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

static char fs_dir[64];

/* Names for the errnos that probe.h does not know. */
static inline const char *fs_errname(int e)
{
	switch (e) {
	case ELOOP:
		return "ELOOP";
	case ENOTEMPTY:
		return "ENOTEMPTY";
	case ENODATA:
		return "ENODATA";
	case EDEADLK:
		return "EDEADLK";
	case EMLINK:
		return "EMLINK";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case ETXTBSY:
		return "ETXTBSY";
	default:
		return probe_errname(e);
	}
}

static inline long check_errf(const char *label, long r, int err, int want)
{
	if (r == -1) {
		printf("%s: %s\n", label, fs_errname(err));
		if (err != want)
			probe_mismatch(label, fs_errname(want),
				       fs_errname(err));
	} else {
		printf("%s: ok\n", label);
		probe_mismatch(label, fs_errname(want), "success");
	}
	return r;
}

static inline long check_okf(const char *label, long r, int err)
{
	if (r == -1) {
		printf("%s: %s\n", label, fs_errname(err));
		probe_mismatch(label, "success", fs_errname(err));
	} else {
		printf("%s: ok\n", label);
	}
	return r;
}

static inline long check_retf(const char *label, long r, int err, long want)
{
	if (r == -1) {
		printf("%s -> %s\n", label, fs_errname(err));
		probe_mismatch(label, "a value", fs_errname(err));
		return r;
	}
	printf("%s -> %ld\n", label, r);
	if (r != want) {
		char w[32], g[32];
		snprintf(w, sizeof(w), "%ld", want);
		snprintf(g, sizeof(g), "%ld", r);
		probe_mismatch(label, w, g);
	}
	return r;
}

#define FERR(label, expr, want)                                                \
	(errno = 0, probe_r = (long)(expr),                                    \
	 check_errf((label), probe_r, errno, (want)))
#define FOK(label, expr)                                                       \
	(errno = 0, probe_r = (long)(expr), check_okf((label), probe_r, errno))
#define FRET(label, expr, want)                                                \
	(errno = 0, probe_r = (long)(expr),                                    \
	 check_retf((label), probe_r, errno, (long)(want)))

/* Makes the scratch directory and enters it. */
static inline void fs_setup(void)
{
	strcpy(fs_dir, "/tmp/probe-fs.XXXXXX");
	if (!mkdtemp(fs_dir) || chdir(fs_dir) < 0) {
		perror("probe: scratch directory");
		exit(2);
	}
	umask(022);
}

static int fs_rm_one(const char *p, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)ftw;
	/* A directory left without permissions would block the removal.
	 * Only real directories: chmod follows symlinks, and the probes
	 * make links that point out of the scratch directory. */
	if (flag == FTW_DP && S_ISDIR(st->st_mode))
		chmod(p, 0700);
	return remove(p);
}

static inline void fs_cleanup(void)
{
	if (chdir("/") == 0)
		nftw(fs_dir, fs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes a whole file; exits on failure (setup, not a check). */
static inline void fs_put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* A file of `pages` 4 KiB pages, page i filled with 'a' + i. */
static inline void fs_put_pages(const char *path, int pages)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char buf[4096];
	for (int i = 0; i < pages; i++) {
		memset(buf, 'a' + i, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			perror("write");
			exit(2);
		}
	}
	close(fd);
}

/* Reads a whole (small) file into a static buffer; "" on error. */
static inline const char *fs_get(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int fs_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints "label: name name ..." for the directory path, sorted, without
 * "." and "..". */
static inline void fs_list(const char *label, const char *path)
{
	DIR *d = opendir(path);
	char *names[256];
	int n = 0;
	struct dirent *e;
	if (!d) {
		printf("%s: %s\n", label, fs_errname(errno));
		return;
	}
	while ((e = readdir(d)) && n < 256)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), fs_cmp);
	printf("%s:", label);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

/* The type letter of a mode, as ls shows it. */
static inline char fs_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return '-';
	case S_IFDIR:
		return 'd';
	case S_IFLNK:
		return 'l';
	case S_IFIFO:
		return 'p';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFSOCK:
		return 's';
	default:
		return '?';
	}
}

#endif /* PROBE_FS_H */
