/* agent-proto.c: the key agent's messages (galsmime.h has the format):
 * a strict parser and an encoder. Everything a peer sends is bounded
 * before it is read, and anything the table below does not name is
 * refused: the agent holds keys, its parser faces every local process
 * that can reach the socket. */
#include "gs-private.h"

#include <string.h>

#define MAGIC 0x47534167u /* "GSAg" */

static const size_t field_max[GS_AGENT_F_COUNT] = {
	[GS_AGENT_F_KEYID] = 64,
	[GS_AGENT_F_BLOB] = 16384,
	[GS_AGENT_F_PASS] = 1023,
	[GS_AGENT_F_PADDING] = 1,
	[GS_AGENT_F_DATA] = 1024,
	[GS_AGENT_F_DESC] = 1024,
	[GS_AGENT_F_TTYNAME] = 256,
	[GS_AGENT_F_TTYTYPE] = 64,
	[GS_AGENT_F_DISPLAY] = 256,
	[GS_AGENT_F_TEXT] = 32768,
	[GS_AGENT_F_URI] = 2048,
	[GS_AGENT_F_MODULE] = 1024,
	[GS_AGENT_F_CERT] = 16384,
	[GS_AGENT_F_WAYLAND] = 256,
};

#define F(t) (1u << GS_AGENT_F_##t)
/* per request op: the fields it must carry, and those it may */
static const struct {
	unsigned required, allowed;
} ops[GS_AGENT_OP_LAST + 1] = {
	[GS_AGENT_HELLO] = { 0, 0 },
	[GS_AGENT_STATUS] = { 0, 0 },
	[GS_AGENT_FORGET] = { 0, F(KEYID) },
	[GS_AGENT_STOP] = { 0, 0 },
	[GS_AGENT_PRESET] = { F(KEYID) | F(PASS), F(BLOB) | F(URI) | F(CERT) | F(MODULE) },
	/* a stored key (BLOB) or a token key (URI CERT [MODULE]): the agent
	 * checks that exactly one is given */
	[GS_AGENT_UNLOCK] = { F(KEYID), F(BLOB) | F(URI) | F(CERT) | F(MODULE) | F(DESC) | F(TTYNAME) |
					     F(TTYTYPE) | F(DISPLAY) | F(WAYLAND) },
	[GS_AGENT_RSA_SIGN] = { F(KEYID) | F(PADDING) | F(DATA), 0 },
	[GS_AGENT_RSA_DECRYPT] = { F(KEYID) | F(PADDING) | F(DATA), 0 },
	[GS_AGENT_ECDSA_SIGN] = { F(KEYID) | F(DATA), 0 },
	[GS_AGENT_ECDH] = { F(KEYID) | F(DATA), 0 },
};
/* a response may carry a result and a message, whatever its status */
#define REPLY_ALLOWED (F(DATA) | F(TEXT))

