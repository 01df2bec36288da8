/* cli.c: the front end's shared plumbing (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PASS_MAX 1024

static GMimeStream *out_stream;
static void release_input(void *data);

/* cli_text's copies: they live as long as the run */
static GPtrArray *texts;

const char *
cli_text(const char *s, size_t max)
{
	char *p;

	if (!s)
		return NULL;
	p = gs_printable(s, max);
	if (!texts)
		texts = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(texts, p);
	return p;
}

void
cli_error(cli *c, const char *fmt, ...)
{
	va_list ap;
	char *msg, *safe;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* one line: newlines inside a message would break mutt's display and
	 * MDA logs; and whatever a certificate, a message or the GAL put in
	 * it, no escape sequence reaches the terminal */
	g_strdelimit(msg, "\r\n", ' ');
	safe = gs_printable(msg, 0);
	fprintf(stderr, "galsmime%s%s: %s\n", c && c->cmd ? " " : "", c && c->cmd ? c->cmd : "", safe);
	g_free(safe);
	g_free(msg);
}

int
cli_exit_code(gs_status st)
{
	switch (st) {
	case GS_OK: return EXIT_GOOD;
	case GS_E_USAGE: return EXIT_USAGE;
	case GS_E_MALFORMED:
	case GS_E_LIMIT:
	case GS_E_UNSUPPORTED: return EXIT_DATAERR;
	case GS_E_NO_CERT: return EXIT_NOUSER;
	case GS_E_NO_KEY:
	case GS_E_PASSPHRASE: return EXIT_NOPERM;
	case GS_E_NOT_FOUND: return EXIT_VERIFY_BAD;
	case GS_E_BUSY: return EXIT_TEMPFAIL;
	case GS_E_IO: return EXIT_IOERR;
	case GS_E_INTERNAL: return EXIT_SOFTWARE;
	case GS_E_UNSAFE: return EXIT_NOPERM;
	case GS_E_PROGRAMMER: return EXIT_SOFTWARE;
	case GS_E_AGENT_LOST: return EXIT_TEMPFAIL;
	}
	return EXIT_SOFTWARE;
}

int
cli_fail(cli *c, gs_status st, char *errmsg)
{
	cli_error(c, "%s", errmsg ? errmsg : gs_status_string(st));
	g_free(errmsg);
	return cli_exit_code(st);
}

int
cli_usage(cli *c, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	cli_error(c, "%s (see galsmime %s --help)", msg, c->cmd ? c->cmd : "");
	g_free(msg);
	return EXIT_USAGE;
}

gs_status
cli_open_store(cli *c, char **errmsg)
{
	unsigned flags = c->write ? GS_STORE_READ_WRITE : GS_STORE_READ_ONLY;

	if (c->store)
		return GS_OK;
	if ((c->store = cli_engine_take_store(c->home, flags, c->busy_ms)))
		return GS_OK;
	return gs_store_open(c->home, flags, c->busy_ms, &c->store, errmsg);
}

/* ---- passphrases ---- */

static gs_status
read_secret_fd(int fd, char **out, size_t *len)
{
	char *buf = g_malloc0(PASS_MAX);
	size_t n = 0;

	/* read up to the first newline, byte by byte so that nothing after
	 * it is consumed (mutt writes the passphrase before the data) */
	while (n < PASS_MAX - 1) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = 0;
	*out = buf;
	*len = n;
	return GS_OK;
}

/* A passphrase file is a secret, as ssh's private keys: one that others
 * can read (or write) is refused, with the fix. */
static int
private_file(cli *c, int fd, const char *file)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0) {
		cli_error(c, "%s: %s", file, g_strerror(errno));
		return 0;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		cli_error(c, "%s: the passphrase file can be %s by others (mode %04o): chmod 600 '%s'", file,
			  (sb.st_mode & (S_IRGRP | S_IROTH)) ? "read" : "changed",
			  (unsigned) (sb.st_mode & 07777), file);
		return 0;
	}
	return 1;
}

