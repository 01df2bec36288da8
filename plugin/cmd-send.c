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

typedef enum { ENC_NO, ENC_YES, ENC_AUTO } enc_mode;

typedef struct copy {
	GPtrArray *rcpts;      /* envelope recipients of this copy (char*) */
	GByteArray *data;      /* the message as it goes to SENDMAIL */
	int bcc;
} copy;

static copy *
copy_new(int bcc)
{
	copy *k = g_new0(copy, 1);

	k->rcpts = g_ptr_array_new_with_free_func(g_free);
	k->bcc = bcc;
	return k;
}

static void
copy_free(gpointer p)
{
	copy *k = p;

	g_ptr_array_free(k->rcpts, TRUE);
	if (k->data)
		g_byte_array_unref(k->data);
	g_free(k);
}

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

static int
in_list(GPtrArray *a, const char *s)
{
	guint i;

	for (i = 0; i < a->len; i++)
		if (!g_ascii_strcasecmp(a->pdata[i], s))
			return 1;
	return 0;
}

static void
add_addresses(GPtrArray *out, InternetAddressList *l)
{
	int i, n = l ? internet_address_list_length(l) : 0;

	for (i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia))
			add_addresses(out, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
		else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			char *a = g_ascii_strdown(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), -1);
			if (*a && !in_list(out, a))
				g_ptr_array_add(out, a);
			else
				g_free(a);
		}
	}
}

/* The copy as it goes to SENDMAIL (signed and encrypted while written). */
static GByteArray *
serialize(cli *c, GMimeMessage *m, char **errmsg, gs_status *st)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *a = NULL;

	*st = gs_message_write(c->session, m, mem, errmsg);
	if (*st == GS_OK) {
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
		a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	}
	g_object_unref(mem);
	return a;
}