static unsigned
get16(const unsigned char *p)
{
	return (unsigned) p[0] << 8 | p[1];
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

gs_status
gs_agent_header(const unsigned char hdr[GS_AGENT_HEADER], unsigned *version, size_t *payload_len,
		char **errmsg)
{
	uint32_t n;

	if (get32(hdr) != MAGIC)
		return gs_fail(errmsg, GS_E_MALFORMED, "agent: not a galsmime agent message");
	*version = get16(hdr + 4);
	n = get32(hdr + 8);
	if (n > GS_AGENT_MAX_PAYLOAD)
		return gs_fail(errmsg, GS_E_LIMIT, "agent: a message of %lu bytes (at most %u)",
			       (unsigned long) n, GS_AGENT_MAX_PAYLOAD);
	*payload_len = n;
	return GS_OK;
}

gs_status
gs_agent_parse(const unsigned char *buf, size_t len, int reply, gs_agent_msg *msg, char **errmsg)
{
	size_t plen, off;
	unsigned seen = 0, code;
	gs_status st;

	memset(msg, 0, sizeof *msg);
	if (len < GS_AGENT_HEADER)
		return gs_fail(errmsg, GS_E_MALFORMED, "agent: a message shorter than its header");
	if ((st = gs_agent_header(buf, &msg->version, &plen, errmsg)) != GS_OK)
		return st;
	if (plen != len - GS_AGENT_HEADER)
		return gs_fail(errmsg, GS_E_MALFORMED, "agent: the message length does not match its header");
	msg->code = code = get16(buf + 6);
	if (msg->version != GS_AGENT_PROTOCOL)
		return gs_fail(errmsg, GS_E_UNSUPPORTED, "agent: protocol version %u (this galsmime speaks %u)",
			       msg->version, GS_AGENT_PROTOCOL);
	if (reply ? code > GS_AGENT_REPLY_LAST : code == 0 || code > GS_AGENT_OP_LAST)
		return gs_fail(errmsg, GS_E_MALFORMED, "agent: unknown %s %u", reply ? "status" : "request",
			       code);
	for (off = GS_AGENT_HEADER; off < len;) {
		unsigned tag, flen;

		if (len - off < 3)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: a field cut short");
		tag = buf[off];
		flen = get16(buf + off + 1);
		off += 3;
		if (tag >= GS_AGENT_F_COUNT)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: unknown field %u", tag);
		if (seen & 1u << tag)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: field %u twice", tag);
		if (flen > field_max[tag])
			return gs_fail(errmsg, GS_E_LIMIT, "agent: field %u of %u bytes (at most %zu)", tag,
				       flen, field_max[tag]);
		if (flen > len - off)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: field %u runs past the message", tag);
		seen |= 1u << tag;
		msg->f[tag].p = buf + off;
		msg->f[tag].len = flen;
		off += flen;
	}
	{
		unsigned required = reply ? 0 : ops[code].required;
		unsigned allowed = (reply ? REPLY_ALLOWED : ops[code].allowed) | required;

		if ((seen & required) != required)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: request %u lacks a field it needs", code);
		if (seen & ~allowed)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: request %u carries a field it does not take",
				       code);
	}
	/* a key id is a fingerprint: exactly 64 lower-case hex digits */
	if (msg->f[GS_AGENT_F_KEYID].p) {
		size_t i;

		if (msg->f[GS_AGENT_F_KEYID].len != 64)
			return gs_fail(errmsg, GS_E_MALFORMED, "agent: a key id that is no fingerprint");
		for (i = 0; i < 64; i++)
			if (!strchr("0123456789abcdef", msg->f[GS_AGENT_F_KEYID].p[i]) ||
			    !msg->f[GS_AGENT_F_KEYID].p[i])
				return gs_fail(errmsg, GS_E_MALFORMED, "agent: a key id that is no fingerprint");
	}
	return GS_OK;
}

static void
put16(GByteArray *a, unsigned v)
{
	guint8 b[2] = { (guint8) (v >> 8), (guint8) v };
	g_byte_array_append(a, b, 2);
}

static void
put32(GByteArray *a, uint32_t v)
{
	guint8 b[4] = { (guint8) (v >> 24), (guint8) (v >> 16), (guint8) (v >> 8), (guint8) v };
	g_byte_array_append(a, b, 4);
}

gs_status
gs_agent_encode(const gs_agent_msg *msg, GByteArray **out, char **errmsg)
{
	size_t plen = 0;
	GByteArray *a;
	unsigned t;

	*out = NULL;
	for (t = 0; t < GS_AGENT_F_COUNT; t++) {
		if (!msg->f[t].p)
			continue;
		if (msg->f[t].len > field_max[t])
			return gs_fail(errmsg, GS_E_LIMIT, "agent: field %u of %zu bytes (at most %zu)", t,
				       msg->f[t].len, field_max[t]);
		plen += 3 + msg->f[t].len;
	}
	if (plen > GS_AGENT_MAX_PAYLOAD)
		return gs_fail(errmsg, GS_E_LIMIT, "agent: a message of %zu bytes", plen);
	a = g_byte_array_sized_new((guint) (GS_AGENT_HEADER + plen));
	put32(a, MAGIC);
	put16(a, msg->version);
	put16(a, msg->code);
	put32(a, (uint32_t) plen);
	for (t = 0; t < GS_AGENT_F_COUNT; t++) {
		if (!msg->f[t].p)
			continue;
		{
			guint8 tag = (guint8) t;
			g_byte_array_append(a, &tag, 1);
		}
		put16(a, (unsigned) msg->f[t].len);
		g_byte_array_append(a, msg->f[t].p, (guint) msg->f[t].len);
	}
	*out = a;
	return GS_OK;
}