int
cli_read_secret(cli *c, const char *file, int fd, char **pass, size_t *len)
{
	struct stat sb;

	*pass = NULL;
	*len = 0;
	if (file) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cli_error(c, "%s: %s", file, g_strerror(errno));
			return EXIT_IOERR;
		}
		if (!private_file(c, fd, file)) {
			close(fd);
			return EXIT_NOPERM;
		}
	} else if (fd < 0 || fstat(fd, &sb) != 0) {
		cli_error(c, "descriptor %d: %s", fd, g_strerror(fd < 0 ? EBADF : errno));
		return EXIT_USAGE;
	}
	read_secret_fd(fd, pass, len);
	if (file)
		close(fd);
	return 0;
}

void
cli_free_secret(char *pass)
{
	if (pass)
		gs_wipe(pass, PASS_MAX);
	g_free(pass);
}

static gs_status
pass_cb(void *data, const char *what, char *buf, size_t size, size_t *len)
{
	cli *c = data;

	(void) what;
	if (!c->pass_read) {
		const char *file = c->pass_file ? c->pass_file : c->pass_env_file;

		c->pass_read = 1;
		if (c->pass_file || (c->pass_fd < 0 && c->pass_env_file)) {
			if (cli_read_secret(c, file, -1, &c->pass_cache, &c->pass_cache_len) != 0)
				return GS_E_PASSPHRASE;
		} else if (c->pass_fd >= 0) {
			read_secret_fd(c->pass_fd, &c->pass_cache, &c->pass_cache_len);
		}
	}
	if (!c->pass_cache || c->pass_cache_len >= size)
		return GS_E_PASSPHRASE;
	memcpy(buf, c->pass_cache, c->pass_cache_len);
	*len = c->pass_cache_len;
	return GS_OK;
}

int
cli_common_option(cli *c, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case 0x1001:
		g_free(c->pass_file);
		c->pass_file = g_strdup(arg);
		return 1;
	case 0x1002:
		errno = 0;
		c->pass_fd = (int) strtol(arg, &end, 10);
		if (errno || *end || c->pass_fd < 0)
			c->pass_fd = -2;
		return 1;
	case 0x1003:
		c->allow_sha1 = 1;
		return 1;
	}
	return 0;
}

int
cli_pass_configured(const cli *c)
{
	return c->pass_file || c->pass_fd >= 0 || c->pass_env_file;
}

gs_status
cli_prompt_secret(cli *c, const char *prompt, char **pass, size_t *len)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), echo_off = 0;
	gs_status st;

	(void) c;
	*pass = NULL;
	*len = 0;
	if (fd < 0)
		return GS_E_PASSPHRASE;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* the prompt is a courtesy: reading goes on */
	}
	st = read_secret_fd(fd, pass, len);
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* as above */
	}
	close(fd);
	return st;
}

/* The passphrase for commands that read it eagerly (key import). */
gs_status
cli_passphrase(cli *c, char **pass, size_t *len)
{
	char buf[PASS_MAX];
	size_t n = 0;
	gs_status st;

	*pass = NULL;
	*len = 0;
	if (!c->pass_file && c->pass_fd < 0 && !c->pass_env_file)
		return GS_OK;
	st = pass_cb(c, NULL, buf, sizeof buf, &n);
	if (st == GS_OK) {
		*pass = g_strndup(buf, n);
		*len = n;
	}
	gs_wipe(buf, sizeof buf);
	return st;
}

