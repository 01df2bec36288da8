/* engine.c: the warm engine, `galsmime agent engine`, which the key agent
 * starts beside itself, and its workers.
 *
 * The engine is galsmime with GLib, GMime and OpenSSL loaded and
 * initialised, waiting on engine.sock in the agent's folder. Per request
 * (front.c sends it) it forks a worker, which takes the front's stdin,
 * stdout and stderr, working folder, umask and environment, runs the
 * normal command (cli_main), writing straight to the front's
 * descriptors, and sends back the exit code. So a 2 KB message pays
 * neither process start nor library loading and initialisation.
 *
 * The engine holds no key: a worker reaches the key agent like any
 * command does, so parsing a hostile message never happens in the
 * process that holds every cached key, and a crash kills only that
 * worker. The engine keeps no store open either: each worker opens it
 * as a cold command does, so it sees every certificate imported and CRL
 * updated before it started. The engine decodes certificates once for
 * its workers: the store's anchors, identities and CAs
 * (gs_warm_certs_load), and those its workers decoded in a command that
 * succeeded (gs_warm_certs_learn: a correspondent's, a signer's), which
 * a store then takes only for exactly the same bytes. It parses no
 * message. It accepts only its own user
 * (SO_PEERCRED), refuses a front that would load another
 * galsmime-engine.so than itself (a rebuild, a reinstall: it then stops),
 * and goes when the agent goes (the watch pipe). The engine process is
 * the front (/proc/self/exe) running `agent engine` with the engine
 * loaded, as the agent is the front running `agent serve`. */
#include "cli.h"
#include "front.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* workers at once; a front finding the engine at this limit goes cold */
#define MAX_WORKERS 32
/* how long a spare waits for the key agent's greeting before it does
 * without its connection (its worker then connects as a cold command does) */
#define SPARE_AGENT_MS 500
/* how long the next spare waits for the request that took the last one
 * to answer (cli_engine_serve) */
#define SPARE_DEFER_MS 25
/* how long a new spare waits before its preparation (spare()): on this
 * project's machine (two CPUs) a 2 KB warm encrypt's caller saw its
 * median fall from 3.8 to 3.5 ms with it, and a request that comes
 * 1-2 ms after the last one's answer pays up to 0.5 ms. Measured and
 * not kept: the wait before the page copying alone (the store and the
 * agent's connection first: the bench's warm rows 10-25% slower), and
 * no wait with the spare forked as the request starts when requests
 * come within 50 ms of each other (requests back to back no faster,
 * those 5 ms apart slower) */
#define SPARE_QUIET_MS 1
/* certificates decoded before forking (anchors, identities, CAs) */
#define WARM_CERTS 200
/* and those the workers decoded (correspondents', signers'): at most
 * this many kept, this many taken from one request, in a message of at
 * most so many bytes (done()) */
#define LEARN_MAX 500
#define LEARN_PER_REQUEST 16
#define LEARN_MESSAGE (32 * 1024)

int
cli_engine_spawn(cli *c)
{
	int w[2];

	if (pipe2(w, O_CLOEXEC) < 0)
		return -1;
	if (cli_spawn_self(c, "engine", "--watch-fd", w[0]) < 0) {
		close(w[0]);
		close(w[1]);
		return -1;
	}
	close(w[0]);
	return w[1];
}

static void
tell(int fd, int32_t what, int32_t value)
{
	int32_t m[2] = { what, value };

	if (send(fd, m, sizeof m, MSG_NOSIGNAL) != sizeof m) {
		/* the front went away: its descriptors are still ours to finish */
	}
}

/* The request's header and the three descriptors: 0, or -1. */
static int
receive(int fd, gs_engine_header *h, int fds[3])
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof *h };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof ctl.buf };
	struct cmsghdr *cm;
	ssize_t r;
	int got = 0;

	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (r < 0 && errno == EINTR);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int i, *p = (int *) CMSG_DATA(cm);
			for (i = 0; i < (int) n; i++) {
				if (!got && n == 3 && i < 3)
					fds[i] = p[i];
				else
					close(p[i]);
			}
			got |= n == 3;
		}
	}
	if (r != (ssize_t) sizeof *h || !got || (mh.msg_flags & MSG_CTRUNC) || h->magic != GS_ENGINE_MAGIC ||
	    h->version != GS_ENGINE_VERSION || h->length > GS_ENGINE_MAX_REQUEST || h->argc < 2 ||
	    h->argc > 4096 || h->envc > 65536) {
		if (got) {
			close(fds[0]);
			close(fds[1]);
			close(fds[2]);
		}
		return -1;
	}
	return 0;
}

