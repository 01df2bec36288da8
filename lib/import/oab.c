/* oab.c: placeholder until the oab parser lands. */
#include "import.h"

gs_status
gs_parse_oab(gs_import_state *st, gs_reader *r, char **errmsg)
{
	(void) st;
	return gs_fail(errmsg, GS_E_UNSUPPORTED, "%s: the oab format is not supported yet", gs_reader_name(r));
}
