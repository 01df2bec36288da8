/* fuzz-csv.c: libFuzzer target for the CSV importer (lib/import/csv.c).
 * Each input is imported twice: stopping at the first bad row, and with
 * skip_bad. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_import(data, size, GS_GAL_CSV, 0);
	fuzz_import(data, size, GS_GAL_CSV, 1);
	return 0;
}
