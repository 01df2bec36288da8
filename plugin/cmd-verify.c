/* cmd-verify.c: galsmime verify [--annotate | --json] < MSG.
 * Writes the message unchanged (or with an Authentication-Results
 * header, or a JSON report instead) and exits 0 for a good signature by
 * a trusted signer who matches From, 1 when signed but not good, 2 when
 * not signed. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int
parse_time(const char *s, time_t *t)
{
	GDateTime *dt;
	char *end;
	long long v;

	if (*s == '@') {
		v = strtoll(s + 1, &end, 10);
		if (*end || end == s + 1)
			return 0;
		*t = (time_t) v;
		return 1;
	}
	dt = g_date_time_new_from_iso8601(s, g_time_zone_new_utc());
	if (!dt) {
		char *full = g_strconcat(s, "T00:00:00Z", NULL);
		dt = g_date_time_new_from_iso8601(full, NULL);
		g_free(full);
	}
	if (!dt)
		return 0;
	*t = (time_t) g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return 1;
}

/* Fold an Authentication-Results value at its property boundaries. */
static char *
fold_header(const char *name, const char *value)
{
	GString *g = g_string_new(name);
	char **words = g_strsplit(value, " ", -1), **w;
	size_t col;

	g_string_append(g, ":");
	col = g->len;
	for (w = words; *w; w++) {
		size_t len = strlen(*w);
		if (col + 1 + len > 76 && col > strlen(name) + 1) {
			g_string_append(g, "\n\t");
			col = 8;
		} else {
			g_string_append_c(g, ' ');
			col++;
		}
		g_string_append(g, *w);
		col += len;
	}
	g_string_append_c(g, '\n');
	g_strfreev(words);
	return g_string_free(g, FALSE);
}

int
cmd_verify(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "annotate", no_argument, NULL, 'a' },
		{ "authserv-id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "at", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_PASS_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *authserv = NULL;
	GMimeMessage *m = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	int opt, rc, annotate = 0, json = 0;
	time_t at = 0;
	gs_status st;

	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': annotate = 1; break;
		case 'j': json = 1; break;
		case 'i': authserv = optarg; break;
		case 'q': c->quiet = 1; break;
		case 't':
			if (!parse_time(optarg, &at))
				return cli_usage(c, "--at takes YYYY-MM-DD, an ISO 8601 time or @SECONDS");
			break;
		default:
			if (!cli_pass_option(c, opt, optarg))
				return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (annotate && json)
		return cli_usage(c, "--annotate and --json exclude each other");
	if ((st = cli_open_session(c, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	if (at)
		gs_session_set_time(c->session, at);
	if ((rc = cli_parse_message(c, &m)) != 0)
		return rc;
	st = gs_message_verify(c->session, m, &r, &msg);
	g_object_unref(m);
	if (st != GS_OK)
		return cli_fail(c, st, msg);

	if (json) {
		char *j = gs_report_to_json(r);
		rc = cli_write(c, j, strlen(j));
		if (rc == 0)
			rc = cli_write(c, "\n", 1);
		g_free(j);
	} else {
		if (annotate) {
			char *v = gs_report_to_auth_results(r, authserv ? authserv : g_get_host_name());
			char *h = fold_header("Authentication-Results", v);
			rc = cli_write(c, h, strlen(h));
			g_free(v);
			g_free(h);
		}
		if (rc == 0)
			rc = cli_write(c, c->raw, c->raw_len);
		if (!c->quiet || gs_report_status(r) != GS_SIG_GOOD)
			cli_print_report(c, r);
	}
	if (rc == 0) {
		if (gs_report_kind_of(r) != GS_REPORT_SIGNED)
			rc = EXIT_VERIFY_UNSIGNED;
		else if (gs_report_status(r) != GS_SIG_GOOD)
			rc = EXIT_VERIFY_BAD;
		/* the caller sees the verdict only if the output reached it */
		if (cli_flush(c) != 0)
			rc = EXIT_IOERR;
	}
	gs_report_free(r);
	return rc;
}
