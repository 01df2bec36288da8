/* cmd-harvest.c: galsmime harvest [--decrypt] < MSG: learn the signer's
 * certificate from one message (procmail's `:0 c` copies). Writes
 * nothing on stdout; the message itself is delivered by procmail. */
#include "cli.h"

int
cmd_harvest(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "decrypt", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	gs_harvest_result res;
	GMimeMessage *m = NULL;
	unsigned flags = 0;
	char *msg = NULL;
	gs_status st;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		if (opt == 'd')
			flags |= GS_HARVEST_DECRYPT;
		else if (opt == 'f')
			flags |= GS_HARVEST_FORCE;
		else if (opt == 'q')
			c->quiet = 1;
		else if (!cli_common_option(c, opt, optarg))
			return cli_usage(c, "unknown option");
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if ((st = cli_open_session(c, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	if ((rc = cli_parse_message(c, &m)) != 0)
		return rc;
	st = gs_harvest(c->session, m, g_mime_message_get_message_id(m), flags, &res, &msg);
	g_object_unref(m);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	if (!c->quiet) {
		switch (res.outcome) {
		case GS_HARVEST_GOOD:
			cli_error(c, "good signature: %u certificate%s new, %u known", res.certs_new,
				  res.certs_new == 1 ? "" : "s", res.certs_known);
			break;
		case GS_HARVEST_BAD:
			cli_error(c, "signature not good: nothing learnt");
			break;
		case GS_HARVEST_ENCRYPTED:
			cli_error(c, "encrypted: nothing learnt (--decrypt to look inside)");
			break;
		default:
			break;
		}
	}
	gs_report_free(res.report);
	return res.outcome == GS_HARVEST_GOOD && res.certs_new ? cli_after_store_change(c) : 0;
}
