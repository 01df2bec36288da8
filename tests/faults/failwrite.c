/* failwrite.so: a full disk for one process, without root or a mount
 * (tests/t92-faults.sh).
 *
 *   LD_PRELOAD=build/tests/failwrite.so FAILWRITE_BUDGET=N [FAILWRITE_PATH=S]
 *       [FAILWRITE_KILL=1] [FAILWRITE_COUNT=F] [FAILWRITE_LOG=F] galsmime ...
 *
 * write, pwrite, pwrite64, writev, pwritev, pwritev64 and pwritev2 to
 * a regular file whose path contains S, or ends in S when S ends in
 * '$' (every regular file when S is unset), succeed for the first N
 * bytes in all; the write that crosses N is cut short where it
 * crosses, as the kernel does on a full disk, and every later one
 * fails with ENOSPC, as do fallocate and posix_fallocate. Pipes,
 * terminals and devices are never touched, so stderr still works.
 * Without FAILWRITE_BUDGET nothing fails.
 *
 * FAILWRITE_KILL=1: a crash instead of a full disk: the write that
 * crosses N is cut short where it crosses, then the process sends
 * itself SIGKILL (a kill at an exact point: in the WAL before the
 * commit, in its last frame, in the checkpoint after it).
 *
 * FAILWRITE_COUNT=F: at exit, write the number of bytes written to the
 * matching files into F (run an operation once to measure it, then
 * choose budgets inside it). FAILWRITE_LOG=F: append "PATH OFFSET" to F
 * for the first write cut short or refused, so that a test can tell
 * where the failure landed (the -wal file, the database file).
 *
 * SQLite calls these through its own table of system calls, filled in
 * with their addresses, which the dynamic linker resolves to ours. With
 * AddressSanitizer, preload libasan first ("libasan.so.N failwrite.so"):
 * its interceptors run first and call ours, ours call libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_posix_fallocate)(int, off_t, off_t);

static int ready;
static long long budget = -1;  /* -1: no limit, only count */
static int kill_at_budget;     /* FAILWRITE_KILL */
static const char *match;      /* FAILWRITE_PATH */
static int match_end;          /* it ends in '$': a suffix */
static const char *log_file;   /* FAILWRITE_LOG */
static const char *count_file; /* FAILWRITE_COUNT */
static long long written;      /* bytes let through to matching files */
static int logged;

/* Also called from the wrappers: another library's constructor may
 * write before ours has run. */
static void
setup(void)
{
	const char *b;

	if (ready)
		return;
	*(void **) &real_write = dlsym(RTLD_NEXT, "write");
	*(void **) &real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	*(void **) &real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
	*(void **) &real_writev = dlsym(RTLD_NEXT, "writev");
	*(void **) &real_pwritev = dlsym(RTLD_NEXT, "pwritev");
	*(void **) &real_pwritev64 = dlsym(RTLD_NEXT, "pwritev64");
	*(void **) &real_pwritev2 = dlsym(RTLD_NEXT, "pwritev2");
	*(void **) &real_fallocate = dlsym(RTLD_NEXT, "fallocate");
	*(void **) &real_posix_fallocate = dlsym(RTLD_NEXT, "posix_fallocate");
	if ((b = getenv("FAILWRITE_BUDGET")) && *b)
		budget = strtoll(b, NULL, 10);
	if ((match = getenv("FAILWRITE_PATH")) && !*match)
		match = NULL;
	match_end = match && match[strlen(match) - 1] == '$';
	kill_at_budget = (b = getenv("FAILWRITE_KILL")) && *b && *b != '0';
	log_file = getenv("FAILWRITE_LOG");
	count_file = getenv("FAILWRITE_COUNT");
	ready = 1;
}

static void __attribute__((constructor))
init(void)
{
	setup();
}

static void __attribute__((destructor))
fini(void)
{
	char buf[32];
	int fd, n;

	if (!count_file || !*count_file)
		return;
	fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof buf, "%lld\n", __atomic_load_n(&written, __ATOMIC_SEQ_CST));
	(void) !real_write(fd, buf, (size_t) n);
	close(fd);
}

/* Does path end in m, without m's final '$'? */
static int
ends_in(const char *path, const char *m)
{
	size_t pl = strlen(path), ml = strlen(m) - 1;

	return pl >= ml && !memcmp(path + pl - ml, m, ml);
}

/* Is fd a file whose writes we count and fail? */
static int
counted(int fd, char *path, size_t size)
{
	struct stat sb;
	char link[64];
	ssize_t n;
	int saved = errno, r = 0;

	path[0] = 0;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		n = readlink(link, path, size - 1);
		path[n > 0 ? n : 0] = 0;
		r = !match || (match_end ? ends_in(path, match) : strstr(path, match) != NULL);
	}
	errno = saved;
	return r;
}

