/* cmd-verify.c: galsmime verify [--annotate | --json] [--passthrough] < MSG.
 * Writes the message unchanged (or with an Authentication-Results
 * header, or a JSON report instead) and exits 0 for a good signature by
 * a trusted signer who matches From, 1 when signed but not good, 2 when
 * not signed. With --passthrough (procmail): exit 0 whenever a message
 * was written, and the original unchanged when it cannot be verified
 * (with --annotate: less any field that claims to be ours). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int
parse_time(const char *s, time_t *t)
{
	GTimeZone *utc;
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
	utc = g_time_zone_new_utc();
	dt = g_date_time_new_from_iso8601(s, utc);
	g_time_zone_unref(utc);
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

/* Write the message in two pieces (see gs_auth_results_strip). */
static int
write_pieces(cli *c, GByteArray *head, size_t rest, unsigned removed, const char *authserv)
{
	int rc = cli_write(c, head->data, head->len);

	if (rc == 0)
		rc = cli_write(c, c->raw + rest, c->raw_len - rest);
	if (removed && !c->quiet)
		cli_error(c, "removed %u header field%s claiming to be from %s", removed, removed == 1 ? "" : "s",
			  authserv);
	g_byte_array_unref(head);
	return rc;
}

/* With --passthrough: the message goes on as it came, exit 0; with
 * --annotate, less any field that claims to be ours (when its header
 * can be read at all: if not, no reader finds a field in it either). */
static int
pass_through(cli *c, int rc, const char *authserv)
{
	GByteArray *head = NULL;
	size_t rest = 0;
	unsigned removed = 0;

	if (rc == EXIT_IOERR || !c->in)
		return rc;
	if (authserv && gs_auth_results_strip(c->raw, c->raw_len, authserv, &head, &rest, &removed, NULL) == GS_OK) {
		cli_error(c, "passing the message through without annotating it");
		rc = write_pieces(c, head, rest, removed, authserv);
	} else {
		cli_error(c, "passing the message through unchanged");
		rc = cli_write(c, c->raw, c->raw_len);
	}
	return rc == 0 ? cli_flush(c) : rc;
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
		{ "passthrough", no_argument, NULL, 'p' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *authserv = NULL, *strip = NULL;
	GMimeMessage *m = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	int opt, rc, annotate = 0, json = 0, passthrough = 0;
	time_t at = 0;
	gs_status st;

	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': annotate = 1; break;
		case 'j': json = 1; break;
		case 'i': authserv = optarg; break;
		case 'q': c->quiet = 1; break;
		case 'p': passthrough = 1; break;
		case 't':
			if (!parse_time(optarg, &at))
				return cli_usage(c, "--at takes YYYY-MM-DD, an ISO 8601 time or @SECONDS");
			break;
		default:
			if (!cli_common_option(c, opt, optarg))
				return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (annotate && json)
		return cli_usage(c, "--annotate and --json exclude each other");
	if (passthrough && json)
		return cli_usage(c, "--passthrough passes messages, --json writes reports");
	if (!authserv)
		authserv = g_get_host_name();
	if (annotate && !gs_auth_results_id_valid(authserv))
		return cli_usage(c, "'%s' cannot be an authserv-id (1 to 255 printable ASCII characters, no spaces):"
				 " give --authserv-id", authserv);
	if (annotate && passthrough)
		strip = authserv;
	/* stdin first: whatever happens next, the original can pass through */
	if ((rc = cli_read_stdin(c)) != 0)
		return passthrough ? pass_through(c, rc, strip) : rc;
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		return passthrough ? pass_through(c, rc, strip) : rc;
	}
	if (at)
		gs_session_set_time(c->session, at);
	if ((rc = cli_parse_message(c, &m)) != 0)
		return passthrough ? pass_through(c, rc, strip) : rc;
	st = gs_message_verify(c->session, m, &r, &msg);
	if (st != GS_OK) {
		g_object_unref(m);
		rc = cli_fail(c, st, msg);
		return passthrough ? pass_through(c, rc, strip) : rc;
	}

	if (json) {
		char *j = gs_report_to_json(r);
		rc = cli_write(c, j, strlen(j));
		if (rc == 0)
			rc = cli_write(c, "\n", 1);
		g_free(j);
	} else if (annotate) {
		GByteArray *head = NULL;
		size_t rest = 0;
		unsigned removed = 0;

		st = gs_auth_results_annotate(c->raw, c->raw_len, r, authserv, &head, &rest, &removed, &msg);
		if (st != GS_OK) {
			g_object_unref(m);
			gs_report_free(r);
			rc = cli_fail(c, st, msg);
			return passthrough ? pass_through(c, rc, strip) : rc;
		}
		rc = write_pieces(c, head, rest, removed, authserv);
	} else {
		rc = cli_write(c, c->raw, c->raw_len);
	}
	g_object_unref(m);
	/* the caller sees the verdict only if the output reached it: a
	 * failed write is the one error, with no verdict beside it */
	if (rc == 0 && cli_flush(c) != 0)
		rc = EXIT_IOERR;
	if (rc == 0 && !json)
		cli_print_report(c, r);
	if (rc == 0) {
		if (passthrough)
			rc = 0; /* the verdict travels in the header, the message goes on */
		else if (gs_report_kind_of(r) != GS_REPORT_SIGNED)
			rc = EXIT_VERIFY_UNSIGNED;
		else if (gs_report_status(r) != GS_SIG_GOOD)
			rc = EXIT_VERIFY_BAD;
	}
	gs_report_free(r);
	return rc;
}
