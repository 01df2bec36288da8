/* pinentry.c: asking for a secret through a pinentry program (Debian's
 * pinentry-tty, -curses, -gnome3, -gtk2), with the Assuan exchange they
 * all speak: OPTION ttyname / ttytype, SETDESC, SETPROMPT, SETERROR,
 * GETPIN -> "D secret" / OK, or ERR (cancelled, or failed). Used by the
 * agent for passphrases and token PINs, and by a session without agent
 * for token PINs. What is read comes back in OpenSSL's secure heap (in
 * the agent: locked memory) and every buffer it passed through is wiped.
 * Nothing here prints. */
#include "gs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/crypto.h>

#define LINE_MAX_ASSUAN 2048

struct gs_pinentry {
	pid_t pid;
	int to, from;
	char *program;
	char line[LINE_MAX_ASSUAN];
	size_t have;              /* bytes buffered after the current line */
	char rbuf[LINE_MAX_ASSUAN];
};

/* Read one line (without its LF) into p->line; -1 on EOF or overlong. */
static int
pin_line(gs_pinentry *p)
{
	for (;;) {
		char *nl = memchr(p->rbuf, '\n', p->have);
		if (nl) {
			size_t n = (size_t) (nl - p->rbuf);
			memcpy(p->line, p->rbuf, n);
			p->line[n] = 0;
			memmove(p->rbuf, nl + 1, p->have - n - 1);
			OPENSSL_cleanse(p->rbuf + p->have - n - 1, n + 1);
			p->have -= n + 1;
			return 0;
		}
		if (p->have == sizeof p->rbuf)
			return -1;
		{
			ssize_t r = read(p->from, p->rbuf + p->have, sizeof p->rbuf - p->have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			p->have += (size_t) r;
		}
	}
}

/* Wait for OK or ERR, skipping comments and status lines; D lines go
 * to `data` (percent-decoded, at most GS_PINENTRY_MAX - 1 bytes,
 * NUL-ended). Returns 0 on OK, the ERR code, or -1 when pinentry failed. */
static long
pin_wait(gs_pinentry *p, char *data, size_t *dlen)
{
	for (;;) {
		if (pin_line(p))
			return -1;
		if (!strncmp(p->line, "OK", 2) && (!p->line[2] || p->line[2] == ' '))
			return 0;
		if (!strncmp(p->line, "ERR ", 4)) {
			long code = strtol(p->line + 4, NULL, 10);
			return code > 0 ? code : -1;
		}
		if (!strncmp(p->line, "D ", 2) && data) {
			const char *s = p->line + 2;
			while (*s && *dlen < GS_PINENTRY_MAX - 1) {
				if (s[0] == '%' && g_ascii_isxdigit(s[1]) && g_ascii_isxdigit(s[2])) {
					data[(*dlen)++] = (char) (g_ascii_xdigit_value(s[1]) << 4 | g_ascii_xdigit_value(s[2]));
					s += 3;
				} else {
					data[(*dlen)++] = *s++;
				}
			}
			data[*dlen] = 0;
			OPENSSL_cleanse(p->line, sizeof p->line);
		}
		/* "#" comments, "S" status and "INQUIRE" lines: nothing to do */
		if (!strncmp(p->line, "INQUIRE", 7) && write(p->to, "END\n", 4) != 4)
			return -1;
	}
}

/* Send a command with an argument percent-escaped as Assuan wants it. */
static long
pin_cmd(gs_pinentry *p, const char *cmd, const char *arg)
{
	GString *s = g_string_new(cmd);
	long r;

	if (arg) {
		const char *c;
		g_string_append_c(s, ' ');
		for (c = arg; *c; c++) {
			if (*c == '%' || (unsigned char) *c < 0x20)
				g_string_append_printf(s, "%%%02X", (unsigned char) *c);
			else
				g_string_append_c(s, *c);
		}
	}
	g_string_append_c(s, '\n');
	r = write(p->to, s->str, s->len) == (ssize_t) s->len ? pin_wait(p, NULL, NULL) : -1;
	g_string_free(s, TRUE);
	return r;
}

void
gs_pinentry_close(gs_pinentry *p)
{
	int status;

	if (!p)
		return;
	if (p->to >= 0) {
		if (write(p->to, "BYE\n", 4) < 0) {
			/* it is going away anyway */
		}
		close(p->to);
	}
	if (p->from >= 0)
		close(p->from);
	if (p->pid > 0) {
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	g_free(p->program);
	OPENSSL_cleanse(p, sizeof *p);
	g_free(p);
}

gs_status
gs_pinentry_open(const gs_pinentry_where *w, const char *desc, const char *prompt, gs_pinentry **out,
		 char **errmsg)
{
	const char *tty = w && w->tty && *w->tty ? w->tty : NULL;
	const char *display = w && w->display && *w->display ? w->display : NULL;
	const char *wayland = w && w->wayland_display && *w->wayland_display ? w->wayland_display : NULL;
	const char *program;
	gs_pinentry *p;
	int in[2], out_[2];
	gs_status st = GS_OK;

	*out = NULL;
	if (!w)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_pinentry_open: no terminal or display");
	/* a terminal first (the request came from one); a graphical program
	 * only for a client with a display and no terminal */
	program = tty || !(display || wayland) || !w->graphical || !*w->graphical ? w->program : w->graphical;
	if (!program || !*program)
		return gs_fail(errmsg, GS_E_PASSPHRASE, "no pinentry program configured");
	if (!tty && !display && !wayland)
		return gs_fail(errmsg, GS_E_PASSPHRASE,
			       "no terminal and no display for pinentry to ask on "
			       "(set GPG_TTY, or use galsmime agent preset)");
	if (pipe2(in, O_CLOEXEC) < 0)
		return gs_fail(errmsg, GS_E_IO, "pipe: %s", g_strerror(errno));
	if (pipe2(out_, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return gs_fail(errmsg, GS_E_IO, "pipe: %s", g_strerror(errno));
	}
	p = g_new0(gs_pinentry, 1);
	p->program = g_strdup(program);
	{
		/* everything the child needs is made before fork: the agent
		 * has threads, and only async-signal-safe calls follow */
		char *argv[4] = { (char *) program, NULL, NULL, NULL };
		char *envd = display ? g_strconcat("DISPLAY=", display, NULL) : NULL;
		char *envw = wayland ? g_strconcat("WAYLAND_DISPLAY=", wayland, NULL) : NULL;
		char *envt = w->ttytype && *w->ttytype ? g_strconcat("TERM=", w->ttytype, NULL) : NULL;
		/* what a graphical program needs besides the display, from
		 * this process's own environment (the agent's is the one of
		 * the command that started it, as gpg-agent's): the X
		 * authority cookie (XAUTHORITY, else ~/.Xauthority: HOME),
		 * the Wayland socket's folder, the session bus of
		 * pinentry-gnome3 */
		static const char *const pass[] = { "HOME", "XAUTHORITY", "XDG_RUNTIME_DIR",
						     "DBUS_SESSION_BUS_ADDRESS" };
		char *envs[G_N_ELEMENTS(pass)] = { NULL };
		char *envp[5 + G_N_ELEMENTS(pass)] = { "PATH=/usr/local/bin:/usr/bin:/bin" };
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), e = 1;
		size_t k;

		if (envd)
			envp[e++] = envd;
		if (envw)
			envp[e++] = envw;
		if (envt)
			envp[e++] = envt;
		for (k = 0; k < G_N_ELEMENTS(pass); k++) {
			const char *v = g_getenv(pass[k]);
			if (v && *v)
				envp[e++] = envs[k] = g_strconcat(pass[k], "=", v, NULL);
		}
		if (!tty && display) {
			argv[1] = "--display";
			argv[2] = (char *) display;
		}
		p->pid = fork();
		if (p->pid == 0) {
			dup2(in[0], 0);
			dup2(out_[1], 1);
			if (devnull >= 0)
				dup2(devnull, 2);
			execve(program, argv, envp);
			_exit(127);
		}
		if (devnull >= 0)
			close(devnull);
		close(in[0]);
		close(out_[1]);
		p->to = in[1];
		p->from = out_[0];
		g_free(envd);
		g_free(envw);
		g_free(envt);
		for (k = 0; k < G_N_ELEMENTS(pass); k++)
			g_free(envs[k]);
		if (p->pid < 0)
			st = gs_fail(errmsg, GS_E_IO, "fork: %s", g_strerror(errno));
		else if (pin_wait(p, NULL, NULL) != 0)
			st = gs_fail(errmsg, GS_E_PASSPHRASE, "cannot run pinentry (%s)", program);
	}
	if (st == GS_OK && tty) {
		char *o = g_strconcat("OPTION ttyname=", tty, NULL);
		if (pin_cmd(p, o, NULL) != 0)
			st = gs_fail(errmsg, GS_E_PASSPHRASE, "pinentry cannot use the terminal %s", tty);
		g_free(o);
	}
	if (st == GS_OK && tty && w->ttytype && *w->ttytype) {
		char *o = g_strconcat("OPTION ttytype=", w->ttytype, NULL);
		pin_cmd(p, o, NULL);
		g_free(o);
	}
	if (st != GS_OK) {
		gs_pinentry_close(p);
		return st;
	}
	pin_cmd(p, "SETTITLE", "galsmime");
	if (desc)
		pin_cmd(p, "SETDESC", desc);
	pin_cmd(p, "SETPROMPT", prompt ? prompt : "Passphrase:");
	*out = p;
	return GS_OK;
}

gs_pinentry_result
gs_pinentry_get(gs_pinentry *p, const char *error, char **secret, size_t *len, char **errmsg)
{
	char *buf;
	long rc;

	*secret = NULL;
	*len = 0;
	if (error && pin_cmd(p, "SETERROR", error) < 0) {
		gs_fail(errmsg, GS_E_PASSPHRASE, "pinentry went away");
		return GS_PINENTRY_FAILED;
	}
	if (!(buf = OPENSSL_secure_zalloc(GS_PINENTRY_MAX))) {
		gs_fail(errmsg, GS_E_INTERNAL, "out of secure memory");
		return GS_PINENTRY_FAILED;
	}
	if (write(p->to, "GETPIN\n", 7) != 7) {
		OPENSSL_secure_clear_free(buf, GS_PINENTRY_MAX);
		gs_fail(errmsg, GS_E_PASSPHRASE, "pinentry went away");
		return GS_PINENTRY_FAILED;
	}
	rc = pin_wait(p, buf, len);
	if (rc == 0) {
		*secret = buf;
		return GS_PINENTRY_OK;
	}
	OPENSSL_secure_clear_free(buf, GS_PINENTRY_MAX);
	*len = 0;
	/* GPG_ERR_CANCELED (99) or GPG_ERR_FULLY_CANCELED (198) in the low
	 * 16 bits, whatever the source */
	if (rc > 0 && ((rc & 0xffff) == 99 || (rc & 0xffff) == 198)) {
		gs_fail(errmsg, GS_E_PASSPHRASE, "pinentry cancelled");
		return GS_PINENTRY_CANCELLED;
	}
	gs_fail(errmsg, GS_E_PASSPHRASE, "pinentry failed (%s%ld): is the terminal usable?", rc < 0 ? "" : "error ",
		rc);
	return GS_PINENTRY_FAILED;
}