/* A fresh parse of the message on stdin, for one copy. */
static int
parse_copy(cli *c, GMimeMessage **m)
{
	char *msg = NULL;
	gs_status st;

	g_mime_stream_reset(c->in);
	if ((st = gs_message_parse(c->session, c->in, m, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
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

int
cmd_send(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sign", no_argument, NULL, 's' },
		{ "encrypt", optional_argument, NULL, 'e' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "oaep", no_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'f' },
		{ "allow-untrusted", no_argument, NULL, 'u' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	GPtrArray *envelope = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *visible = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *copies = g_ptr_array_new_with_free_func(copy_free);
	GPtrArray *fixed = g_ptr_array_new();  /* SENDMAIL and its options */
	gs_encrypt_opts eo = { 0 };
	enc_mode enc = ENC_NO;
	int sign = 0, header_mode = 0, opt, rc = 0, i, sm, after_dd = 0;
	GMimeMessage *m = NULL;
	char *msg = NULL;
	gs_status st;
	guint k;

	eo.cipher = GS_CIPHER_AES256_CBC;
	/* "+": stop at the first non-option, SENDMAIL */
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sign = 1; break;
		case 'e':
			if (!optarg)
				enc = ENC_YES;
			else if (!strcmp(optarg, "auto"))
				enc = ENC_AUTO;
			else {
				rc = cli_usage(c, "--encrypt takes no value, or =auto");
				goto out;
			}
			break;
		case 'c':
			if (!strcmp(optarg, "aes256-cbc"))
				eo.cipher = GS_CIPHER_AES256_CBC;
			else if (!strcmp(optarg, "aes256-gcm"))
				eo.cipher = GS_CIPHER_AES256_GCM;
			else if (!strcmp(optarg, "auto"))
				eo.cipher = GS_CIPHER_AUTO;
			else {
				rc = cli_usage(c, "--cipher is aes256-cbc, aes256-gcm or auto");
				goto out;
			}
			break;
		case 'o': eo.oaep = 1; break;
		case 'f': eo.from = optarg; break;
		case 'u': eo.resolve_flags |= GS_RESOLVE_ALLOW_UNTRUSTED; break;
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
			char *a = g_ascii_strdown(argv[i], -1);
			if (!in_list(envelope, a))
				g_ptr_array_add(envelope, a);
			else
				g_free(a);
		} else if (!strcmp(argv[i], "--")) {
			after_dd = 1;
		} else if (argv[i][0] == '-') {
			if (!strcmp(argv[i], "-t"))
				header_mode = 1;
			g_ptr_array_add(fixed, argv[i]);
			if (takes_arg(argv[i]) && i + 1 < argc)
				g_ptr_array_add(fixed, argv[++i]);
		} else {
			g_ptr_array_add(envelope, g_ascii_strdown(argv[i], -1));
		}
	}
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	if ((rc = cli_parse_message(c, &m)) != 0)
		goto out;
	add_addresses(visible, g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_TO));
	add_addresses(visible, g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_CC));
	if (header_mode) {
		/* sendmail -t: the headers name the recipients */
		for (k = 0; k < visible->len; k++)
			if (!in_list(envelope, visible->pdata[k]))
				g_ptr_array_add(envelope, g_strdup(visible->pdata[k]));
		add_addresses(envelope, g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_BCC));
	}
	g_object_unref(m);
	m = NULL;
	if (envelope->len == 0) {
		rc = cli_usage(c, "no recipients: give them after \"--\" or use SENDMAIL -t");
		goto out;
	}

	/* the copies: one for To/Cc (if any), one per Bcc recipient */
	{
		copy *main_copy = copy_new(0);
		for (k = 0; k < envelope->len; k++) {
			const char *r = envelope->pdata[k];
			if (in_list(visible, r)) {
				g_ptr_array_add(main_copy->rcpts, g_strdup(r));
			} else {
				copy *b = copy_new(1);
				g_ptr_array_add(b->rcpts, g_strdup(r));
				g_ptr_array_add(copies, b);
			}
		}
		if (main_copy->rcpts->len)
			g_ptr_array_insert(copies, 0, main_copy);
		else
			copy_free(main_copy);
	}

	/* prepare every encrypted copy before sending any; collect the
	 * recipients without a usable certificate over all copies */
	if (enc != ENC_NO) {
		GPtrArray *bad = g_ptr_array_new_with_free_func(g_free);

		eo.sign = sign;
		eo.header_recipients = 0;
		for (k = 0; k < copies->len; k++) {
			copy *cp = copies->pdata[k];
			gs_recipients *rcpts = NULL;

			if ((rc = parse_copy(c, &m)) != 0)
				break;
			g_ptr_array_add(cp->rcpts, NULL);
			eo.extra = (const char *const *) cp->rcpts->pdata;
			st = gs_message_encrypt(c->session, m, &eo, &rcpts, &msg);
			g_ptr_array_remove_index(cp->rcpts, cp->rcpts->len - 1);
			if (st == GS_E_NO_CERT) {
				size_t f, nbad = 0;
				for (f = 0; f < gs_recipients_count(rcpts); f++) {
					const gs_recipient_result *rr = gs_recipients_get(rcpts, f);
					char *line;

					if (!rr->failure)
						continue;
					nbad++;
					line = g_strdup_printf("%s: %s", rr->recipient, rr->failure);
					if (!in_list(bad, line))
						g_ptr_array_add(bad, line);
					else
						g_free(line);
				}
				if (nbad == 0)
					g_ptr_array_add(bad, g_strdup(msg ? msg : gs_status_string(st)));
				gs_recipients_free(rcpts);
				g_free(msg);
				msg = NULL;
			} else if (st != GS_OK) {
				gs_recipients_free(rcpts);
				rc = cli_fail(c, st, msg);
				break;
			} else {
				cli_print_bindings(c, rcpts);
				gs_recipients_free(rcpts);
				/* the copy names no Bcc recipient */
				while (g_mime_object_remove_header(GMIME_OBJECT(m), "Bcc"))
					;
				cp->data = serialize(c, m, &msg, &st);
				if (!cp->data) {
					rc = cli_fail(c, st, msg);
					msg = NULL;
				}
			}
			g_object_unref(m);
			m = NULL;
			if (rc)
				break;
		}
		if (rc == 0 && bad->len && enc == ENC_YES) {
			/* fail closed: one line per recipient, nothing sent */
			for (k = 0; k < bad->len; k++)
				cli_error(c, "%s", (char *) bad->pdata[k]);
			rc = cli_exit_code(GS_E_NO_CERT);
		} else if (rc == 0 && bad->len) {
			/* --encrypt=auto: someone cannot read it, so nobody gets it
			 * encrypted: one copy as without --encrypt */
			for (k = 0; k < bad->len; k++)
				cli_error(c, "not encrypted%s: %s", sign ? " (sent signed)" : "",
					  (char *) bad->pdata[k]);
			enc = ENC_NO;
		}
		g_ptr_array_free(bad, TRUE);
		if (rc != 0)
			goto out;
	}
	if (enc == ENC_NO) {
		/* one copy reaches everyone: sendmail keeps Bcc secret */
		copy *all = copy_new(0);

		for (k = 0; k < envelope->len; k++)
			g_ptr_array_add(all->rcpts, g_strdup(envelope->pdata[k]));
		g_ptr_array_set_size(copies, 0);
		g_ptr_array_add(copies, all);
		if ((rc = parse_copy(c, &m)) != 0)
			goto out;
		if (sign) {
			gs_sign_opts so = { 0 };
			so.from = eo.from;
			if ((st = gs_message_sign(c->session, m, &so, &msg)) != GS_OK) {
				rc = cli_fail(c, st, msg);
				cli_error(c, "not sent");
				goto out;
			}
		}
		/* SENDMAIL gets every recipient as an argument, so a Bcc field
		 * ($write_bcc) would only show the Bcc recipients to everyone
		 * if it did not strip it. With -t it names recipients: kept. */
		if (!header_mode)
			while (g_mime_object_remove_header(GMIME_OBJECT(m), "Bcc"))
				;
		all->data = serialize(c, m, &msg, &st);
		g_object_unref(m);
		m = NULL;
		if (!all->data) {
			rc = cli_fail(c, st, msg);
			cli_error(c, "not sent");
			goto out;
		}
	}

	/* hand each copy to SENDMAIL */
	for (k = 0; k < copies->len; k++) {
		copy *cp = copies->pdata[k];
		GPtrArray *args = g_ptr_array_new();
		guint j;

		for (j = 0; j < fixed->len; j++) {
			/* a Bcc copy goes to its recipient alone, never to the headers' */
			if (cp->bcc && !strcmp(fixed->pdata[j], "-t"))
				continue;
			g_ptr_array_add(args, fixed->pdata[j]);
		}
		if (!header_mode || cp->bcc) {
			g_ptr_array_add(args, "--");
			for (j = 0; j < cp->rcpts->len; j++)
				g_ptr_array_add(args, cp->rcpts->pdata[j]);
		}
		g_ptr_array_add(args, NULL);
		rc = run_sendmail(c, (char **) args->pdata, cp->data);
		g_ptr_array_free(args, TRUE);
		if (rc != 0) {
			cli_error(c, "%s failed (exit %d)%s", (char *) fixed->pdata[0], rc,
				  k ? "; earlier copies were sent" : "; nothing was sent");
			goto out;
		}
	}
out:
	if (m)
		g_object_unref(m);
	g_ptr_array_free(copies, TRUE);
	g_ptr_array_free(envelope, TRUE);
	g_ptr_array_free(visible, TRUE);
	g_ptr_array_free(fixed, TRUE);
	return rc;
}
