/* session.c: what one run works with: the store, the passphrase
 * source, limits, the time certificates are judged at, the signature
 * policy, and the identities unlocked so far. Results are never kept
 * here: every operation returns its own. */
#include "gs-private.h"

#include <openssl/crypto.h>

void
gs_limits_default(gs_limits *l)
{
	l->max_message = (size_t) 512 << 20;   /* 512 MiB */
	l->max_header = (size_t) 1 << 20;      /* 1 MiB for one header field */
	l->max_depth = 32;
	l->max_parts = 10000;
}

void
gs_init(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		/* OpenSSL's configuration file is the system's, not ours: a
		 * provider it loads could change what a signature means */
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
		g_once_init_leave(&done, 1);
	}
}

gs_status
gs_session_new(gs_store *store, gs_session **out, char **errmsg)
{
	gs_session *s;

	if (!store || !out)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_session_new: no store");
	gs_init();
	s = g_new0(gs_session, 1);
	s->store = store;
	gs_limits_default(&s->limits);
	s->identities = g_ptr_array_new_with_free_func((GDestroyNotify) gs_identity_free);
	*out = s;
	return GS_OK;
}

void
gs_session_free(gs_session *s)
{
	if (!s)
		return;
	g_ptr_array_free(s->identities, TRUE);
	gs_directories_clear(s);
	g_free(s->p11_module);
	if (s->pin_refused)
		g_ptr_array_free(s->pin_refused, TRUE);
	gs_session_set_pinentry(s, NULL);
	g_free(s);
}

int
gs_session_keys_elsewhere(const gs_session *s)
{
	guint i;

	for (i = 0; s && i < s->identities->len; i++)
		if (((const gs_identity *) s->identities->pdata[i])->token ||
		    ((const gs_identity *) s->identities->pdata[i])->in_agent)
			return 1;
	return 0;
}

void
gs_session_set_pkcs11_module(gs_session *s, const char *module)
{
	g_free(s->p11_module);
	s->p11_module = g_strdup(module);
}

void
gs_session_set_pinentry(gs_session *s, const gs_pinentry_where *w)
{
	gs_pinentry_where *o = s->pinentry;

	if (o) {
		g_free((char *) o->program);
		g_free((char *) o->graphical);
		g_free((char *) o->tty);
		g_free((char *) o->ttytype);
		g_free((char *) o->display);
		g_free((char *) o->wayland_display);
		g_free(o);
	}
	s->pinentry = NULL;
	if (w) {
		o = g_new0(gs_pinentry_where, 1);
		o->program = g_strdup(w->program);
		o->graphical = g_strdup(w->graphical);
		o->tty = g_strdup(w->tty);
		o->ttytype = g_strdup(w->ttytype);
		o->display = g_strdup(w->display);
		o->wayland_display = g_strdup(w->wayland_display);
		s->pinentry = o;
	}
}

void
gs_session_set_agent_cb(gs_session *s, gs_agent_cb cb, void *data)
{
	s->agent_cb = cb;
	s->agent_data = data;
}

void
gs_session_set_passphrase_cb(gs_session *s, gs_passphrase_cb cb, void *data)
{
	s->pass_cb = cb;
	s->pass_data = data;
}

void
gs_session_set_input_release(gs_session *s, void (*release)(void *data), void *data)
{
	s->input_release = release;
	s->input_release_data = data;
}

void
gs_session_set_allow_sha1(gs_session *s, int allow)
{
	s->allow_sha1 = allow != 0;
}

void
gs_session_set_time(gs_session *s, time_t when)
{
	s->when = when;
}

void
gs_session_set_limits(gs_session *s, const gs_limits *l)
{
	s->limits = *l;
}

const gs_limits *
gs_session_limits(const gs_session *s)
{
	return &s->limits;
}

time_t
gs_session_now(const gs_session *s)
{
	return s && s->when ? s->when : time(NULL);
}
