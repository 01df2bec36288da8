/* cmd-send.c: galsmime send [--sign] [--encrypt | --encrypt=auto] [--]
 * SENDMAIL [ARGS...]: a sendmail wrapper for mutt's $sendmail and for
 * `notmuch reply | ... | galsmime send ... -- sendmail -t`.
 *
 * mutt hands $sendmail the message on stdin and every envelope
 * recipient (To, Cc and Bcc) as arguments after "--", its own options
 * (-f, -N, -R, -B8BITMIME) before that "--". In mutt's $sendmail there
 * must be no "--" before SENDMAIL: mutt would put its options in front
 * of it, among galsmime's. Recipients in the
 * envelope but not in To or Cc are Bcc recipients: each gets a copy of
 * their own, encrypted to them alone (and the sender), sent to them
 * alone, so that the To/Cc copy neither names them nor is encrypted to
 * them (OWA's Bcc forking). Every copy is prepared before any is
 * handed to SENDMAIL: if one cannot be encrypted, nothing is sent, and
 * stderr names every recipient without a usable certificate, whatever
 * copy they are in, one line each (mutt shows them). --encrypt=auto
 * then sends one copy to everyone instead, signed only with --sign.
 * Without encryption the one copy loses any Bcc field ($write_bcc):
 * SENDMAIL gets the recipients as arguments. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* sendmail options that take an argument, so that it is not taken for a
 * recipient when there is no "--" */
static int
takes_arg(const char *opt)
{
	static const char *const with_arg[] = { "-f", "-F", "-N", "-R", "-V", "-X", "-B", "-a",
						"-C", "-L", "-O", "-p", "-q", "-r", "-h", "-o", NULL };
	const char *const *w;

	for (w = with_arg; *w; w++)
		if (!strcmp(opt, *w))
			return 1;
	return 0;
}

/* Run SENDMAIL with argv, the copy on its stdin. Returns its exit status
 * (or EXIT_SOFTWARE/EXIT_IOERR when it could not run or did not read
 * the whole message).
 *
 * write() into a pipe succeeds as long as the pipe has room, whether or
 * not anyone ever reads: a message that fits in it is "written" even to
 * a SENDMAIL that exits 0 without reading. So the read end stays open
 * here as well, to count what SENDMAIL left in the pipe once it has
 * exited; and since its exit then cannot fail our writes with EPIPE,
 * they are non-blocking and SENDMAIL is watched while the pipe is full. */
static int
run_sendmail(cli *c, char **argv, const GByteArray *data)
{
	int fds[2], status = 0, unread = 0, reaped = 0;
	pid_t pid;
	size_t off = 0;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		cli_error(c, "pipe: %s", g_strerror(errno));
		return EXIT_SOFTWARE;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_error(c, "fork: %s", g_strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return EXIT_SOFTWARE;
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "galsmime send: %s: %s\n", argv[0], strerror(errno));
		_exit(EXIT_SOFTWARE);
	}
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	while (off < data->len) {
		ssize_t n = write(fds[1], data->data + off, data->len - off);
		struct pollfd p = { .fd = fds[1], .events = POLLOUT };

		if (n > 0) {
			off += (size_t) n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			/* the pipe is full: wait for room, or for SENDMAIL to end */
			if (poll(&p, 1, 100) == 0 && waitpid(pid, &status, WNOHANG) == pid) {
				reaped = 1;
				break;
			}
		} else {
			break; /* the exit status and the unread count tell */
		}
	}
	close(fds[1]);
	while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ioctl(fds[0], FIONREAD, &unread) < 0)
		unread = 0;
	close(fds[0]);
	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0 && (off < data->len || unread > 0)) {
			cli_error(c, "%s exited 0 without reading the whole message", argv[0]);
			return EXIT_IOERR;
		}
		return WEXITSTATUS(status);
	}
	cli_error(c, "%s killed by signal %d", argv[0], WTERMSIG(status));
	return EXIT_SOFTWARE;
}

