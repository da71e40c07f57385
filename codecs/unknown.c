/*
 * unknown.c: the default for inputs no format recognises.  Unknown data is
 * rejected, never stored as-is: it may carry identifiers nobody has checked.
 */
#include "format.h"

static int unknown_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	return 1; /* the lowest score: any real format wins */
}

static int unknown_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			     const void *conf, sl_err *err)
{
	return sl_fail(err, SL_E_FORMAT,
		       "unrecognised format (not DICOM, a slide or genomics); "
		       "use --opaque for non-sensitive files");
}

const struct sl_format sl_format_unknown = {
	.name = "unknown",
	.version = "1",
	.sniff = unknown_sniff,
	.transform = unknown_transform,
};
