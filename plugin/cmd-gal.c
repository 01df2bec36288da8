/* cmd-gal.c: galsmime gal import | lookup | explain | list | stats:
 * the Global Address List export, cached in the store. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct progress {
	cli *c;
	const char *file;
	int tty;
	int shown;
} progress;

static void
on_progress(void *data, uint64_t done, uint64_t total, unsigned long entries)
{
	progress *p = data;

	if (!p->tty)
		return;
	if (total)
		fprintf(stderr, "\rgalsmime gal: importing %s: %3d%%, %lu entries", p->file,
			(int) (done * 100 / (total ? total : 1)), entries);
	else
		fprintf(stderr, "\rgalsmime gal: importing %s: %lu entries", p->file, entries);
	p->shown = 1;
}

static void
on_skip(void *data, const char *where, const char *reason)
{
	progress *p = data;

	if (p->shown) {
		fputc('\n', stderr);
		p->shown = 0;
	}
	cli_error(p->c, "%s: %s (skipped)", where, reason);
}

static void
end_progress(progress *p)
{
	if (p->shown) {
		fputc('\n', stderr);
		p->shown = 0;
	}
}

static int
gal_import(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "source", required_argument, NULL, 's' },
		{ "skip-bad", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	gs_gal_format format = GS_GAL_AUTO;
	gs_gal_import_opts io = { 0 };
	gs_gal_import *imp = NULL;
	const char *source = NULL;
	progress pr = { 0 };
	int opt, i, first, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (gs_gal_format_from_name(optarg, &format) != GS_OK)
				return cli_usage(c, "unknown format '%s' (auto, json, csv, ldif, vcard, oab, "
						    "sst, p7b, pem, der)", optarg);
			break;
		case 's': source = optarg; break;
		case 'k': io.skip_bad = 1; break;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage(c, "gal import needs at least one FILE");
	pr.c = c;
	pr.tty = isatty(STDERR_FILENO);
	io.progress = on_progress;
	io.on_skip = on_skip;
	io.cb_data = &pr;

	/* with --source every file goes into one snapshot; without, each
	 * file is the snapshot of the source named after it */
	for (i = optind, first = optind; i < argc; i++) {
		const char *path = argv[i];
		char *msg = NULL, *base = NULL;
		gs_gal_stats stats;
		gs_status st;
		int fd;

		if (!imp) {
			base = source ? NULL : g_path_get_basename(path);
			st = gs_gal_import_begin(c->store, source ? source : base, &io, &imp, &msg);
			g_free(base);
			if (st != GS_OK)
				return cli_fail(c, st, msg);
			first = i;
		}
		fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
		if (fd < 0) {
			cli_error(c, "%s: %s", path, g_strerror(errno));
			gs_gal_import_abort(imp);
			return EXIT_IOERR;
		}
		pr.file = path;
		st = gs_gal_import_file(imp, fd, strcmp(path, "-") ? path : "stdin", format, &msg);
		close(fd);
		end_progress(&pr);
		if (st != GS_OK) {
			gs_gal_import_abort(imp);
			rc = cli_fail(c, st, msg);
			cli_error(c, "nothing imported from %s: the store is as it was", path);
			return rc;
		}
		if (source && i + 1 < argc)
			continue;
		st = gs_gal_import_commit(imp, &stats, &msg);
		imp = NULL;
		if (st != GS_OK) {
			/* a failed commit (disk full) is rolled back whole */
			rc = cli_fail(c, st, msg);
			cli_error(c, "nothing imported from %s: the store is as it was",
				  source ? source : argv[first]);
			return rc;
		}
		printf("%s%s: %lu entries (%lu replaced), %lu addresses, %lu certificate links; "
		       "certificates: %lu new, %lu known; %lu skipped\n",
		       source ? source : argv[first], source ? " (snapshot)" : "", stats.entries,
		       stats.removed, stats.addresses, stats.entry_certs, stats.certs_new,
		       stats.certs_known, stats.skipped);
	}
	return rc == 0 ? cli_after_store_change(c) : rc;
}

