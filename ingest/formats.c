/* formats.c: the table of formats.  Adding a format is one module in
 * codecs/ and one line here. */
#include "format.h"
#include <string.h>

extern const struct sl_format sl_format_dicom;
extern const struct sl_format sl_format_opaque;
extern const struct sl_format sl_format_reads;
extern const struct sl_format sl_format_slide;
extern const struct sl_format sl_format_unknown;
extern const struct sl_format sl_format_vcf;

const struct sl_format *const sl_formats[] = {
	&sl_format_dicom,
	&sl_format_vcf,
	&sl_format_reads,
	&sl_format_slide,
	&sl_format_opaque,
	&sl_format_unknown,
	NULL,
};

const struct sl_format *sl_format_by_name(const char *name)
{
	for (size_t i = 0; sl_formats[i]; i++)
		if (!strcmp(sl_formats[i]->name, name))
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
