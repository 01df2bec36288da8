/* certs.c: what `cert` and `trust` share: importing certificate files
 * with a role, and listing certificates. */
#include "cli.h"
#include "certs.h"

#include <string.h>

static int
print_cert(const gs_cert_info *ci, const char *sources, void *data)
{
	cli *c = data;
	char *nb = cli_time(ci->not_before), *na = cli_time(ci->not_after);

	cli_printf(c, "%s\n  subject  %s\n  issuer   %s\n  serial   %s\n  valid    %s to %s\n",
	       ci->sha256, cli_text(ci->subject, 0), cli_text(ci->issuer, 0), ci->serial, nb, na);
	if (ci->emails[0]) {
		char *addrs = gs_cert_info_addresses(ci);
		cli_printf(c, "  email    %s\n", addrs);
		g_free(addrs);
	}
	cli_printf(c, "  key      %s %d%s%s%s%s\n", ci->key_type, ci->key_bits,
	       ci->key_usage ? ", " : "", ci->key_usage ? ci->key_usage : "",
	       ci->ext_key_usage ? "; eku " : "", ci->ext_key_usage ? ci->ext_key_usage : "");
	if (ci->issued_before) {
		char *ib = cli_time(ci->issued_before);
		cli_printf(c, "  trusted  only for certificates issued before %s (Microsoft's NotBefore)\n", ib);
		g_free(ib);
	}
	if (sources)
		cli_printf(c, "  from     %s\n", cli_text(sources, 0));
	g_free(nb);
	g_free(na);
	return cli_out_failed(c);
}

int
certs_print(cli *c, const gs_cert_info *ci, const char *sources)
{
	return print_cert(ci, sources, c);
}

int
certs_list(cli *c, gs_cert_filter filter)
{
	char *msg = NULL;
	gs_status st = gs_store_list_certs(c->store, filter, print_cert, c, &msg);

	return st == GS_OK ? 0 : cli_fail(c, st, msg);
}

typedef struct refusal_ctx {
	cli *c;
	const char *file;
} refusal_ctx;

static void
print_refusal(void *data, unsigned index, const char *subject, const char *reason)
{
	refusal_ctx *rc = data;

	cli_error(rc->c, "%s: certificate %u (%s) refused: %s", rc->file, index, subject, reason);
}

static void
print_anchor_stats(cli *c, const char *file, const gs_import_stats *s)
{
	cli_note(c, "%s: %u trust anchors added, %u already there", file, s->anchors_new, s->anchors_known);
	if (s->refused)
		cli_note(c, ", %u refused", s->refused);
	if (s->disallowed || s->not_for_email)
		cli_note(c, " (%u disallowed by Microsoft, %u not trusted for e-mail by Microsoft)",
		       s->disallowed, s->not_for_email);
	if (s->limited)
		cli_note(c, "; %u only for certificates issued before a date (Microsoft's NotBefore)",
		       s->limited);
	cli_note(c, "\n");
}

int
certs_import(cli *c, int argc, char **argv, gs_cert_role role)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *source = NULL;
	int opt, i, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 's')
			source = optarg;
		else
			return cli_usage(c, "unknown option");
	}
	if (optind >= argc)
		return cli_usage(c, "import needs at least one FILE");
	for (i = optind; i < argc; i++) {
		gs_import_stats stats = { 0 };
		refusal_ctx rctx = { c, argv[i] };
		unsigned char *data;
		size_t len;
		char *msg = NULL, *src;
		gs_status st;

		if ((rc = cli_read_file(c, argv[i], &data, &len)) != 0)
			return rc;
		src = g_strdup(source ? source : argv[i]);
		if (role == GS_ROLE_ANCHOR)
			st = gs_store_import_anchors(c->store, data, len, src, print_refusal, &rctx, &stats,
						     &msg);
		else
			st = gs_store_import_certs(c->store, data, len, src, role, &stats, &msg);
		g_free(data);
		g_free(src);
		if (st == GS_E_USAGE && stats.refused) {
			/* each refusal is on its own line already */
			g_free(msg);
			msg = g_strdup_printf("no trust anchor added: %u certificate%s refused", stats.refused,
					      stats.refused == 1 ? "" : "s");
		}
		if (st != GS_OK) {
			char *full = g_strdup_printf("%s: %s", argv[i], msg);
			g_free(msg);
			return cli_fail(c, st, full);
		}
		if (role == GS_ROLE_ANCHOR)
			print_anchor_stats(c, argv[i], &stats);
		else
			cli_note(c, "%s: %u certificates new, %u known\n", argv[i], stats.certs_new,
			       stats.certs_known);
	}
	return cli_after_store_change(c);
}

int
certs_command(cli *c, int argc, char **argv, gs_cert_role role)
{
	if (argc < 2)
		return cli_usage(c, "%s needs import or list", c->cmd);
	if (!strcmp(argv[1], "import"))
		return certs_import(c, argc - 1, argv + 1, role);
	if (!strcmp(argv[1], "list"))
		return certs_list(c, role == GS_ROLE_ANCHOR ? GS_LIST_ANCHORS : GS_LIST_ALL);
	return cli_usage(c, "unknown %s command '%s'", c->cmd, argv[1]);
}