static void
json_str(GString *g, const char *s)
{
	const unsigned char *p;

	if (!s) {
		g_string_append(g, "null");
		return;
	}
	g_string_append_c(g, '"');
	for (p = (const unsigned char *) s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(g, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(g, "\\u%04x", *p);
		else
			g_string_append_c(g, (char) *p);
	}
	g_string_append_c(g, '"');
}

typedef struct lookup_out {
	int json;
	GString *g;
	unsigned n;
} lookup_out;

static int
print_entry(const gs_gal_entry *e, void *data)
{
	lookup_out *lo = data;
	const char *const *a;

	if (lo && lo->json) {
		GString *g = lo->g;
		if (lo->n++)
			g_string_append_c(g, ',');
		g_string_append(g, "{\"source\":");
		json_str(g, e->source);
		g_string_append(g, ",\"kind\":");
		json_str(g, e->kind);
		g_string_append(g, ",\"name\":");
		json_str(g, e->name);
		g_string_append(g, ",\"alias\":");
		json_str(g, e->alias);
		g_string_append(g, ",\"display_name\":");
		json_str(g, e->display_name);
		g_string_append(g, ",\"addresses\":[");
		for (a = e->addresses; *a && **a; a++) {
			if (a != e->addresses)
				g_string_append_c(g, ',');
			json_str(g, *a);
		}
		g_string_append_printf(g, "],\"certificates\":%u}", e->n_certs);
		return 0;
	}
	/* tab-separated: no field may hold a tab or a line end */
	printf("%s\t%s\t%s\t%s\t", e->display_name ? cli_text(e->display_name, 0) : "-",
	       e->name ? cli_text(e->name, 0) : "-", e->alias ? cli_text(e->alias, 0) : "-",
	       e->kind ? cli_text(e->kind, 0) : "-");
	for (a = e->addresses; *a && **a; a++)
		printf("%s%s", a == e->addresses ? "" : ",", cli_text(*a, 0));
	printf("\t%u certificate%s\t[%s]\n", e->n_certs, e->n_certs == 1 ? "" : "s", cli_text(e->source, 0));
	return 0;
}

static void
json_cert(GString *g, const gs_candidate *cand)
{
	g_string_append(g, "{\"fingerprint_sha256\":");
	json_str(g, cand->cert.sha256);
	g_string_append(g, ",\"subject\":");
	json_str(g, cand->cert.subject);
	g_string_append(g, ",\"issuer\":");
	json_str(g, cand->cert.issuer);
	g_string_append_printf(g, ",\"not_before\":%" G_GINT64_FORMAT ",\"not_after\":%" G_GINT64_FORMAT,
			       cand->cert.not_before, cand->cert.not_after);
	g_string_append(g, ",\"source\":");
	json_str(g, cand->source);
	g_string_append(g, ",\"entry\":");
	json_str(g, cand->entry);
	g_string_append(g, ",\"attribute\":");
	json_str(g, cand->attribute);
	g_string_append(g, ",\"binding\":");
	json_str(g, gs_binding_string(cand->binding));
	g_string_append(g, ",\"verdict\":");
	json_str(g, gs_verdict_string(cand->verdict));
	g_string_append(g, ",\"reason\":");
	json_str(g, cand->reason);
	g_string_append(g, "}");
}

static int
gal_lookup(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	lookup_out lo = { 0 };
	gs_resolution *res = NULL;
	unsigned long found = 0;
	char *msg = NULL;
	gs_status st;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'j')
			lo.json = 1;
		else
			return cli_usage(c, "unknown option");
	}
	if (optind + 1 != argc)
		return cli_usage(c, "gal lookup needs one QUERY");
	if ((st = cli_open_session(c, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	lo.g = g_string_new("{\"query\":");
	json_str(lo.g, argv[optind]);
	g_string_append(lo.g, ",\"entries\":[");
	st = gs_gal_lookup(c->store, argv[optind], print_entry, &lo, &found, &msg);
	if (st == GS_OK)
		st = gs_resolve(c->session, argv[optind], 0, &res, &msg);
	if (st != GS_OK) {
		g_string_free(lo.g, TRUE);
		return cli_fail(c, st, msg);
	}
	if (lo.json) {
		g_string_append(lo.g, "],\"chosen\":");
		if (gs_resolution_chosen(res))
			json_cert(lo.g, gs_resolution_chosen(res));
		else
			g_string_append(lo.g, "null");
		g_string_append(lo.g, "}\n");
		cli_write(c, lo.g->str, lo.g->len);
	} else if (gs_resolution_chosen(res)) {
		const gs_candidate *ch = gs_resolution_chosen(res);
		printf("encrypts to %s (%s), bound by %s\n", ch->cert.sha256, cli_text(ch->cert.subject, 0),
		       ch->binding == GS_BIND_CERTIFICATE ? "its own address"
		       : ch->binding == GS_BIND_NAME	  ? "the entry's name"
							  : "the directory");
	} else if (found || gs_resolution_count(res)) {
		printf("cannot encrypt: %s\n", gs_resolution_failure(res));
	}
	g_string_free(lo.g, TRUE);
	found += gs_resolution_count(res);
	gs_resolution_free(res);
	return found ? 0 : EXIT_VERIFY_BAD;
}

static int
gal_explain(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allow-untrusted", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	gs_resolution *res = NULL;
	unsigned flags = 0;
	char *msg = NULL;
	gs_status st;
	size_t i, j, n;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'u')
			flags |= GS_RESOLVE_ALLOW_UNTRUSTED;
		else
			return cli_usage(c, "unknown option");
	}
	if (optind + 1 != argc)
		return cli_usage(c, "gal explain needs one RECIPIENT");
	if ((st = cli_open_session(c, &msg)) != GS_OK ||
	    (st = gs_resolve(c->session, argv[optind], flags, &res, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	n = gs_resolution_count(res);
	printf("%s: %zu candidate certificate%s\n", cli_text(argv[optind], 200), n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const gs_candidate *k = gs_resolution_candidate(res, i);
		char *nb = cli_time(k->cert.not_before), *na = cli_time(k->cert.not_after), *addrs;

		printf("\n%s %s\n", k == gs_resolution_chosen(res) ? "*" : " ", k->cert.sha256);
		printf("    subject    %s\n    issuer     %s\n    valid      %s to %s\n",
		       cli_text(k->cert.subject, 0), cli_text(k->cert.issuer, 0), nb, na);
		addrs = gs_cert_info_addresses(&k->cert);
		printf("    addresses  %s%s\n", addrs ? addrs : "(none)",
		       k->address_match || !gs_resolution_address(res)
			       ? "" : "  (not the recipient's address: only the directory binds it)");
		for (j = 0; j < k->n_sources; j++) {
			const gs_cand_source *src = &k->sources[j];
			if (src->entry)
				printf("    %s source %s, entry %s, attribute %s\n", j ? "          " : "from      ",
				       src->source ? cli_text(src->source, 0) : "?", cli_text(src->entry, 0),
				       src->attribute ? cli_text(src->attribute, 0) : "?");
			else
				printf("    %s source %s, by its own address\n", j ? "          " : "from      ",
				       src->source ? cli_text(src->source, 0) : "?");
		}
		printf("    bound by   %s\n", k->binding == GS_BIND_CERTIFICATE ? "its own address"
					    : k->binding == GS_BIND_NAME       ? "the entry's name"
										: "the directory only");
		if (!strcmp(gs_verdict_string(k->verdict), k->reason))
			printf("    verdict    %s\n", k->reason);
		else
			printf("    verdict    %s: %s\n", gs_verdict_string(k->verdict), k->reason);
		g_free(nb);
		g_free(addrs);
		g_free(na);
	}
	if (gs_resolution_conflict(res))
		printf("\nconflict: %s\n", gs_resolution_conflict(res));
	if (gs_resolution_note(res))
		printf("\n%s\n", gs_resolution_note(res));
	if (gs_resolution_chosen(res))
		printf("\nchosen: %s\n", gs_resolution_chosen(res)->cert.sha256);
	else
		printf("\ncannot encrypt to %s: %s\n", cli_text(argv[optind], 200), gs_resolution_failure(res));
	st = gs_resolution_chosen(res) ? GS_OK : GS_E_NOT_FOUND;
	gs_resolution_free(res);
	return st == GS_OK ? 0 : EXIT_VERIFY_BAD;
}

static int
print_source(const gs_gal_source_info *in, void *data)
{
	char *t = cli_time(in->imported_at);

	(void) data;
	printf("%-24s %-8s %8lu entries %8lu addresses %8lu certificates %8lu entries with certificates  imported %s\n",
	       cli_text(in->name, 0), in->kind ? cli_text(in->kind, 0) : "-", in->entries, in->addresses, in->certificates,
	       in->entries_with_certs, t);
	g_free(t);
	return 0;
}

int
cmd_gal(cli *c, int argc, char **argv)
{
	char *msg = NULL;
	gs_status st;

	if (argc < 2)
		return cli_usage(c, "gal needs import, lookup, explain, list or stats");
	if (!strcmp(argv[1], "import"))
		return gal_import(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "lookup"))
		return gal_lookup(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "explain"))
		return gal_explain(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list")) {
		const char *source = argc > 3 && !strcmp(argv[2], "--source") ? argv[3] : NULL;
		if (argc > 2 && !source)
			return cli_usage(c, "gal list takes only --source NAME");
		st = gs_gal_list(c->store, source, print_entry, NULL, &msg);
		return st == GS_OK ? 0 : cli_fail(c, st, msg);
	}
	if (!strcmp(argv[1], "stats")) {
		st = gs_gal_sources(c->store, print_source, NULL, &msg);
		return st == GS_OK ? 0 : cli_fail(c, st, msg);
	}
	return cli_usage(c, "unknown gal command '%s'", argv[1]);
}
