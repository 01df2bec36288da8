/* cmd-sign.c: galsmime sign [--opaque] [--from ADDR] < MSG > SIGNED */
#include "cli.h"

/* A key on a token or in the agent signs at the end of the message:
 * written to memory first, so that a token pulled out or an agent gone
 * by then leaves nothing on stdout. */
static int
write_collected(cli *c, GMimeMessage *m)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *a;
	char *msg = NULL;
	gs_status st = gs_message_write(c->session, m, mem, &msg);
	int rc;

	if (st != GS_OK) {
		g_object_unref(mem);
		return cli_fail(c, st, msg);
	}
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	rc = cli_write(c, a->data, a->len);
	g_object_unref(mem);
	return rc;
}

int
cmd_sign(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "opaque", no_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'f' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	gs_sign_opts so = { 0 };
	GMimeMessage *m = NULL;
	char *msg = NULL;
	gs_status st;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'o')
			so.opaque = 1;
		else if (opt == 'f')
			so.from = optarg;
		else if (!cli_common_option(c, opt, optarg))
			return cli_usage(c, "unknown option");
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if ((st = cli_open_session(c, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	if ((rc = cli_parse_message(c, &m)) != 0)
		return rc;
	if ((st = gs_message_sign(c->session, m, &so, &msg)) != GS_OK)
		rc = cli_fail(c, st, msg);
	else if (gs_session_keys_elsewhere(c->session))
		rc = write_collected(c, m);
	else
		rc = cli_write_message(c, m);
	g_object_unref(m);
	return rc;
}
