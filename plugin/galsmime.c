/* galsmime.c: the command table, global options and dispatch. */
#include "cli.h"
#include "front.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define COMMON \
	"  --passphrase-file F  read the key's passphrase from F (mode 0600)\n" \
	"  --passphrase-fd N    read it from file descriptor N\n" \
	"  --allow-sha1         SHA-1 signatures may be good, with a warning\n" \
	"  -q, --quiet          say only what went wrong, and security warnings\n"

#define SOURCE_OPTION \
	"  import --source NAME what the certificates are filed under (default: the\n" \
	"                       file's full path)\n"

/* One table: dispatch, access to the store, and every command's help.
 * `writes` names the subcommands that change the store: the others open
 * it read-only. */
const cli_command cli_commands[] = {
	{ "sign", cmd_sign, NEEDS_STORE_READ, NULL, "[OPTIONS] < MSG",
	  "sign a message (multipart/signed, or opaque signed-data)",
	  "  --opaque             opaque signed-data instead of multipart/signed\n"
	  "  --from ADDR          sign as the identity of ADDR (default: the From: address)\n" COMMON },
	{ "encrypt", cmd_encrypt, NEEDS_STORE_DIRECTORY, NULL, "[OPTIONS] < MSG",
	  "encrypt a message to its recipients (and yourself)",
	  "  --sign               sign first, then encrypt the signed entity\n"
	  "  --opaque             with --sign: opaque signed-data inside\n"
	  "  --to ADDR|NAME       encrypt to this recipient too (again for more)\n"
	  "  --cipher C           aes256-cbc (default, what Outlook reads), aes256-gcm, auto\n"
	  "  --oaep               RSA-OAEP (SHA-256) instead of PKCS#1 v1.5\n"
	  "  --no-self            no copy readable by you\n"
	  "  --from ADDR          your identity (default: the From: address)\n"
	  "  --allow-untrusted    accept certificates whose chain reaches no trust anchor\n" COMMON },
	{ "decrypt", cmd_decrypt, NEEDS_STORE_READ | NEEDS_STORE_LATE, NULL, "[OPTIONS] < MSG",
	  "decrypt a message, verifying a signature inside",
	  "  --passthrough        for procmail: write the message unchanged when it cannot\n"
	  "                       be decrypted, and leave unauthenticated content encrypted\n" COMMON },
	{ "verify", cmd_verify, NEEDS_STORE_READ | NEEDS_STORE_LATE, NULL, "[OPTIONS] < MSG",
	  "verify a signed message",
	  "  --annotate           add an Authentication-Results field (RFC 8601, smime=)\n"
	  "  --authserv-id ID     its authserv-id (default: the host name)\n"
	  "  --json               a JSON report instead of the message\n"
	  "  --at TIME            judge certificates at TIME (YYYY-MM-DD, ISO 8601, @SECONDS)\n"
	  "  --passthrough        for procmail: exit 0 whenever a message was written\n" COMMON },
	{ "send", cmd_send, NEEDS_STORE_WRITE | NEEDS_STORE_DIRECTORY, NULL, "[OPTIONS] SENDMAIL [ARGS...] < MSG",
	  "sign and/or encrypt, then hand the message to SENDMAIL (mutt's $sendmail)",
	  "  --sign               sign\n"
	  "  --encrypt            encrypt every copy, or send nothing (exit 67)\n"
	  "  --encrypt=auto       encrypt when every recipient has a certificate\n"
	  "  --confirm-unencrypted  with --encrypt=auto: send unencrypted only when the same\n"
	  "                       message is sent again (galsmime.muttrc's default)\n"
	  "  --cipher C, --oaep, --from ADDR, --allow-untrusted   as for encrypt\n"
	  "  no -- before SENDMAIL: galsmime's options end at it\n" COMMON },
	{ "mutt", cmd_mutt, NEEDS_STORE_READ, "import-cert",
	  "SUBCOMMAND ARGS  (decrypt, verify, verify-opaque, sign, encrypt, pk7out, get-cert,\n"
	  "                  get-signer-cert, get-cert-email, import-cert, sync-index)",
	  "what mutt's $smime_*_command settings run (see share/galsmime/mutt/smime.rc)",
	  "  galsmime mutt SUBCOMMAND --help  for each one's arguments\n" },
	{ "harvest", cmd_harvest, NEEDS_STORE_WRITE, NULL, "[OPTIONS] < MSG",
	  "learn the signer's certificate from a message (procmail)",
	  "  --decrypt            look inside encrypted messages (needs your key)\n"
	  "  --force              look again at a message id done before\n" COMMON },
	{ "notmuch", cmd_notmuch, NEEDS_STORE_WRITE, NULL, "harvest [OPTIONS] [QUERY]",
	  "learn certificates from the signed mail in the notmuch database",
	  "  --tag                tag messages smime-signed, and smime-good or smime-bad\n"
	  "  --decrypt            look inside encrypted messages (needs your key)\n"
	  "  --force              look again at message ids done before\n" COMMON },
	{ "gal", cmd_gal, NEEDS_STORE_DIRECTORY, "import sync",
	  "import FILE... | sync URL | lookup QUERY | explain RECIPIENT | list | stats | publish",
	  "the Global Address List export: import it, ask it who is who",
	  "  import --format F    json, csv, ldif, vcard, oab, sst, p7b, pem, der (default:\n"
	  "                       from the content)\n"
	  "  import --source NAME the snapshot's name (default: the file's full path)\n"
	  "  import --skip-bad    skip malformed records, saying why\n"
	  "  sync URL             one snapshot from an ldap:// directory (paged search)\n"
	  "  sync --source NAME   the snapshot's name (default: the URL)\n"
	  "  sync --base DN       where to search (default: the server's naming context)\n"
	  "  sync --filter F      which entries (default: (objectClass=*))\n"
	  "  sync --bind-dn DN --password-file F   a simple bind (default: anonymous);\n"
	  "                       F's first line (mode 0600); --password-fd N: descriptor N's\n"
	  "  sync --bind gssapi   Kerberos (SASL GSSAPI): your ticket (kinit), ldap/HOST\n"
	  "  sync --timeout S     seconds to connect and for each page (default 10)\n"
	  "  sync --ca-file F     TLS (ldaps://, --starttls): trust the CAs in F (PEM)\n"
	  "  sync --starttls      ldap://: StartTLS before the bind, or fail\n"
	  "  lookup --json        a JSON answer\n"
	  "  explain --allow-untrusted  as encrypt would with it\n"
	  "  explain --refresh    ask the configured directories now, whatever their TTL\n"
	  "  configuration [directory NAME]: url, base, bind (simple|gssapi), bind_dn,\n"
	  "  password_file, ca_file, starttls, ttl (86400): asked by encrypt, send and\n"
	  "  explain; [lookup] timeout (3 s for all of them, for one message)\n"
	  "  list --source NAME   only that snapshot's entries\n"
	  "  publish              the entries as LDIF for OpenLDAP (share/galsmime/ldap/)\n"
	  "  publish --source NAME  only that snapshot's entries\n"
	  "  publish --base DN    the entries' parent (default ou=gal,dc=example,dc=org)\n" },
	{ "key", cmd_key, NEEDS_STORE_READ, "import", "import FILE|pkcs11:URI [OPTIONS] | list",
	  "your own certificates and private keys (PKCS#12 or PEM, gpgsm's armoured export, a token)",
	  "  import --label L     a name for the identity\n" COMMON },
	{ "cert", cmd_cert, NEEDS_STORE_READ, "import", "import FILE... | list",
	  "correspondents' certificates (PEM, DER, PKCS#7, .sst)",
	  SOURCE_OPTION },
	{ "trust", cmd_trust, NEEDS_STORE_READ, "import", "import FILE... | list",
	  "trust anchors: the CAs whose certificates you accept",
	  SOURCE_OPTION },
	{ "crl", cmd_crl, NEEDS_STORE_READ, "import update", "import FILE... | update | list",
	  "revocation lists: import them, or fetch the certificates' CRL points",
	  "  update --timeout S   seconds per fetch (default 30)\n" },
	{ "agent", cmd_agent, NEEDS_STORE_READ | NEEDS_STORE_LATE, NULL,
	  "start | status | forget [FINGERPRINT] | stop | preset [--from ADDR] < PASSPHRASE",
	  "the key agent: unlock a key once, pinentry asks (see galsmime(1))",
	  "  preset --from ADDR   the identity to unlock (default: the only one)\n"
	  "  preset reads one line of stdin (or --passphrase-file F, --passphrase-fd N)\n"
	  "  -q, --quiet          preset: say nothing when the key is unlocked\n"
	  "  configuration [agent]: default_cache_ttl (600), max_cache_ttl (7200),\n"
	  "  pinentry (/usr/bin/pinentry), enable (true)\n"
	  "  serve --ready-fd N   the agent itself, as galsmime starts it (--protocol N: a\n"
	  "                       version for tests)\n"
	  "  engine --watch-fd N  the warm engine, as the agent starts it beside itself\n" COMMON },
	{ NULL, NULL, 0, NULL, NULL, NULL, NULL },
};