/* The worker declines the command when the key agent is disabled (the
 * front then runs it cold, as configured), and any command but those the
 * front sends (front.c): `agent serve` or `engine` have no business in a
 * worker, whoever asks. */
static int
accepted(cli *c)
{
	const char *const *k;

	for (k = gs_engine_commands; *k; k++)
		if (c->cmd && !strcmp(c->cmd, *k))
			return c->agent_enable;
	return 0;
}

/* Has the store changed since `seen` (the database and its write-ahead
 * log: inode, size, modification time)? `seen` updated. An empty log is
 * no log: every reader that opens the store when no other connection has
 * it creates one, and the last to close deletes it, with nothing written
 * (the spare's own store, cli_engine_take_store). */
static int
store_changed(const char *db, struct stat seen[2])
{
	char *wal = g_strconcat(db, "-wal", NULL);
	const char *paths[2] = { db, wal };
	int i, changed = 0;

	for (i = 0; i < 2; i++) {
		struct stat now = { 0 };
		if (stat(paths[i], &now) < 0 || (i == 1 && now.st_size == 0))
			memset(&now, 0, sizeof now);
		if (now.st_ino != seen[i].st_ino || now.st_size != seen[i].st_size ||
		    now.st_mtim.tv_sec != seen[i].st_mtim.tv_sec || now.st_mtim.tv_nsec != seen[i].st_mtim.tv_nsec)
			changed = 1;
		seen[i] = now;
	}
	g_free(wal);
	return changed;
}

/* The worker's answer is out: the engine may fork the next spare now
 * (cli_engine_serve), without taking the CPU from a request. With it, in
 * the same message, when the command succeeded: the certificates it
 * decoded that the engine had not (gs_warm_certs_missed), for the
 * engine to decode once for the spares to come: a correspondent's
 * certificate, a signer's. Decoding one was a fifth of a warm 2 KB
 * encrypt or verify. The message: int32 minus the worker's pid, int32
 * the count, then each certificate as uint32 length and DER; at most
 * LEARN_MESSAGE bytes, the certificates that do not fit left out. */
