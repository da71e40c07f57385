/* formats.c: the table of formats, the one place that names them.  Adding
 * a format is one module in codecs/ and one line in SL_FORMATS: its name
 * after sl_format_, in the order sniffing ties are broken. */
#include "format.h"
#include <string.h>

#define SL_FORMATS(X) \
	X(dicom)      \
	X(vcf)        \
	X(reads)      \
	X(slide)      \
	X(opaque)     \
	X(unknown)

#define SL_FORMAT_DECLARE(n) extern const struct sl_format sl_format_##n;
#define SL_FORMAT_ENTRY(n) &sl_format_##n,

SL_FORMATS(SL_FORMAT_DECLARE)

const struct sl_format *const sl_formats[] = {
	SL_FORMATS(SL_FORMAT_ENTRY)
	NULL,
};

const struct sl_format *sl_format_by_name(const char *name)
{
	for (size_t i = 0; sl_formats[i]; i++)
		if (!strcmp(sl_formats[i]->name, name))
			return sl_formats[i];
	return NULL;
}

const struct sl_format *sl_format_flagged(unsigned flag)
{
	for (size_t i = 0; sl_formats[i]; i++)
		if (sl_formats[i]->flags & flag)
			return sl_formats[i];
	return NULL;
}

const struct sl_format *sl_format_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	const struct sl_format *best = &sl_format_unknown;
	int best_score = 0;
	for (size_t i = 0; sl_formats[i]; i++) {
		int s = sl_formats[i]->sniff(head, len, size);
		if (s > best_score) {
			best_score = s;
			best = sl_formats[i];
		}
	}
	return best;
}