static void
help(FILE *f)
{
	const cli_command *k;

	fprintf(f, "usage: galsmime [--home DIR] [-q] COMMAND [OPTIONS]\n\n"
		   "S/MIME for mutt, notmuch and procmail: a filter from a message on stdin\n"
		   "to a message on stdout, with certificates from your Exchange GAL export.\n\n"
		   "commands:\n");
	for (k = cli_commands; k->name; k++)
		fprintf(f, "  %-9s %s\n", k->name, k->summary);
	fprintf(f, "\nglobal options:\n"
		   "  --home DIR   the store folder (default $GALSMIME_HOME, else\n"
		   "               $XDG_DATA_HOME/galsmime)\n"
		   "  -q, --quiet  say only what went wrong, and security warnings\n"
		   "  --help       this text; galsmime COMMAND --help for a command\n"
		   "  --version    print the version\n\n"
		   "passphrase options: --passphrase-file F, --passphrase-fd N, or the file\n"
		   "named by $GALSMIME_PASSPHRASE_FILE; on a terminal, key import asks.\n"
		   "See galsmime(1) for exit codes and examples.\n");
}

static void
command_help(const cli_command *k)
{
	printf("usage: galsmime %s %s\n  %s\n", k->name, k->synopsis, k->summary);
	if (k->options && *k->options)
		printf("\noptions:\n%s", k->options);
	printf("\nSee galsmime(1).\n");
}

