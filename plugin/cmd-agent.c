/* cmd-agent.c: galsmime agent start|status|forget|stop|preset, the agent
 * process itself (agent serve, started by the first command that needs
 * an encrypted key), and how every command reaches it (cli_agent_cb).
 *
 * The socket is $XDG_RUNTIME_DIR/galsmime/agent.sock (a 0700 folder),
 * else STORE/agent/agent.sock. Two commands starting the agent at once
 * take agent.lock in that folder in turn: the first starts it, the
 * second finds it listening. */
#include "cli.h"
#include "front.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The agent's folder (made 0700 when missing and `create`; refused when
 * another user owns it or others can enter it): a new string, or NULL
 * (printed, unless it is missing and not to be made: no agent). */
char *
cli_agent_dir(cli *c, int create)
{
	char path[4096], *dir;
	struct stat st;

	/* the front's rule (front.h), so that both find the same agent */
	if (gs_agent_dir_path(c->home, path, sizeof path) < 0) {
		cli_error(c, "no folder for the key agent (no home folder, or a path too long)");
		return NULL;
	}
	dir = g_strdup(path);

	if (!create && lstat(dir, &st) < 0 && errno == ENOENT) {
		g_free(dir);
		return NULL;
	}
	if (g_mkdir_with_parents(dir, 0700) < 0 || lstat(dir, &st) < 0) {
		cli_error(c, "%s: %s", cli_text(dir, 0), g_strerror(errno));
	} else if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		cli_error(c, "%s: not a private folder of this user (mode %04o): the agent will not use it",
			  cli_text(dir, 0), (unsigned) st.st_mode & 07777);
	} else {
		return dir;
	}
	g_free(dir);
	return NULL;
}

char *
cli_agent_socket(const char *dir)
{
	return g_build_filename(dir, "agent.sock", NULL);
}

int
cli_socket_ours(const char *path, const struct stat *own)
{
	struct stat now;

	return stat(path, &now) == 0 && now.st_ino == own->st_ino && now.st_dev == own->st_dev;
}