static void
done(int taken, int rc)
{
	GByteArray *m = g_byte_array_new();
	GPtrArray *certs = rc == 0 ? gs_warm_certs_missed() : NULL;
	int32_t head[2] = { -(int32_t) getpid(), 0 };
	guint i;

	g_byte_array_append(m, (const guint8 *) head, sizeof head);
	for (i = 0; certs && i < certs->len && head[1] < LEARN_PER_REQUEST; i++) {
		gsize len;
		const void *p = g_bytes_get_data(certs->pdata[i], &len);
		uint32_t n = (uint32_t) len;

		if (m->len + sizeof n + len > LEARN_MESSAGE)
			continue;
		g_byte_array_append(m, (const guint8 *) &n, sizeof n);
		g_byte_array_append(m, p, (guint) len);
		head[1]++;
	}
	memcpy(m->data + sizeof head[0], &head[1], sizeof head[1]);
	if (taken >= 0 && send(taken, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the engine gone (it forks no more spares), or its queue full */
	}
	if (certs)
		g_ptr_array_unref(certs);
	g_byte_array_unref(m);
}

/* The engine's side of done(): learn the certificates of message `m`
 * (`len` bytes, after its pid), whatever a worker put there. */
static void
learn(const unsigned char *m, size_t len)
{
	GBytes *der[LEARN_PER_REQUEST];
	int32_t n, i, k = 0;
	size_t off = sizeof(int32_t);

	if (len < 2 * sizeof(int32_t))
		return;
	memcpy(&n, m + off, sizeof n);
	off += sizeof n;
	for (i = 0; i < n && k < LEARN_PER_REQUEST; i++) {
		uint32_t one;

		if (len - off < sizeof one)
			break;
		memcpy(&one, m + off, sizeof one);
		off += sizeof one;
		if (one == 0 || one > len - off)
			break;
		der[k++] = g_bytes_new(m + off, one);
		off += one;
	}
	gs_warm_certs_learn(der, (size_t) k, LEARN_MAX);
	for (i = 0; i < k; i++)
		g_bytes_unref(der[i]);
}

/* the worker's connection to its front, whether it has answered, and
 * the engine's pipe (done()) */
static int front_fd = -1, front_answered, front_taken = -1;

/* The command's exit code to the front as soon as its output is out
 * (cli_hooks.answered): the front exits while the worker ends. A
 * command that did not write to the store ends here, its secrets wiped
 * (cli_drop_secrets), without freeing what the exit frees: the store's
 * handle is a read-only connection outside any transaction, which
 * SQLite's own crash safety covers; closing it (and its log files as
 * the last reader) was a sixth of a warm 2 KB verify's CPU time. */
static void
answered(cli *c, int rc)
{
	fflush(stdout);
	fflush(stderr);
	tell(front_fd, 'R', rc);
	front_answered = 1;
	done(front_taken, rc);
	/* what is left yields to the front's parent, which the front's exit
	 * wakes: on two CPUs, this and the next spare's forking kept it
	 * waiting up to a millisecond */
	if (setpriority(PRIO_PROCESS, 0, 19) < 0) {
		/* as it was */
	}
	if (c && !c->write) {
		cli_drop_secrets(c);
		_exit(rc);
	}
}

/* One request, in the forked worker: never returns. */
static void G_GNUC_NORETURN
worker(int fd, const struct stat *self, int taken)
{
	gs_engine_header h;
	int fds[3], i, rc;
	char *buf, *p, *end, **argv, *cwd;
	char *dummy[] = { "galsmime", NULL };
	static const cli_hooks hooks = { accepted, answered };

	front_fd = fd;
	front_taken = taken;
	tell(fd, 'P', (int32_t) getpid());
	if (receive(fd, &h, fds) < 0)
		_exit(EXIT_SOFTWARE);
	buf = g_malloc(h.length + 1);
	if (gs_engine_read_all(fd, buf, h.length) < 0)
		_exit(EXIT_SOFTWARE);
	buf[h.length] = 0;
	if (h.dev != (uint64_t) self->st_dev || h.ino != (uint64_t) self->st_ino ||
	    h.size != (int64_t) self->st_size || h.mtime_sec != (int64_t) self->st_mtim.tv_sec ||
	    h.mtime_nsec != (int64_t) self->st_mtim.tv_nsec) {
		tell(fd, 'D', 0);
		_exit(GS_ENGINE_STALE);
	}
	/* cwd, argv, environ: exactly 1 + argc + envc strings */
	argv = g_new0(char *, h.argc + 1);
	p = buf;
	end = buf + h.length;
	cwd = p;
	p += strlen(p) + 1;
	for (i = 0; i < (int) h.argc && p < end; i++, p += strlen(p) + 1)
		argv[i] = p;
	if (i < (int) h.argc)
		_exit(EXIT_SOFTWARE);
	if (chdir(cwd) < 0) {
		tell(fd, 'D', 0);
		_exit(0);
	}
	clearenv();
	for (i = 0; i < (int) h.envc && p < end; i++, p += strlen(p) + 1)
		if (strchr(p, '='))
			putenv(p);
	if (p != end)
		_exit(EXIT_SOFTWARE);
	tzset();
	umask((mode_t) h.umask & 0777);
	for (i = 0; i < 3; i++) {
		if (fds[i] != i) {
			dup2(fds[i], i);
			close(fds[i]);
		}
	}
	/* getopt's state fresh, as in a new process */
	optind = 0;
	opterr = 0;
	getopt(1, dummy, "");
	opterr = 1;
	rc = cli_main((int) h.argc, argv, &hooks);
	if (rc == CLI_DECLINED) {
		tell(fd, 'D', 0);
		done(taken, -1);
		_exit(0);
	}
	/* a command that stopped before it ran (usage, help) */
	if (!front_answered)
		answered(NULL, rc);
	_exit(rc);
}

/* ---- the spare worker ---- */

/* the store the spare opened for its request (cli_engine_take_store) */
static gs_store *spare_store;
static char *spare_store_dir;

gs_store *
cli_engine_take_store(const char *home, unsigned flags, int busy_ms)
{
	gs_store *s = spare_store;
	char *dir;
	int same;

	if (!s)
		return NULL;
	spare_store = NULL;
	dir = g_canonicalize_filename(home, NULL);
	same = flags == GS_STORE_READ_ONLY && !strcmp(dir, spare_store_dir);
	g_free(dir);
	g_free(spare_store_dir);
	spare_store_dir = NULL;
	if (same && gs_store_reuse(s, busy_ms, NULL) == GS_OK)
		return s;
	gs_store_close(s);
	return NULL;
}

/* the key agent's connection the spare made for its request
 * (cli_engine_take_agent): a sign or decrypt does not wait for the
 * connection, the agent's new thread and its HELLO */
static gs_agent *spare_agent;
static char *spare_agent_sock;

gs_agent *
cli_engine_take_agent(const char *sock)
{
	gs_agent *a = spare_agent;
	int same = a && sock && spare_agent_sock && !strcmp(sock, spare_agent_sock);

	spare_agent = NULL;
	g_free(spare_agent_sock);
	spare_agent_sock = NULL;
	if (same && gs_agent_idle(a))
		return a;
	gs_agent_close(a);
	return NULL;
}

/* Do now, while no request waits, the page faults a request would take
 * after the fork: copy every resident page of the private writable
 * mappings (the heap, the libraries' data, the stack), which the child
 * shares with the engine until it writes, and map the libraries' code
 * and read-only data, which a child's page tables start without. On
 * this project's machine those faults were a third of a warm 2 KB
 * verify. */
#define PREFAULT_MAX ((unsigned long) 256 << 20)

/* A request already waiting on `fd` stops it: what is left then faults
 * in as the request touches it, as it would with no prefault at all, and
 * a burst of requests (a mail filter delivering a batch) does not wait
 * for each new spare to finish. (Not instrumented: AddressSanitizer
 * would take touching a freed chunk's page for a use after free.) */
__attribute__((no_sanitize_address)) static void
prefault(int fd)
{
	struct pollfd waiting = { .fd = fd, .events = POLLIN };
	long pg = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f || pg <= 0) {
		if (f)
			fclose(f);
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		unsigned long lo, hi;
		char perms[8];
		unsigned char *vec;
		size_t n, i;

		if (poll(&waiting, 1, 0) > 0)
			break;

		/* not the kernel's pages, and not a huge reservation (a sanitizer's
		 * shadow memory: terabytes, next to nothing resident) */
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || hi <= lo || perms[0] != 'r' ||
		    strstr(line, "[v") || hi - lo > PREFAULT_MAX)
			continue;
		if (strcmp(perms, "rw-p")) {
#ifdef MADV_POPULATE_READ
			madvise((void *) lo, hi - lo, MADV_POPULATE_READ);
#endif
			continue;
		}
		n = (hi - lo) / (unsigned long) pg;
		vec = malloc(n);
		if (vec && mincore((void *) lo, hi - lo, vec) == 0)
			for (i = 0; i < n; i++)
				if (vec[i] & 1) {
					volatile unsigned char *b = (unsigned char *) lo + i * (size_t) pg;
					*b = *b;
				}
		free(vec);
	}
	free(line);
	fclose(f);
}

