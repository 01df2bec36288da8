/* config.c: the user's configuration, $XDG_CONFIG_HOME/galsmime/config
 * (a GKeyFile). Only the front end reads it; the library gets plain
 * parameters.
 *
 *   [mutt]
 *   # keep mutt's .index files in step with the store: after every
 *   # gal import, cert/trust import and harvest that changed something
 *   sync_index = ~/.local/share/galsmime/mutt/certificates
 *   sync_keys = ~/.local/share/galsmime/mutt/keys
 *
 *   [verify]
 *   # SHA-1 signatures may be good (with a warning), for old archives
 *   allow_sha1 = true
 *
 *   [pkcs11]
 *   # the PKCS#11 module for keys on tokens whose URI names none
 *   # (default: p11-kit's proxy, which loads every registered module)
 *   module = /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
 *
 *   [agent]
 *   # the key agent (galsmime agent): seconds a key stays unlocked after
 *   # its last use, and at most after it was unlocked (gpg-agent's
 *   # default-cache-ttl and max-cache-ttl; a token's login too); the
 *   # pinentry program for a terminal, and the one for a display when
 *   # the command runs on none (default: the first of pinentry-x11,
 *   # -gnome3, -gtk-2, -qt in /usr/bin, else pinentry); enable = false:
 *   # never start an agent (a running one is still used)
 *   default_cache_ttl = 600
 *   max_cache_ttl = 7200
 *   pinentry = /usr/bin/pinentry
 *   pinentry_graphical = /usr/bin/pinentry-gnome3
 *   enable = true
 *
 *   [directory corp]
 *   # asked at encrypt time about recipients the store cannot resolve,
 *   # and those whose cached answer is older than ttl (seconds, default
 *   # 86400); its answers are cached in the store as "directory:corp"
 *   url = ldaps://gc.example.org:3269/
 *   base = dc=example,dc=org
 *   # a simple bind (anonymous without bind_dn), or bind = gssapi (the
 *   # Kerberos ticket of the user's credential cache; no bind_dn)
 *   bind_dn = CN=galsmime,OU=Service,DC=example,DC=org
 *   password_file = ~/.config/galsmime/corp.password
 *   ca_file = /etc/ssl/certs/example-ca.pem
 *   starttls = false
 *   ttl = 86400
 *
 *   [lookup]
 *   # seconds all directories together may take for one message
 *   # (default 3); then their cached answers are used
 *   timeout = 3
 */
#include "cli.h"

#include <string.h>

static char *
expand_home(char *path)
{
	char *r;

	if (!path || path[0] != '~' || (path[1] && path[1] != '/'))
		return path;
	r = g_build_filename(cli_home_dir(), path + 1, NULL);
	g_free(path);
	return r;
}

/* [agent] NAME = seconds (1 to a year); anything else is ignored, said */
static void
agent_seconds(cli *c, GKeyFile *kf, const char *name, unsigned *out)
{
	GError *err = NULL;
	gint64 v;

	if (!g_key_file_has_key(kf, "agent", name, NULL))
		return;
	v = g_key_file_get_int64(kf, "agent", name, &err);
	if (err || v < 1 || v > 365 * 86400)
		cli_error(c, "[agent] %s: not a number of seconds from 1 to 31536000 (ignored)", name);
	else
		*out = (unsigned) v;
	g_clear_error(&err);
}

const char *
cli_home_dir(void)
{
	const char *h = g_getenv("HOME");

	/* $HOME read now (g_get_home_dir keeps its first answer, and a
	 * warm engine's worker has the client's environment) */
	return h && *h ? h : g_get_home_dir();
}

/* [lookup] timeout: seconds (0.1 to 600), in milliseconds */
static void
lookup_timeout(cli *c, GKeyFile *kf)
{
	GError *err = NULL;
	double v;

	c->dir_timeout_ms = 3000;
	if (!g_key_file_has_key(kf, "lookup", "timeout", NULL))
		return;
	v = g_key_file_get_double(kf, "lookup", "timeout", &err);
	if (err || !(v >= 0.1 && v <= 600))
		cli_error(c, "[lookup] timeout: not a number of seconds from 0.1 to 600 (3 used)");
	else
		c->dir_timeout_ms = (unsigned) (v * 1000 + 0.5);
	g_clear_error(&err);
}

/* One [directory NAME] group into c->directories; a group that cannot be
 * used is said and left out (fail closed: its recipients are not
 * resolved by it). */
