/* vcard.c: placeholder until the vcard parser lands. */
#include "import.h"

gs_status
gs_parse_vcard(gs_import_state *st, gs_reader *r, char **errmsg)
{
	(void) st;
	return gs_fail(errmsg, GS_E_UNSUPPORTED, "%s: the vcard format is not supported yet", gs_reader_name(r));
}