int
cli_spawn_self(cli *c, const char *sub, const char *fd_option, int fd)
{
	int status;
	pid_t pid;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		/* the child starts it in a session of its own and goes: it is
		 * nobody's child, and holds none of our pipes but `fd` */
		char num[16];
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (fork() != 0)
			_exit(0);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		snprintf(num, sizeof num, "%d", fd);
		fcntl(fd, F_SETFD, 0);
		/* the engine binds every symbol of the engine and its
		 * libraries once, before it forks: lazily, each worker bound
		 * again the hundreds it calls (ld.so was 8% of a warm verify) */
		if (!strcmp(sub, "engine"))
			setenv("LD_BIND_NOW", "1", 1);
		execl("/proc/self/exe", "galsmime", "--home", c->home, "agent", sub, fd_option, num, (char *) NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Start `galsmime agent serve` detached and wait until it listens.
 * Called with agent.lock held. Returns 0, or -1 (printed). */
static int
spawn_agent(cli *c)
{
	int ready[2];
	char buf[1];

	if (pipe2(ready, O_CLOEXEC) < 0) {
		cli_error(c, "pipe: %s", g_strerror(errno));
		return -1;
	}
	if (cli_spawn_self(c, "serve", "--ready-fd", ready[1]) < 0) {
		cli_error(c, "fork: %s", g_strerror(errno));
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	close(ready[1]);
	{
		struct pollfd p = { .fd = ready[0], .events = POLLIN };
		int ok = poll(&p, 1, 10000) == 1 && read(ready[0], buf, 1) == 1;
		close(ready[0]);
		if (!ok) {
			cli_error(c, "the agent did not start (see galsmime agent serve)");
			return -1;
		}
	}
	return 0;
}

int
cli_terminal(cli *c, gs_pinentry_where *w)
{
	const char *t = ttyname(0);

	w->program = c->agent_pinentry;
	/* $GPG_TTY as gpg's users set it: `export GPG_TTY=$(tty)`, which
	 * says "not a tty" where there is none */
	w->tty = t ? t : g_getenv("GPG_TTY");
	if (w->tty && !g_str_has_prefix(w->tty, "/dev/"))
		w->tty = NULL;
	w->ttytype = g_getenv("TERM");
	w->display = g_getenv("DISPLAY");
	if (w->display && !*w->display)
		w->display = NULL;
	w->wayland_display = g_getenv("WAYLAND_DISPLAY");
	if (w->wayland_display && !*w->wayland_display)
		w->wayland_display = NULL;
	/* the graphical program runs only with a display and no terminal
	 * (gs_pinentry_open): looked for then only */
	w->graphical = !w->tty && (w->display || w->wayland_display) ? cli_pinentry_graphical(c) : NULL;
	return w->tty || w->display || w->wayland_display;
}

/* Connect, starting the agent when none listens and `start`. NULL when
 * there is no agent to use (said why unless `quiet_absent`; `then`: what
 * happens instead of an agent of another version). */
static gs_agent *
reach(cli *c, int start, int quiet_absent, const char *then)
{
	char *dir = cli_agent_dir(c, start), *sock, *msg = NULL;
	gs_agent *a = NULL;
	gs_status st;
	int lock = -1;

	if (!dir)
		return NULL;
	sock = cli_agent_socket(dir);
	/* in a warm engine's worker, the connection its spare made before
	 * the request came (engine.c) */
	if ((a = cli_engine_take_agent(sock)))
		st = GS_OK;
	else
		st = gs_agent_connect(sock, &a, &msg);
	if (st == GS_E_NOT_FOUND && start) {
		char *lockpath = g_build_filename(dir, "agent.lock", NULL);

		lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		g_free(lockpath);
		if (lock >= 0 && flock(lock, LOCK_EX) == 0) {
			/* another command may have started it while we waited */
			g_free(msg);
			msg = NULL;
			st = gs_agent_connect(sock, &a, &msg);
			if (st == GS_E_NOT_FOUND) {
				/* nobody listens: a socket left there is stale */
				unlink(sock);
				if (spawn_agent(c) == 0) {
					g_free(msg);
					msg = NULL;
					st = gs_agent_connect(sock, &a, &msg);
				}
			}
		}
		if (lock >= 0)
			close(lock);
	}
	if (st == GS_E_UNSUPPORTED)
		cli_error(c, "%s%s", msg, then ? then : "");
	else if (st != GS_OK && !(quiet_absent && st == GS_E_NOT_FOUND))
		cli_error(c, "%s", msg ? msg : gs_status_string(st));
	g_free(msg);
	g_free(sock);
	g_free(dir);
	return st == GS_OK ? a : NULL;
}

/* The session's way to the agent (cli_open_session sets it when no
 * passphrase file or descriptor is given). Started on demand only when
 * pinentry has somewhere to ask: headless, a running agent (preset) is
 * used, and without one the key is unlocked here as before. */
gs_agent *
cli_agent_cb(void *data)
{
	cli *c = data;
	gs_pinentry_where w;

	if (!c->agent && !c->agent_tried) {
		int where = cli_terminal(c, &w);
		c->agent_tried = 1;
		c->agent = reach(c, c->agent_enable && where, 1, ": unlocking the key here instead");
		if (c->agent)
			gs_agent_set_terminal(c->agent, &w);
	}
	return c->agent;
}

/* What the agent process holds while it serves. */
typedef struct {
	int listen_fd, engine_watch;
	const char *sock;
	struct stat own;         /* the socket as bound */
} serving;

/* The agent stops taking clients (gs_agent_serve's on_stop, and after it
 * returns): its socket goes at once, so that a command started now starts
 * a new agent instead of queueing on this one while it waits for its
 * clients, and its engine is told (the spares' connections to the agent,
 * engine.c, are clients it would wait for). Once. */
static void
stopping(void *data)
{
	serving *v = data;

	if (v->listen_fd >= 0) {
		/* removed only while it is still ours */
		if (cli_socket_ours(v->sock, &v->own))
			unlink(v->sock);
		close(v->listen_fd);
		v->listen_fd = -1;
	}
	if (v->engine_watch >= 0)
		close(v->engine_watch);
	v->engine_watch = -1;
}

/* galsmime agent serve: the agent process. */
static int
serve(cli *c, int ready_fd, unsigned protocol)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir = cli_agent_dir(c, 1), *sock, *msg = NULL;
	gs_agent_opts o = { 0 };
	serving v = { .listen_fd = -1, .engine_watch = -1 };
	gs_status st;
	int fd;
	mode_t um;

	if (!dir)
		return EXIT_IOERR;
	sock = cli_agent_socket(dir);
	if (strlen(sock) >= sizeof sa.sun_path) {
		cli_error(c, "%s: path too long for a socket (set XDG_RUNTIME_DIR)", cli_text(sock, 0));
		g_free(sock);
		g_free(dir);
		return EXIT_IOERR;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	um = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
		umask(um);
		cli_error(c, "%s: %s", cli_text(sock, 0), g_strerror(errno));
		if (fd >= 0)
			close(fd);
		g_free(sock);
		g_free(dir);
		return EXIT_IOERR;
	}
	umask(um);
	if (stat(sock, &v.own) < 0) {
		cli_error(c, "%s: %s", cli_text(sock, 0), g_strerror(errno));
		close(fd);
		g_free(sock);
		g_free(dir);
		return EXIT_IOERR;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "1", 1) != 1) {
			/* the starter gave up waiting: serve anyway */
		}
		close(ready_fd);
	}
	/* the warm engine beside it (engine.c), which goes when the agent
	 * goes: it holds the read end of this pipe. Started in the folder
	 * the agent was started in, where a relative --home means what it
	 * meant to the command that started the agent */
	v.listen_fd = fd;
	v.sock = sock;
	v.engine_watch = cli_engine_spawn(c);
	if (chdir("/") < 0) {
		/* nothing relies on the working folder */
	}
	o.default_ttl = c->agent_default_ttl;
	o.max_ttl = c->agent_max_ttl;
	o.pinentry = c->agent_pinentry;
	o.pinentry_graphical = cli_pinentry_graphical(c);
	o.protocol = protocol;
	o.socket_path = sock;
	o.on_stop = stopping;
	o.on_stop_data = &v;
	st = gs_agent_serve(fd, &o, &msg);
	stopping(&v);
	g_free(sock);
	g_free(dir);
	return st == GS_OK ? 0 : cli_fail(c, st, msg);
}

