/*
 * opaque.c: the format for material the operator declared non-sensitive with
 * --opaque (reference genomes, atlases).  The object is the input byte for
 * byte; the engine hashes it once and writes it by reference.  Never chosen
 * by sniffing: only the operator can make a path opaque.
 */
#include "format.h"

static int opaque_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	return 0;
}

static int opaque_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			    const void *conf, sl_err *err)
{
	int rc = sl_sink_begin(out, "primary", "application/octet-stream", err);
	sl_chunk *c;
	while (rc >= 0 && (rc = sl_input_next(in, &c, err)) > 0) {
		rc = sl_sink_put(out, c, 0, c->len, err);
		sl_chunk_put(c);
	}
	if (rc < 0)
		return rc;
	sl_sink_attr(out, "kind", "opaque");
	return sl_sink_end(out, err);
}

static const struct sl_format_extension extensions[] = {
	{"application/octet-stream", ".bin"},
	{NULL, NULL},
};

const struct sl_format sl_format_opaque = {
	.name = "opaque",
	.version = "1",
	.flags = SL_FORMAT_IDENTITY | SL_FORMAT_DECLARED,
	.sniff = opaque_sniff,
	.transform = opaque_transform,
	.extensions = extensions,
};