/* "a, b, c" */
static char *
joined(const char *const *v)
{
	GString *g = g_string_new(NULL);

	for (; v && *v; v++)
		g_string_append_printf(g, "%s%s", g->len ? ", " : "", cli_text(*v, 256));
	return g_string_free(g, FALSE);
}

/* Hand each copy to SENDMAIL. The To/Cc copy goes first: when it fails
 * nothing else goes (a retry then duplicates nothing); a Bcc copy that
 * fails does not stop the others. Says who got a copy and who did not. */
static int
send_copies(cli *c, const gs_send_plan *plan, GPtrArray *fixed, int header_mode)
{
	GString *sent = g_string_new(NULL), *unsent = g_string_new(NULL);
	int rc = 0;
	size_t k;

	for (k = 0; k < gs_send_plan_copies(plan); k++) {
		const gs_send_copy *cp = gs_send_plan_copy(plan, k);
		GPtrArray *args = g_ptr_array_new();
		const char *const *r;
		GByteArray view = { 0 };
		gsize len;
		guint j;
		int one;
		char *who;

		for (j = 0; j < fixed->len; j++) {
			/* a Bcc copy goes to its recipient alone, never to the headers' */
			if (cp->bcc && !strcmp(fixed->pdata[j], "-t"))
				continue;
			g_ptr_array_add(args, fixed->pdata[j]);
		}
		if (!header_mode || cp->bcc) {
			g_ptr_array_add(args, "--");
			for (r = cp->recipients; *r; r++)
				g_ptr_array_add(args, (char *) *r);
		}
		g_ptr_array_add(args, NULL);
		view.data = (guint8 *) g_bytes_get_data(cp->data, &len);
		view.len = (guint) len;
		one = run_sendmail(c, (char **) args->pdata, &view);
		g_ptr_array_free(args, TRUE);
		who = joined(cp->recipients);
		if (one == 0) {
			g_string_append_printf(sent, "%s%s", sent->len ? ", " : "", who);
		} else {
			cli_error(c, "%s failed (exit %d): NOT sent to %s", (char *) fixed->pdata[0], one, who);
			g_string_append_printf(unsent, "%s%s", unsent->len ? ", " : "", who);
			if (!rc)
				rc = one;
		}
		g_free(who);
		if (one != 0 && !cp->bcc) {
			/* the copy everyone in To and Cc reads: nothing more goes */
			for (k++; k < gs_send_plan_copies(plan); k++) {
				char *w = joined(gs_send_plan_copy(plan, k)->recipients);
				cli_error(c, "not tried either: NOT sent to %s", w);
				g_string_append_printf(unsent, ", %s", w);
				g_free(w);
			}
			break;
		}
	}
	if (rc && sent->len) {
		cli_error(c, "sent to %s; NOT sent to %s", sent->str, unsent->str);
		cli_error(c, "to send it to those only, send it again to them alone "
			     "(in mutt: remove from the recipients those it was sent to)");
	} else if (rc) {
		cli_error(c, "nothing was sent: send it again");
	}
	g_string_free(sent, TRUE);
	g_string_free(unsent, TRUE);
	return rc;
}