/* Does the command line ask for help (before any "--")? */
static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

/* Is `sub` one of the space-separated words in `list`? */
static int
word_in(const char *list, const char *sub)
{
	size_t n = strlen(sub);
	const char *p;

	for (p = list; p && (p = strstr(p, sub)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

static char *
default_home(void)
{
	char path[4096];

	/* the front's rule (front.h), read now: GLib would keep its first
	 * answer, and a warm engine's worker has the client's environment */
	if (gs_default_store_path(path, sizeof path) == 0)
		return g_strdup(path);
	return g_build_filename(cli_home_dir(), ".local", "share", "galsmime", NULL);
}

int
cli_main(int argc, char **argv, const cli_hooks *hooks)
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
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			c.quiet = 1;
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
	/* galsmime mutt SUBCOMMAND --help is mutt's own */
	if ((i + 1 < argc && !strcmp(argv[i + 1], "-h")) ||
	    (strcmp(k->name, "mutt") && wants_help(argc - i - 1, argv + i + 1)) ||
	    (!strcmp(k->name, "mutt") && i + 1 < argc && !strcmp(argv[i + 1], "--help"))) {
		command_help(k);
		rc = 0;
		goto early;
	}
	c.write = (k->needs & NEEDS_STORE_WRITE) || (k->writes && i + 1 < argc && word_in(k->writes, argv[i + 1]));
	if (!c.home)
		c.home = default_home();
	cli_read_config(&c, (k->needs & NEEDS_STORE_DIRECTORY) != 0);
	if (c.directories->len)
		c.write = 1;
	if (hooks && hooks->go && !hooks->go(&c)) {
		cli_cleanup(&c);
		return CLI_DECLINED;
	}
	if (g_getenv("GALSMIME_PASSPHRASE_FILE") && *g_getenv("GALSMIME_PASSPHRASE_FILE"))
		c.pass_env_file = g_strdup(g_getenv("GALSMIME_PASSPHRASE_FILE"));

	g_mime_init();
	gs_init();
	/* the command line will hold private keys: no core file, no ptrace */
	gs_process_harden();
	if (!(k->needs & NEEDS_STORE_LATE)) {
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
	/* what the command wrote goes out whatever its exit code (gal
	 * explain's answer with 1, crl update's summary with a failed
	 * point); a failed flush is the exit code only when all else went
	 * well */
	i = cli_flush(&c);
	if (rc == 0)
		rc = i;
out:
	if (hooks && hooks->answered)
		hooks->answered(&c, rc);
	cli_cleanup(&c);
	g_mime_shutdown();
	return rc;
early:
	/* nothing is set up yet but the copy of --home's argument */
	g_free(c.home);
	return rc;
}
