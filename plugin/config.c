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

void
cli_read_config(cli *c)
{
	const char *dir = g_getenv("XDG_CONFIG_HOME");
	char *path = dir && *dir ? g_build_filename(dir, "galsmime", "config", NULL)
				 : g_build_filename(cli_home_dir(), ".config", "galsmime", "config", NULL);
	GKeyFile *kf = g_key_file_new();
	GError *err = NULL;

	c->agent_enable = 1;
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
	} else if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		cli_error(c, "%s: %s (ignored)", path, err->message);
	}
	g_clear_error(&err);
	g_key_file_free(kf);
	g_free(path);
	if (!c->agent_pinentry)
		c->agent_pinentry = g_strdup("/usr/bin/pinentry");
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