gs_status
cli_open_session(cli *c, char **errmsg)
{
	gs_status st;

	if (c->session)
		return GS_OK;
	if ((st = cli_open_store(c, errmsg)) != GS_OK)
		return st;
	if ((st = gs_session_new(c->store, &c->session, errmsg)) != GS_OK)
		return st;
	if (c->raw_map)
		gs_session_set_input_release(c->session, release_input, c);
	if (c->pass_fd == -2) {
		if (errmsg)
			*errmsg = g_strdup("--passphrase-fd needs a file descriptor number");
		return GS_E_USAGE;
	}
	gs_session_set_passphrase_cb(c->session, pass_cb, c);
	gs_session_set_pkcs11_module(c->session, c->p11_module);
	/* a passphrase given as a file or descriptor opens the key here, as
	 * before; without one the agent is asked (cmd-agent.c) */
	if (!cli_pass_configured(c)) {
		gs_pinentry_where w;
		gs_session_set_agent_cb(c->session, cli_agent_cb, c);
		/* without an agent, a token's PIN is asked here */
		if (cli_terminal(c, &w))
			gs_session_set_pinentry(c->session, &w);
	}
	gs_session_set_allow_sha1(c->session, c->allow_sha1);
	return gs_session_set_directories(c->session, c->directories ? (const gs_directory *) (void *) c->directories->data : NULL,
					  c->directories ? c->directories->len : 0, c->dir_timeout_ms, errmsg);
}

/* ---- stdin ---- */

/* The input is a private mapping of a file nobody writes: its pages can
 * be dropped and come back from the file, unchanged, if touched again
 * (--passthrough). A large encrypted body, once decoded, need not sit in
 * memory twice. */
static void
release_input(void *data)
{
	cli *c = data;

	if (c->raw_map)
		madvise(c->raw_map, c->raw_map_len, MADV_DONTNEED);
}

