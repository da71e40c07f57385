/*
 * libs.c: the libraries the slide format links and their versions, for
 * `sluice --version` and provenance (struct sl_format_library).
 */
#include "slide_impl.h"
#include <stdio.h>     /* before jpeglib.h, which needs FILE */
#include <string.h>
#include <jpeglib.h>   /* its jconfig.h names the libjpeg-turbo version */
#include <openjpeg.h>
#include <openslide.h>
#include <tiffio.h>

#define SL_STR2(x) #x
#define SL_STR(x) SL_STR2(x)

/* "LIBTIFF, Version 4.5.0\nCopyright ..." -> "4.5.0".  The engine asks for
 * versions once per process (ingest/version.c), so one buffer will do. */
static const char *libtiff_version(void)
{
	static char v[32];
	const char *p = strstr(TIFFGetVersion(), "Version ");
	size_t n = p ? strcspn(p + 8, " \n") : 0;
	snprintf(v, sizeof v, "%.*s", (int)(n < 31 ? n : 31), p ? p + 8 : "");
	return v;
}

/* libjpeg-turbo has no version call: the version it was built with. */
static const char *libjpeg_version(void)
{
	return SL_STR(LIBJPEG_TURBO_VERSION);
}

static const char *openjpeg_version(void)
{
	return opj_version();
}

const struct sl_format_library slide_libraries[] = {
	{"libtiff", libtiff_version},
	{"libjpeg-turbo", libjpeg_version},
	{"openjpeg", openjpeg_version},
	{"openslide", openslide_get_version},
	{NULL, NULL},
};