static void
directory_group(cli *c, GKeyFile *kf, const char *group)
{
	gs_directory d = { 0 };
	char *pwfile = NULL, *ttl = NULL, *bind;
	GError *err = NULL;

	d.name = g_strstrip(g_strdup(group + strlen("directory")));
	d.conn.url = g_key_file_get_string(kf, group, "url", NULL);
	d.base = g_key_file_get_string(kf, group, "base", NULL);
	d.conn.bind_dn = g_key_file_get_string(kf, group, "bind_dn", NULL);
	d.conn.ca_file = expand_home(g_key_file_get_string(kf, group, "ca_file", NULL));
	d.conn.starttls = g_key_file_get_boolean(kf, group, "starttls", NULL);
	bind = g_key_file_get_string(kf, group, "bind", NULL);
	if (bind && !strcmp(bind, "gssapi")) {
		d.conn.bind = GS_LDAP_BIND_GSSAPI;
	} else if (bind && strcmp(bind, "simple")) {
		cli_error(c, "[%s] bind: simple or gssapi (ignored)", group);
		goto bad;
	}
	pwfile = expand_home(g_key_file_get_string(kf, group, "password_file", NULL));
	ttl = g_key_file_get_string(kf, group, "ttl", NULL);
	if (!*d.name || !d.conn.url) {
		cli_error(c, "[%s]: needs a name and a url (ignored)", group);
		goto bad;
	}
	if (ttl) {
		gint64 v = g_key_file_get_int64(kf, group, "ttl", &err);
		if (err || v < 1 || v > 365 * 86400) {
			cli_error(c, "[%s] ttl: not a number of seconds from 1 to 31536000 (ignored)", group);
			goto bad;
		}
		d.ttl_s = (unsigned) v;
	}
	if (!d.conn.bind_dn != !pwfile) {
		cli_error(c, "[%s]: bind_dn and password_file go together (ignored)", group);
		goto bad;
	}
	if (pwfile) {
		char *pw = NULL;
		size_t len = 0;

		if (cli_read_secret(c, pwfile, -1, &pw, &len) != 0) {
			cli_error(c, "[%s]: its password cannot be read (ignored)", group);
			goto bad;
		}
		d.conn.password = g_memdup2(pw, len);
		d.conn.password_len = len;
		cli_free_secret(pw);
	}
	g_array_append_val(c->directories, d);
	g_free(pwfile);
	g_free(ttl);
	g_free(bind);
	g_clear_error(&err);
	return;
bad:
	gs_directory_dispose(&d);
	g_free(pwfile);
	g_free(ttl);
	g_free(bind);
	g_clear_error(&err);
}

void
cli_free_directories(cli *c)
{
	guint i;

	for (i = 0; c->directories && i < c->directories->len; i++)
		gs_directory_dispose(&g_array_index(c->directories, gs_directory, i));
	if (c->directories)
		g_array_free(c->directories, TRUE);
	c->directories = NULL;
}

void
cli_read_config(cli *c, int directories)
{
	const char *dir = g_getenv("XDG_CONFIG_HOME");
	char *path = dir && *dir ? g_build_filename(dir, "galsmime", "config", NULL)
				 : g_build_filename(cli_home_dir(), ".config", "galsmime", "config", NULL);
	GKeyFile *kf = g_key_file_new();
	GError *err = NULL;
	char **groups, **g;

	c->agent_enable = 1;
	c->dir_timeout_ms = 3000;
	c->directories = g_array_new(FALSE, TRUE, sizeof(gs_directory));
	c->agent_default_ttl = 600;
	c->agent_max_ttl = 7200;
	if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
		c->sync_index = expand_home(g_key_file_get_string(kf, "mutt", "sync_index", NULL));
		c->sync_keys = expand_home(g_key_file_get_string(kf, "mutt", "sync_keys", NULL));
		c->allow_sha1 = g_key_file_get_boolean(kf, "verify", "allow_sha1", NULL);
		c->p11_module = expand_home(g_key_file_get_string(kf, "pkcs11", "module", NULL));
		if (g_key_file_has_key(kf, "agent", "enable", NULL))
			c->agent_enable = g_key_file_get_boolean(kf, "agent", "enable", NULL);
		agent_seconds(c, kf, "default_cache_ttl", &c->agent_default_ttl);
		agent_seconds(c, kf, "max_cache_ttl", &c->agent_max_ttl);
		c->agent_pinentry = expand_home(g_key_file_get_string(kf, "agent", "pinentry", NULL));
		c->agent_pinentry_graphical =
			expand_home(g_key_file_get_string(kf, "agent", "pinentry_graphical", NULL));
		/* only where they are asked: no password read, nothing said
		 * about them, for the filters that never ask */
		groups = directories ? g_key_file_get_groups(kf, NULL) : NULL;
		for (g = groups; g && *g; g++)
			if (g_str_has_prefix(*g, "directory") && (!(*g)[9] || g_ascii_isspace((*g)[9])))
				directory_group(c, kf, *g);
		g_strfreev(groups);
		if (directories)
			lookup_timeout(c, kf);
	} else if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		cli_error(c, "%s: %s (ignored)", path, err->message);
	}
	g_clear_error(&err);
	g_key_file_free(kf);
	g_free(path);
	if (!c->agent_pinentry)
		c->agent_pinentry = g_strdup("/usr/bin/pinentry");
}

const char *
cli_pinentry_graphical(cli *c)
{
	/* the default looked for here, when a pinentry may run, not at
	 * every command's start */
	if (!c->agent_pinentry_graphical) {
		static const char *const graphical[] = { "/usr/bin/pinentry-x11", "/usr/bin/pinentry-gnome3",
							 "/usr/bin/pinentry-gtk-2", "/usr/bin/pinentry-qt" };
		guint i;
		for (i = 0; i < G_N_ELEMENTS(graphical) && !c->agent_pinentry_graphical; i++)
			if (g_file_test(graphical[i], G_FILE_TEST_IS_EXECUTABLE))
				c->agent_pinentry_graphical = g_strdup(graphical[i]);
		if (!c->agent_pinentry_graphical)
			c->agent_pinentry_graphical = g_strdup(c->agent_pinentry);
	}
	return c->agent_pinentry_graphical;
}

int
cli_after_store_change(cli *c)
{
	char *msg = NULL;
	gs_status st;

	if (!c->sync_index)
		return 0;
	if ((st = cli_open_session(c, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	/* the store changed: mutt's view follows */
	return cli_mutt_sync_index(c, c->sync_index, c->sync_keys, 1);
}