/* The engine's spare: ready before a request comes, then its worker.
 * It waits on the listening socket `fd` until it accepts a connection
 * from its own user (then tells `taken` its pid and serves it), or until
 * the engine closes `retire`. Never returns. */
static void G_GNUC_NORETURN
spare(int fd, int retire, int taken, const char *store, const char *agent_sock, int busy_ms,
      const struct stat *self)
{
	int32_t me = (int32_t) getpid();
	struct pollfd first[2] = { { .fd = fd, .events = POLLIN }, { .fd = retire, .events = POLLIN } };

	/* The spare is forked as its predecessor's answer goes out. Its
	 * preparation (the store opened, the agent connected, the pages
	 * copied: a few ms of CPU) waits a moment, so that it does not take
	 * a CPU from the front's parent, which the front's exit has just
	 * woken; a request that comes in that moment is served at once,
	 * doing itself what it needs (as with the preparation cut short). */
	if (poll(first, 2, SPARE_QUIET_MS) > 0) {
		if (first[1].revents)
			_exit(0);
		goto serve;
	}
	if (gs_store_open(store, GS_STORE_READ_ONLY, busy_ms, &spare_store, NULL) == GS_OK) {
		spare_store_dir = g_strdup(store);
		gs_store_warm(spare_store, NULL);
	}
	/* this process's own random state, drawn now rather than by the
	 * request (a forked child's generators reseed on first use) */
	gs_warm_random();
	/* not waiting long on an agent that does not answer (stopped, hung):
	 * the spare's requests that need no key must not wait with it */
	if (gs_agent_connect_within(agent_sock, SPARE_AGENT_MS, &spare_agent, NULL) == GS_OK)
		spare_agent_sock = g_strdup(agent_sock);
	prefault(fd);
serve:
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = retire, .events = POLLIN } };
		struct ucred cred;
		socklen_t len = sizeof cred;
		int cfd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			_exit(0);
		if (p[1].revents)
			_exit(0);
		if (!(p[0].revents & POLLIN) || (cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
			close(cfd);
			continue;
		}
		if (write(taken, &me, sizeof me) != (ssize_t) sizeof me) {
			/* the engine gone: serve this one all the same */
		}
		close(fd);
		close(retire);
		worker(cfd, self, taken);
	}
}