int
cmd_send(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sign", no_argument, NULL, 's' },
		{ "encrypt", optional_argument, NULL, 'e' },
		{ "confirm-unencrypted", no_argument, NULL, 'C' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "oaep", no_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'f' },
		{ "allow-untrusted", no_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	GPtrArray *envelope = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *fixed = g_ptr_array_new();  /* SENDMAIL and its options */
	gs_send_opts so = { 0 };
	gs_send_plan *plan = NULL;
	int opt, rc = 0, i, sm, after_dd = 0;
	char *msg = NULL;
	gs_status st;
	size_t k;

	so.encrypt_opts.cipher = GS_CIPHER_AES256_CBC;
	/* "+": stop at the first non-option, SENDMAIL */
	while ((opt = getopt_long(argc, argv, "+q", opts, NULL)) != -1) {
		switch (opt) {
		case 's': so.sign = 1; break;
		case 'q': c->quiet = 1; break;
		case 'C': so.confirm_unencrypted = 1; break;
		case 'e':
			if (!optarg)
				so.encrypt = GS_SEND_ENCRYPT;
			else if (!strcmp(optarg, "auto"))
				so.encrypt = GS_SEND_ENCRYPT_AUTO;
			else {
				rc = cli_usage(c, "--encrypt takes no value, or =auto");
				goto out;
			}
			break;
		case 'c':
			if (!strcmp(optarg, "aes256-cbc"))
				so.encrypt_opts.cipher = GS_CIPHER_AES256_CBC;
			else if (!strcmp(optarg, "aes256-gcm"))
				so.encrypt_opts.cipher = GS_CIPHER_AES256_GCM;
			else if (!strcmp(optarg, "auto"))
				so.encrypt_opts.cipher = GS_CIPHER_AUTO;
			else {
				rc = cli_usage(c, "--cipher is aes256-cbc, aes256-gcm or auto");
				goto out;
			}
			break;
		case 'o': so.encrypt_opts.oaep = 1; break;
		case 'f': so.encrypt_opts.from = optarg; break;
		case 'u': so.encrypt_opts.resolve_flags |= GS_RESOLVE_ALLOW_UNTRUSTED; break;
		default:
			if (!cli_common_option(c, opt, optarg)) {
				rc = cli_usage(c, "unknown option");
				goto out;
			}
		}
	}
	if (optind >= argc) {
		rc = cli_usage(c, "send needs the SENDMAIL command to run");
		goto out;
	}
	/* split SENDMAIL's arguments into its options and the recipients */
	sm = optind;
	g_ptr_array_add(fixed, argv[sm]);
	for (i = sm + 1; i < argc; i++) {
		if (after_dd) {
			g_ptr_array_add(envelope, g_strdup(argv[i]));
		} else if (!strcmp(argv[i], "--")) {
			after_dd = 1;
		} else if (argv[i][0] == '-') {
			if (!strcmp(argv[i], "-t"))
				so.header_mode = 1;
			g_ptr_array_add(fixed, argv[i]);
			if (takes_arg(argv[i]) && i + 1 < argc)
				g_ptr_array_add(fixed, argv[++i]);
		} else {
			g_ptr_array_add(envelope, g_strdup(argv[i]));
		}
	}
	g_ptr_array_add(envelope, NULL);
	so.envelope = (const char *const *) envelope->pdata;
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	if ((rc = cli_read_stdin(c)) != 0)
		goto out;
	st = gs_send_prepare(c->session, c->in, &so, &plan, &msg);
	if (st == GS_OK || st == GS_E_NO_CERT) {
		const gs_recipients *rs = gs_send_plan_recipients(plan);

		cli_print_directories(c, rs);
		for (k = 0; k < gs_recipients_count(rs); k++) {
			const gs_recipient_result *r = gs_recipients_get(rs, k);
			if (r->failure)
				cli_error(c, "%s%s: %s", gs_send_plan_downgraded(plan)
							? (so.sign ? "not encrypted (sent signed): " : "not encrypted: ")
							: "",
					  r->recipient, r->failure);
		}
		if (st == GS_OK && gs_send_plan_encrypted(plan))
			cli_print_bindings(c, rs);
	}
	if (st == GS_E_NO_CERT && !gs_send_plan_confirm_needed(plan)) {
		/* fail closed: the recipients are named above, one line each */
		g_free(msg);
		rc = cli_exit_code(st);
		goto out;
	}
	if (st != GS_OK) {
		rc = cli_fail(c, st, msg);
		if (st != GS_E_NO_CERT)
			cli_error(c, "not sent");
		goto out;
	}
	rc = send_copies(c, plan, fixed, so.header_mode);
out:
	gs_send_plan_free(plan);
	g_ptr_array_free(envelope, TRUE);
	g_ptr_array_free(fixed, TRUE);
	return rc;
}
