/* galsmime.c: the command table, global options and dispatch. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const cli_command cli_commands[] = {
	{ "sign", cmd_sign, NEEDS_SESSION, "[--opaque] [--from ADDR] [PASSPHRASE OPTIONS] < MSG",
	  "sign a message (multipart/signed, or opaque signed-data)" },
	{ "encrypt", cmd_encrypt, NEEDS_SESSION,
	  "[--sign] [--to ADDR]... [--cipher aes256-cbc|aes256-gcm|auto] [--oaep] [--no-self] < MSG",
	  "encrypt a message to its recipients (and yourself)" },
	{ "decrypt", cmd_decrypt, NEEDS_NOTHING, "[--passthrough] [PASSPHRASE OPTIONS] < MSG",
	  "decrypt a message, verifying a signature inside" },
	{ "verify", cmd_verify, NEEDS_NOTHING, "[--annotate [--authserv-id ID] | --json] [--at TIME] < MSG",
	  "verify a signed message" },
	{ "send", cmd_send, NEEDS_SESSION,
	  "[--sign] [--encrypt | --encrypt=auto] SENDMAIL [ARGS...] < MSG",
	  "sign and/or encrypt, then hand the message to SENDMAIL (mutt's $sendmail)" },
	{ "mutt", cmd_mutt, NEEDS_STORE,
	  "decrypt|verify|verify-opaque|sign|encrypt|pk7out|get-cert|get-signer-cert|"
	  "get-cert-email|import-cert|sync-index ARGS",
	  "what mutt's $smime_*_command settings run (see plugin/mutt/smime.rc)" },
	{ "harvest", cmd_harvest, NEEDS_SESSION, "[--decrypt] [--force] < MSG",
	  "learn the signer's certificate from a message (procmail)" },
	{ "notmuch", cmd_notmuch, NEEDS_SESSION, "harvest [--tag] [--decrypt] [--force] [QUERY]",
	  "learn certificates from the signed mail in the notmuch database" },
	{ "gal", cmd_gal, NEEDS_STORE,
	  "import FILE... [--format F] [--source NAME] [--skip-bad] | lookup QUERY [--json] |"
	  " explain RECIPIENT | list [--source NAME] [--json] | stats",
	  "the Global Address List export: import it, ask it who is who" },
	{ "key", cmd_key, NEEDS_STORE, "import FILE [--label L] [PASSPHRASE OPTIONS] | list",
	  "your own certificates and private keys (PKCS#12 or PEM)" },
	{ "cert", cmd_cert, NEEDS_STORE, "import FILE... [--source NAME] | list",
	  "correspondents' certificates (PEM, DER, PKCS#7, .sst)" },
	{ "trust", cmd_trust, NEEDS_STORE, "import FILE... | list",
	  "trust anchors: the CAs whose certificates you accept" },
	{ "crl", cmd_crl, NEEDS_STORE, "import FILE... | update [--timeout SECONDS] | list",
	  "revocation lists: import them, or fetch the certificates' CRL points" },
	{ NULL, NULL, 0, NULL, NULL },
};

static void
help(FILE *f)
{
	const cli_command *k;

	fprintf(f, "usage: galsmime [--home DIR] COMMAND [OPTIONS]\n\n"
		   "S/MIME for mutt, notmuch and procmail: a filter from a message on stdin\n"
		   "to a message on stdout, with certificates from your Exchange GAL export.\n\n"
		   "commands:\n");
	for (k = cli_commands; k->name; k++)
		fprintf(f, "  %-9s %s\n", k->name, k->summary);
	fprintf(f, "\nglobal options:\n"
		   "  --home DIR   the store folder (default $GALSMIME_HOME, else\n"
		   "               $XDG_DATA_HOME/galsmime)\n"
		   "  --help       this text; galsmime COMMAND --help for a command\n"
		   "  --version    print the version\n\n"
		   "passphrase options: --passphrase-file F, --passphrase-fd N, or the file\n"
		   "named by $GALSMIME_PASSPHRASE_FILE.\n"
		   "See galsmime(1) for exit codes and examples.\n");
}

static char *
default_home(void)
{
	const char *e = g_getenv("GALSMIME_HOME");

	if (e && *e)
		return g_strdup(e);
	return g_build_filename(g_get_user_data_dir(), "galsmime", NULL);
}

int
main(int argc, char **argv)
{
	const cli_command *k;
	cli c = { 0 };
	int i, rc;

	signal(SIGPIPE, SIG_IGN);
	c.pass_fd = -1;
	c.busy_ms = 10000;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--home") && i + 1 < argc) {
			g_free(c.home);
			c.home = g_strdup(argv[++i]);
		} else if (g_str_has_prefix(argv[i], "--home=")) {
			g_free(c.home);
			c.home = g_strdup(argv[i] + 7);
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help(stdout);
			rc = 0;
			goto early;
		} else if (!strcmp(argv[i], "--version")) {
			printf("galsmime %s\n", GALSMIME_VERSION);
			rc = 0;
			goto early;
		} else {
			break;
		}
	}
	if (i >= argc) {
		help(stderr);
		rc = EXIT_USAGE;
		goto early;
	}
	for (k = cli_commands; k->name && strcmp(k->name, argv[i]); k++)
		;
	if (!k->name) {
		fprintf(stderr, "galsmime: unknown command '%s' (see galsmime --help)\n", argv[i]);
		rc = EXIT_USAGE;
		goto early;
	}
	c.cmd = k->name;
	if (i + 1 < argc && (!strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h"))) {
		printf("usage: galsmime %s %s\n  %s\n", k->name, k->synopsis, k->summary);
		rc = 0;
		goto early;
	}
	if (!c.home)
		c.home = default_home();
	cli_read_config(&c);
	if (g_getenv("GALSMIME_PASSPHRASE_FILE") && *g_getenv("GALSMIME_PASSPHRASE_FILE"))
		c.pass_env_file = g_strdup(g_getenv("GALSMIME_PASSPHRASE_FILE"));

	g_mime_init();
	gs_init();
	if (k->needs & (NEEDS_STORE | NEEDS_SESSION)) {
		char *msg = NULL;
		gs_status st = cli_open_store(&c, &msg);
		if (st != GS_OK) {
			rc = cli_fail(&c, st, msg);
			goto out;
		}
	}
	/* the session is opened by the command after its options, so that
	 * --passphrase-fd is known */
	optind = 1;
	rc = k->run(&c, argc - i, argv + i);
	if (rc == 0)
		rc = cli_flush(&c);
out:
	cli_cleanup(&c);
	g_mime_shutdown();
	return rc;
early:
	/* nothing is set up yet but the copy of --home's argument */
	g_free(c.home);
	return rc;
}