int
cli_read_stdin(cli *c)
{
	const gs_limits *lim = c->session ? gs_session_limits(c->session) : NULL;
	size_t max = lim ? lim->max_message : (size_t) 512 << 20;
	struct stat sb;
	off_t pos;

	if (c->in)
		return 0;
	if (fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (pos = lseek(STDIN_FILENO, 0, SEEK_CUR)) >= 0 && sb.st_size > pos) {
		GMimeStreamMmap *mm;

		if ((size_t) (sb.st_size - pos) > max) {
			cli_error(c, "stdin: message larger than %zu bytes", max);
			return EXIT_DATAERR;
		}
		c->in = g_mime_stream_mmap_new_with_bounds(STDIN_FILENO, PROT_READ, MAP_PRIVATE, pos,
							   sb.st_size);
		if (c->in) {
			mm = GMIME_STREAM_MMAP(c->in);
			c->raw = (const unsigned char *) mm->map + pos;
			c->raw_len = (size_t) (sb.st_size - pos);
			c->raw_map = mm->map;
			c->raw_map_len = mm->maplen;
			/* its pages are mapped as they are read: gs_message_parse
			 * maps them all in one call when GMime parses the whole,
			 * the decoding of a large part a window at a time */
			if (c->session)
				gs_session_set_input_release(c->session, release_input, c);
			return 0;
		}
	}
	{
		GByteArray *a = g_byte_array_new();
		char buf[65536];
		ssize_t n;

		for (;;) {
			n = read(STDIN_FILENO, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (a->len + (size_t) n > max) {
				g_byte_array_unref(a);
				cli_error(c, "stdin: message larger than %zu bytes", max);
				return EXIT_DATAERR;
			}
			g_byte_array_append(a, (guint8 *) buf, (guint) n);
		}
		if (n < 0) {
			g_byte_array_unref(a);
			cli_error(c, "stdin: %s", g_strerror(errno));
			return EXIT_IOERR;
		}
		c->raw = a->data;
		c->raw_len = a->len;
		c->in = g_mime_stream_mem_new_with_byte_array(a);
	}
	return 0;
}

int
cli_parse_message(cli *c, GMimeMessage **m)
{
	char *msg = NULL;
	gs_status st;
	int rc;

	if ((rc = cli_read_stdin(c)) != 0)
		return rc;
	if (c->raw_len == 0) {
		cli_error(c, "stdin: empty input");
		return EXIT_DATAERR;
	}
	g_mime_stream_reset(c->in);
	if ((st = gs_message_parse(c->session, c->in, m, &msg)) != GS_OK) {
		char *full = g_strdup_printf("stdin: %s", msg);
		g_free(msg);
		return cli_fail(c, st, full);
	}
	return 0;
}

int
cli_read_file(cli *c, const char *path, unsigned char **data, size_t *len)
{
	GError *err = NULL;
	char *buf = NULL;
	gsize n = 0;

	if (!g_file_get_contents(path, &buf, &n, &err)) {
		cli_error(c, "%s: %s", path, err->message);
		g_error_free(err);
		return EXIT_IOERR;
	}
	*data = (unsigned char *) buf;
	*len = n;
	return 0;
}

/* ---- stdout ---- */

static GMimeStream *
stdout_stream(void)
{
	if (!out_stream) {
		/* never seeks, never fsyncs (stdout may be a pipe or /dev/null) */
		out_stream = gs_output_stream_new(dup(STDOUT_FILENO));
	}
	return out_stream;
}

int
cli_write_message(cli *c, GMimeMessage *m)
{
	char *msg = NULL;
	gs_status st = gs_message_write(c->session, m, stdout_stream(), &msg);

	if (st != GS_OK) {
		char *full = g_strdup_printf("stdout: %s", msg);
		g_free(msg);
		/* what is buffered of a message that did not get out whole
		 * stays unwritten: nothing more goes to stdout */
		c->out_errno = EIO;
		return cli_fail(c, st, full);
	}
	return 0;
}

/* The first failed write to stdout is said once, and every later write
 * is skipped: a listing stops. When a listing's reader went away (EPIPE:
 * `galsmime trust list | head`) nothing is said, as with git log; the
 * exit code is still EXIT_IOERR. A filter (it read a message on stdin)
 * always says that the message did not get through. */
static int
out_failed(cli *c, int err)
{
	if (!c->out_errno) {
		c->out_errno = err ? err : EIO;
		if (c->out_errno != EPIPE || c->in)
			cli_error(c, "stdout: %s", g_strerror(c->out_errno));
	}
	return EXIT_IOERR;
}

int
cli_write(cli *c, const void *p, size_t n)
{
	if (c->out_errno)
		return EXIT_IOERR;
	errno = 0;
	if (n && g_mime_stream_write(stdout_stream(), p, n) != (ssize_t) n)
		return out_failed(c, errno);
	return 0;
}

static int
out_vprintf(cli *c, const char *fmt, va_list ap)
{
	char *s = g_strdup_vprintf(fmt, ap);
	int rc = cli_write(c, s, strlen(s));

	g_free(s);
	return rc;
}

int
cli_printf(cli *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = out_vprintf(c, fmt, ap);
	va_end(ap);
	return rc;
}

int
cli_note(cli *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (c->quiet)
		return 0;
	va_start(ap, fmt);
	rc = out_vprintf(c, fmt, ap);
	va_end(ap);
	return rc;
}

int
cli_out_failed(const cli *c)
{
	return c->out_errno != 0;
}

int
cli_flush(cli *c)
{
	if (c->out_errno)
		return EXIT_IOERR;
	errno = 0;
	if (out_stream && g_mime_stream_flush(out_stream) != 0)
		return out_failed(c, errno);
	if (fflush(stdout) != 0 || ferror(stdout))
		return out_failed(c, errno);
	return 0;
}

void
cli_drop_secrets(cli *c)
{
	if (c->pass_cache) {
		gs_wipe(c->pass_cache, PASS_MAX);
		g_free(c->pass_cache);
		c->pass_cache = NULL;
	}
	gs_session_free(c->session);
	c->session = NULL;
}

void
cli_cleanup(cli *c)
{
	if (out_stream) {
		g_object_unref(out_stream);
		out_stream = NULL;
	}
	cli_drop_secrets(c);
	cli_free_directories(c);
	gs_agent_close(c->agent);
	gs_store_close(c->store);
	if (c->in)
		g_object_unref(c->in);
	g_free(c->home);
	g_free(c->pass_file);
	g_free(c->pass_env_file);
	g_free(c->sync_index);
	g_free(c->sync_keys);
	g_free(c->p11_module);
	g_free(c->agent_pinentry);
	g_free(c->agent_pinentry_graphical);
	if (texts) {
		g_ptr_array_free(texts, TRUE);
		texts = NULL;
	}
}
