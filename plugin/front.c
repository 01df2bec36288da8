/* front.c: the `galsmime` command itself, a small front (libc only).
 *
 * The engine (galsmime-engine.so: GMime, OpenSSL, SQLite and the 24
 * shared libraries they pull in) costs more to load and initialise than
 * a 2 KB message costs to sign. So this front, before it loads anything,
 * looks for the warm engine that runs beside the key agent
 * (plugin/engine.c): when one listens on the agent's folder's
 * engine.sock, it hands the engine its stdin, stdout and stderr
 * (SCM_RIGHTS), its arguments, working folder, umask and environment,
 * and waits for the exit code. Otherwise (no agent, another build, a
 * command the engine does not take, the engine declining) it loads
 * galsmime-engine.so and runs the command here (cli_main): the cold path
 * is the previous galsmime, whose libraries the dynamic loader now maps
 * at dlopen instead of at exec. (An exec of a separate engine binary was
 * measured first: the second exec cost 15-25% of a cold 2 KB verify's
 * CPU time on this loaded machine.)
 *
 * The front sends the request, and with it its descriptors, only once a
 * worker has greeted it ('P'), within GREETING_MS: an engine that does
 * not answer (stopped, swamped) costs that wait and the cold path, and
 * never holds descriptors that a worker could use later, alongside the
 * cold run.
 *
 * What the engine answers (int32 pairs, engine.c):
 *   'P' pid   a worker took the connection (stdin may be read once it
 *             has the request)
 *   'D' 0     declined before touching stdin: run cold (a worker
 *             declines before the command reads anything)
 *   'R' code  the command's exit code
 * The connection closing after 'P' and before 'R' is a worker that died:
 * exit 75 (try again), as when the key agent goes away. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "front.h"

extern char **environ;

static volatile sig_atomic_t worker_pid, got_signal;

/* how long a worker has to greet a front before it runs cold */
#define GREETING_MS 2000

/* The engine beside this front: DIR/galsmime-engine.so (the build
 * folder), else DIR/../lib/galsmime/galsmime-engine.so (make install). */
static int
find_engine(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = 0;
	if (!(slash = strrchr(self, '/')))
		return -1;
	*slash = 0;
	if ((size_t) snprintf(path, size, "%s/galsmime-engine.so", self) < size && access(path, R_OK) == 0)
		return 0;
	if ((size_t) snprintf(path, size, "%s/../lib/galsmime/galsmime-engine.so", self) < size &&
	    access(path, R_OK) == 0)
		return 0;
	return -1;
}

static int
starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The engine's socket for this command line, or -1: cold. The agent's
 * folder by the rules galsmime's own code uses (front.h). */
static int
socket_for(int argc, char **argv, char *path, size_t size, const char **cmd)
{
	const char *const *warm = gs_engine_commands;
	const char *home = NULL;
	int i, k, n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--home") && i + 1 < argc)
			home = argv[++i];
		else if (starts(argv[i], "--home="))
			home = argv[i] + 7;
		else if (strcmp(argv[i], "-q") && strcmp(argv[i], "--quiet"))
			break;
	}
	if (i >= argc)
		return -1;
	for (k = 0; warm[k] && strcmp(warm[k], argv[i]); k++)
		;
	if (!warm[k])
		return -1;
	*cmd = warm[k];
	/* help is printed cold: nothing to gain */
	for (k = i + 1; k < argc && strcmp(argv[k], "--"); k++)
		if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
			return -1;
	{
		char dir[4096];

		if (gs_agent_dir_path(home, dir, sizeof dir) < 0)
			return -1;
		n = snprintf(path, size, "%s/" GS_ENGINE_SOCKET, dir);
	}
	return n > 0 && (size_t) n < size ? 0 : -1;
}

static int
put(char *buf, size_t size, size_t *off, const void *p, size_t n)
{
	if (n > size - *off)
		return -1;
	memcpy(buf + *off, p, n);
	*off += n;
	return 0;
}

static int
put_str(char *buf, size_t size, size_t *off, const char *s)
{
	return put(buf, size, off, s, strlen(s) + 1);
}

/* The request (engine.c parses it): a header, the engine's identity,
 * umask, then NUL-ended strings: the working folder, argv, environ. */
