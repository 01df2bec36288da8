/* cmd-decrypt.c: galsmime decrypt [--passthrough] < MSG > DECRYPTED.
 * The outer headers stay; the body becomes the decrypted entity. A
 * message that is not encrypted passes through unchanged. With
 * --passthrough (procmail's delivery mode, gs_decrypt_opts.delivery)
 * content that is not authenticated is not written: the original
 * message goes on byte for byte, as it does on any failure, with exit 0.
 * --quiet drops the report, never a warning or the reason a message was
 * left encrypted. */
#include "cli.h"

void
cli_warn_unauthenticated(cli *c, const gs_report *r)
{
	const char *why = r ? gs_report_unauthenticated(r) : NULL;

	if (why)
		cli_error(c, "WARNING: the content may have been altered: %s", cli_text(why, 0));
}

int
cmd_decrypt(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passthrough", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	gs_decrypt_opts dopts = { 0 };
	GMimeMessage *m = NULL;
	gs_report *r = NULL;
	const char *why;
	char *msg = NULL;
	int opt, rc, passthrough = 0;
	gs_status st;

	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		if (opt == 'p')
			passthrough = 1;
		else if (opt == 'q')
			c->quiet = 1;
		else if (!cli_common_option(c, opt, optarg))
			return cli_usage(c, "unknown option");
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	dopts.delivery = passthrough;
	/* stdin first: whatever happens next, the original can pass through */
	if ((rc = cli_read_stdin(c)) != 0)
		goto fail;
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto fail;
	}
	if ((rc = cli_parse_message(c, &m)) != 0)
		goto fail;
	st = gs_message_decrypt(c->session, m, &dopts, &r, &msg);
	if (st == GS_E_NOT_FOUND || (st == GS_OK && (why = gs_report_withheld(r)))) {
		/* not encrypted as a whole, or not to be stored decrypted: pass
		 * it on as it is, saying why (and which encrypted part was left
		 * alone) */
		if (st == GS_OK)
			cli_error(c, "left encrypted: %s", cli_text(why, 0));
		g_free(msg);
		g_object_unref(m);
		if (r) {
			const char *path, *note;
			size_t i;
			for (i = 0; gs_report_part(r, i, &path, &note); i++)
				cli_error(c, "part %s: %s", path, note);
			gs_report_free(r);
		}
		return cli_write(c, c->raw, c->raw_len);
	}
	if (st != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto fail;
	}
	rc = cli_write_message(c, m);
	/* the report only when the message got out: else the write error alone */
	if (rc == 0)
		rc = cli_flush(c);
	if (rc == 0)
		cli_print_report(c, r);
	if (rc == 0)
		cli_warn_unauthenticated(c, r);
	gs_report_free(r);
	g_object_unref(m);
	return rc;
fail:
	if (m)
		g_object_unref(m);
	/* c->in: stdin was read (c->raw is NULL when it was empty) */
	if (passthrough && rc != EXIT_IOERR && c->in) {
		cli_error(c, "passing the message through unchanged");
		return cli_write(c, c->raw, c->raw_len);
	}
	return rc;
}