static void
log_refusal(const char *path, long long offset)
{
	char line[PATH_MAX + 64];
	int fd, n;

	if (!log_file || !*log_file || __atomic_exchange_n(&logged, 1, __ATOMIC_SEQ_CST))
		return;
	fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof line, "%s %lld\n", path, offset);
	(void) !real_write(fd, line, (size_t) (n < (int) sizeof line ? n : (int) sizeof line - 1));
	close(fd);
}

/* How many of n bytes may go to fd at offset (-1: the current one):
 * n, fewer (the disk fills up in this write), or -1 with errno ENOSPC. */
static ssize_t
allowance(int fd, size_t n, long long offset, int *count)
{
	char path[PATH_MAX];
	long long left;

	setup();
	*count = counted(fd, path, sizeof path);
	if (!*count || budget < 0)
		return (ssize_t) n;
	left = budget - __atomic_load_n(&written, __ATOMIC_SEQ_CST);
	if ((long long) n <= left)
		return (ssize_t) n;
	if (n > 0) {
		int saved = errno;
		log_refusal(path, offset >= 0 ? offset : (long long) lseek(fd, 0, SEEK_CUR));
		errno = saved;
	}
	if (left <= 0) {
		if (kill_at_budget)
			raise(SIGKILL);
		errno = ENOSPC;
		return -1;
	}
	return (ssize_t) left;
}

static ssize_t
done(ssize_t r, int count)
{
	if (count && r > 0 &&
	    __atomic_add_fetch(&written, (long long) r, __ATOMIC_SEQ_CST) >= budget && budget >= 0 &&
	    kill_at_budget)
		raise(SIGKILL); /* the write that reached the budget was the last */
	return r;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	int count;
	ssize_t a = allowance(fd, n, -1, &count);

	return a < 0 ? -1 : done(real_write(fd, buf, (size_t) a), count);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int count;
	ssize_t a = allowance(fd, n, (long long) off, &count);

	return a < 0 ? -1 : done(real_pwrite(fd, buf, (size_t) a, off), count);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	int count;
	ssize_t a = allowance(fd, n, (long long) off, &count);

	return a < 0 ? -1 : done(real_pwrite64(fd, buf, (size_t) a, off), count);
}

static size_t
iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;
	int i;

	for (i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* iov cut to its first `keep` bytes, in `out` (at most IOV_MAX entries) */
static int
iov_cut(const struct iovec *iov, int cnt, size_t keep, struct iovec *out)
{
	int i, k = 0;

	for (i = 0; i < cnt && i < IOV_MAX && keep > 0; i++) {
		out[k] = iov[i];
		if (out[k].iov_len > keep)
			out[k].iov_len = keep;
		keep -= out[k].iov_len;
		k++;
	}
	return k;
}

/* The vector calls: the whole vector, a cut copy of it, or ENOSPC. */
#define VECTOR_CALL(call_whole, call_cut, offset) \
	do { \
		struct iovec cut[IOV_MAX]; \
		size_t total = iov_total(iov, cnt); \
		int count, k; \
		ssize_t a = allowance(fd, total, (offset), &count); \
		if (a < 0) \
			return -1; \
		if ((size_t) a == total) \
			return done((call_whole), count); \
		k = iov_cut(iov, cnt, (size_t) a, cut); \
		return done((call_cut), count); \
	} while (0)

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	VECTOR_CALL(real_writev(fd, iov, cnt), real_writev(fd, cut, k), -1);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	VECTOR_CALL(real_pwritev(fd, iov, cnt, off), real_pwritev(fd, cut, k, off), (long long) off);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	VECTOR_CALL(real_pwritev64(fd, iov, cnt, off), real_pwritev64(fd, cut, k, off), (long long) off);
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	VECTOR_CALL(real_pwritev2(fd, iov, cnt, off, flags), real_pwritev2(fd, cut, k, off, flags),
		    (long long) off);
}

/* Space allocated ahead counts as nothing written, but fails on a full disk. */
static int
disk_full(int fd)
{
	char path[PATH_MAX];

	setup();
	return counted(fd, path, sizeof path) && budget >= 0 &&
	       __atomic_load_n(&written, __ATOMIC_SEQ_CST) >= budget;
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	if (disk_full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real_fallocate(fd, mode, off, len);
}

int
posix_fallocate(int fd, off_t off, off_t len)
{
	return disk_full(fd) ? ENOSPC : real_posix_fallocate(fd, off, len);
}