static char *
request(int argc, char **argv, const struct stat *engine, size_t *len)
{
	size_t size = GS_ENGINE_MAX_REQUEST, off = sizeof(gs_engine_header);
	char *buf = malloc(size), cwd[PATH_MAX];
	gs_engine_header h = { .magic = GS_ENGINE_MAGIC, .version = GS_ENGINE_VERSION };
	uint32_t envc = 0;
	mode_t um = umask(077);
	int i, bad = 0;

	umask(um);
	if (!buf || !getcwd(cwd, sizeof cwd)) {
		free(buf);
		return NULL;
	}
	while (environ && environ[envc])
		envc++;
	h.dev = (uint64_t) engine->st_dev;
	h.ino = (uint64_t) engine->st_ino;
	h.size = (int64_t) engine->st_size;
	h.mtime_sec = (int64_t) engine->st_mtim.tv_sec;
	h.mtime_nsec = (int64_t) engine->st_mtim.tv_nsec;
	h.umask = (uint32_t) um;
	h.argc = (uint32_t) argc;
	h.envc = envc;
	bad |= put_str(buf, size, &off, cwd);
	for (i = 0; i < argc && !bad; i++)
		bad |= put_str(buf, size, &off, argv[i]);
	for (i = 0; i < (int) envc && !bad; i++)
		bad |= put_str(buf, size, &off, environ[i]);
	if (bad) {
		free(buf);
		return NULL;
	}
	h.length = (uint32_t) (off - sizeof h);
	memcpy(buf, &h, sizeof h);
	*len = off;
	return buf;
}

static void
forward(int sig)
{
	got_signal = sig;
	if (worker_pid > 0)
		kill((pid_t) worker_pid, sig);
}

/* Run the command in the warm engine: its exit code, or -1 (cold). */
static int
warm(int argc, char **argv, const char *engine)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof ctl.buf };
	struct cmsghdr *cm;
	struct ucred cred;
	socklen_t clen = sizeof cred;
	struct stat est;
	const char *cmd = "";
	char *req;
	size_t len, off;
	int fd, i, fds[3] = { 0, 1, 2 };
	int32_t msg[2];

	if (socket_for(argc, argv, sa.sun_path, sizeof sa.sun_path, &cmd) < 0 || stat(engine, &est) < 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* the kernel's word that the engine is this user's */
	if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != geteuid()) {
		close(fd);
		return -1;
	}
	/* a worker's greeting first: nothing sent yet, so nothing to undo */
	{
		struct timeval tv = { .tv_sec = GREETING_MS / 1000, .tv_usec = (GREETING_MS % 1000) * 1000 };
		struct timeval none = { 0 };

		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
		    gs_engine_read_all(fd, msg, sizeof msg) < 0 || msg[0] != 'P' || msg[1] <= 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none) < 0 ||
		    !(req = request(argc, argv, &est, &len))) {
			close(fd);
			return -1;
		}
	}
	{
		struct sigaction sa_fw = { .sa_handler = forward };

		worker_pid = msg[1];
		sigaction(SIGINT, &sa_fw, NULL);
		sigaction(SIGTERM, &sa_fw, NULL);
		sigaction(SIGHUP, &sa_fw, NULL);
		sigaction(SIGQUIT, &sa_fw, NULL);
	}
	iov.iov_base = req;
	iov.iov_len = len;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(cm), fds, sizeof fds);
	for (off = 0; off < len;) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			free(req);
			close(fd);
			return -1;
		}
		off += (size_t) w;
		iov.iov_base = req + off;
		iov.iov_len = len - off;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	free(req);
	if (got_signal)
		kill((pid_t) worker_pid, got_signal);
	for (;;) {
		if (gs_engine_read_all(fd, msg, sizeof msg) < 0)
			break;
		if (msg[0] == 'D') {
			close(fd);
			return -1;
		} else if (msg[0] == 'R' && worker_pid && msg[1] >= 0 && msg[1] < 256) {
			close(fd);
			return msg[1];
		} else {
			break;
		}
	}
	close(fd);
	/* taken by no worker: nothing was read, run cold */
	if (!worker_pid)
		return -1;
	/* the worker died of the signal this front passed on: so do we */
	if (got_signal) {
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
	fprintf(stderr, "galsmime %s: the galsmime engine went away during the command (try again)\n", cmd);
	return 75;
}

int
main(int argc, char **argv)
{
	char engine[PATH_MAX];
	int (*cli_main)(int, char **, void *);
	void *h;
	int rc;

	if (find_engine(engine, sizeof engine) < 0) {
		fprintf(stderr, "galsmime: galsmime-engine.so is not installed beside this galsmime\n");
		return 70;
	}
	if ((rc = warm(argc, argv, engine)) >= 0)
		return rc;
	if (!(h = dlopen(engine, RTLD_LAZY | RTLD_LOCAL)) ||
	    !(*(void **) &cli_main = dlsym(h, "cli_main"))) {
		fprintf(stderr, "galsmime: %s\n", dlerror());
		return 70;
	}
	return cli_main(argc, argv, NULL);
}