/* A taken worker whose answer is out, or gone. */
static void
busy_remove(pid_t *busy, int *n, pid_t pid)
{
	int i;

	for (i = 0; i < *n; i++)
		if (busy[i] == pid) {
			busy[i] = busy[--*n];
			return;
		}
}

/* The spare is no longer the engine's to hand requests (it took one,
 * died, or is retired: closing its pipe tells it to go). */
static void
spare_gone(pid_t *pid, int *retire)
{
	if (*retire >= 0)
		close(*retire);
	*retire = -1;
	*pid = 0;
}

int
cli_engine_serve(cli *c, int watch_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir = cli_agent_dir(c, 0), *sock, *agent_sock;
	struct stat self, own, seen[2] = { { 0 } };
	char *store, *db;
	unsigned workers = 0;
	int fd, stop = 0, taken[2] = { -1, -1 }, retire = -1, spare_deaths = 0, waiting = 0, nbusy = 0;
	pid_t spare_pid = 0, busy[MAX_WORKERS];
	gint64 taken_at = 0;
	mode_t um;

	if (!dir)
		return EXIT_IOERR;
	sock = g_build_filename(dir, GS_ENGINE_SOCKET, NULL);
	agent_sock = cli_agent_socket(dir);
	g_free(dir);
	/* this galsmime-engine.so, as the front finds it */
	{
		Dl_info info;
		if (!dladdr((void *) cli_engine_serve, &info) || !info.dli_fname || stat(info.dli_fname, &self) < 0)
			self.st_ino = 0;
	}
	if (!self.st_ino || strlen(sock) >= sizeof sa.sun_path) {
		g_free(sock);
		g_free(agent_sock);
		return EXIT_IOERR;
	}
	strcpy(sa.sun_path, sock);
	/* started by a new agent: an engine.sock there is a dead engine's,
	 * or the old agent's engine about to go */
	unlink(sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	um = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 64) < 0 ||
	    stat(sock, &own) < 0) {
		umask(um);
		cli_error(c, "%s: %s", cli_text(sock, 0), g_strerror(errno));
		if (fd >= 0)
			close(fd);
		g_free(sock);
		g_free(agent_sock);
		return EXIT_IOERR;
	}
	umask(um);
	signal(SIGCHLD, SIG_DFL);
	/* the store of the agent's starter, by its full name: its
	 * certificates are decoded here once (gs_warm_certs_load), again
	 * whenever it changed */
	store = g_canonicalize_filename(c->home, NULL);
	db = g_build_filename(store, "galsmime.db", NULL);
	if (chdir("/") < 0) {
		/* nothing relies on the working folder */
	}
	gs_warm_crypto();
	if (store_changed(db, seen) && gs_warm_certs_load(store, WARM_CERTS, NULL) != GS_OK)
		gs_warm_certs_clear();
	/* one spare worker waits in accept() with its pages already copied
	 * and its store open (spare()); when it takes a request it says so
	 * on `taken` (its pid), and once its answer is out (done(): minus
	 * its pid) the next spare is forked: on a machine of two CPUs,
	 * forking it and copying its pages while the request runs took the
	 * request's CPU or its front's. A request still running after
	 * SPARE_DEFER_MS, or a connection waiting with no spare, forks it at
	 * once. A store change retires the spare (its retire pipe closed),
	 * so the next one has the certificates decoded again. When no spare
	 * can be had (fork failed, too many workers) the engine answers the
	 * socket itself by closing the connection: the front then runs the
	 * command cold. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, taken) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		stop = 1;
	while (!stop) {
		struct pollfd p[3] = { { .fd = taken[0], .events = POLLIN }, { .fd = watch_fd, .events = POLLIN },
				       { .fd = -1, .events = POLLIN } };
		int status, cfd, timeout = 1000, forked_none = 0;
		gint64 ms;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			workers--;
			busy_remove(busy, &nbusy, pid);
			/* a spare that dies before any request (not retired): three in
			 * a row and the engine stops rather than fork them forever
			 * while connections wait (the fronts then run cold) */
			if (pid == spare_pid) {
				spare_gone(&spare_pid, &retire);
				if (++spare_deaths >= 3)
					stop = 1;
			}
			if (WIFEXITED(status) && WEXITSTATUS(status) == GS_ENGINE_STALE)
				stop = 1;
		}
		/* the socket no longer ours */
		if (!cli_socket_ours(sock, &own))
			stop = 1;
		if (stop)
			break;
		if (store_changed(db, seen)) {
			/* a store that cannot be read: workers decode as cold */
			if (gs_warm_certs_load(store, WARM_CERTS, NULL) != GS_OK)
				gs_warm_certs_clear();
			spare_gone(&spare_pid, &retire);
		}
		ms = g_get_monotonic_time() / 1000;
		if (!spare_pid && workers < MAX_WORKERS &&
		    (nbusy == 0 || waiting || ms - taken_at >= SPARE_DEFER_MS)) {
			int r[2];

			forked_none = 1;
			if (pipe2(r, O_CLOEXEC) == 0) {
				if ((pid = fork()) == 0) {
					close(r[1]);
					close(taken[0]);
					if (watch_fd >= 0)
						close(watch_fd);
					spare(fd, r[0], taken[1], store, agent_sock, c->busy_ms, &self);
				}
				close(r[0]);
				if (pid > 0) {
					workers++;
					spare_pid = pid;
					retire = r[1];
					forked_none = 0;
				} else {
					close(r[1]);
				}
			}
		}
		waiting = 0;
		if (!spare_pid) {
			p[2].fd = fd;
			if (!forked_none && nbusy > 0)
				timeout = (int) CLAMP(taken_at + SPARE_DEFER_MS - ms, 0, 1000);
		}
		poll(p, 3, timeout);
		/* the agent gone (stopped, killed): the loop's next turn stops */
		if (watch_fd >= 0 && p[1].revents)
			stop = 1;
		if (p[0].revents & POLLIN) {
			unsigned char *m = g_malloc(LEARN_MESSAGE);
			int32_t who;
			ssize_t got;

			/* one message each: a spare's pid (taken), or done()'s */
			while ((got = recv(taken[0], m, LEARN_MESSAGE, MSG_DONTWAIT)) >= (ssize_t) sizeof who) {
				memcpy(&who, m, sizeof who);
				if (who < 0) {
					busy_remove(busy, &nbusy, (pid_t) -who);
					learn(m, (size_t) got);
				} else if (who == (int32_t) spare_pid) {
					spare_gone(&spare_pid, &retire);
					spare_deaths = 0;
					if (nbusy < MAX_WORKERS)
						busy[nbusy++] = (pid_t) who;
					taken_at = g_get_monotonic_time() / 1000;
				}
			}
			g_free(m);
		}
		if (p[2].fd >= 0 && (p[2].revents & POLLIN)) {
			/* a request and no spare: the next turn forks one for it,
			 * unless none could be forked (then it runs cold) */
			if (!forked_none && workers < MAX_WORKERS)
				waiting = 1;
			else if ((cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				close(cfd);
		}
	}
	spare_gone(&spare_pid, &retire);
	if (taken[0] >= 0) {
		close(taken[0]);
		close(taken[1]);
	}
	close(fd);
	if (cli_socket_ours(sock, &own))
		unlink(sock);
	gs_warm_certs_clear();
	g_free(sock);
	g_free(agent_sock);
	g_free(store);
	g_free(db);
	return 0;
}