static void
wipe(char *p, size_t n)
{
	gs_wipe(p, n);
	g_free(p);
}

static int
preset(cli *c, const char *from)
{
	char *pass = NULL, *msg = NULL;
	size_t len = 0;
	gs_agent *a;
	gs_status st;
	int rc;

	/* the passphrase: a source given on the command line, else one
	 * line of stdin */
	if (cli_pass_configured(c))
		st = cli_passphrase(c, &pass, &len);
	else {
		c->pass_fd = 0;
		st = cli_passphrase(c, &pass, &len);
	}
	if (st != GS_OK || !pass)
		return cli_fail(c, GS_E_PASSPHRASE, g_strdup("no passphrase on stdin"));
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		wipe(pass, len);
		return cli_fail(c, st, msg);
	}
	if (!(a = reach(c, 1, 0, NULL))) {
		wipe(pass, len);
		return EXIT_TEMPFAIL;
	}
	st = gs_agent_preset(a, c->session, from, pass, len, &msg);
	wipe(pass, len);
	gs_agent_close(a);
	rc = st == GS_OK ? 0 : cli_fail(c, st, msg);
	if (rc == 0 && !c->quiet)
		fprintf(stderr, "galsmime agent: the key is unlocked in the agent (for %u s after its last use, "
				"%u s at most)\n", c->agent_default_ttl, c->agent_max_ttl);
	return rc;
}

int
cmd_agent(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "protocol", required_argument, NULL, 'p' },
		{ "watch-fd", required_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *from = NULL;
	int opt, ready_fd = -1, watch_fd = -1;
	unsigned protocol = 0;
	gs_agent_op op;

	/* options before or after the subcommand (`agent -q status`) */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		if (cli_common_option(c, opt, optarg))
			continue;
		switch (opt) {
		case 'q': c->quiet = 1; break;
		case 'f': from = optarg; break;
		case 'r': ready_fd = atoi(optarg); break;
		case 'p': protocol = (unsigned) atoi(optarg); break;
		case 'w': watch_fd = atoi(optarg); break;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage(c, "agent needs a subcommand: start, status, forget, stop, preset");
	sub = argv[optind++];
	if (!strcmp(sub, "serve"))
		return serve(c, ready_fd, protocol);
	if (!strcmp(sub, "engine"))
		return cli_engine_serve(c, watch_fd);
	if (!strcmp(sub, "preset"))
		return preset(c, from ? from : optind < argc ? argv[optind] : NULL);
	if (!strcmp(sub, "start")) {
		gs_agent *a = reach(c, 1, 0, NULL);
		gs_agent_close(a);
		return a ? 0 : EXIT_TEMPFAIL;
	}
	if (!strcmp(sub, "status"))
		op = GS_AGENT_STATUS;
	else if (!strcmp(sub, "forget"))
		op = GS_AGENT_FORGET;
	else if (!strcmp(sub, "stop"))
		op = GS_AGENT_STOP;
	else
		return cli_usage(c, "unknown agent subcommand '%s'", cli_text(sub, 64));
	if (op == GS_AGENT_FORGET && optind < argc &&
	    (strlen(argv[optind]) != 64 || strspn(argv[optind], "0123456789abcdef") != 64))
		return cli_usage(c, "forget takes a certificate's SHA-256 fingerprint (64 lower-case hex digits)");
	{
		gs_agent *a = reach(c, 0, 1, NULL);
		char *text = NULL, *msg = NULL;
		gs_status st;

		if (!a) {
			/* grep's convention: 1, nothing there */
			if (!c->quiet)
				fprintf(stderr, "galsmime agent: no agent is running\n");
			return op == GS_AGENT_STATUS ? EXIT_VERIFY_BAD : 0;
		}
		st = gs_agent_command(a, op, op == GS_AGENT_FORGET && optind < argc ? argv[optind] : NULL, &text,
				      &msg);
		gs_agent_close(a);
		if (st != GS_OK)
			return cli_fail(c, st, msg);
		if (op == GS_AGENT_STATUS && text)
			return cli_write(c, text, strlen(text)) ? (g_free(text), EXIT_IOERR) : (g_free(text), 0);
		g_free(text);
		return 0;
	}
}
