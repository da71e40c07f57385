/* version.c: the versions of sluice and its libraries, for --version and for
 * every provenance record (so a record says exactly what produced it). */
#include "engine.h"
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <jpeglib.h>   /* after stdio.h; its jconfig.h names the libjpeg-turbo version */
#include <openjpeg.h>
#include <openslide.h>
#include <tiffio.h>

/* htslib/hts.h's own; its header is not included here because its format
 * enum (sam, bam, json...) would shadow names in this file. */
const char *hts_version(void);

#ifndef SL_LIBURING_VERSION
#define SL_LIBURING_VERSION "unknown"
#endif

#define SL_STR2(x) #x
#define SL_STR(x) SL_STR2(x)
#define SL_LIBJPEG_VERSION SL_STR(LIBJPEG_TURBO_VERSION)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char json[1024];
static char tiffv[32];

/* "LIBTIFF, Version 4.5.0\nCopyright ..." -> "4.5.0" */
static const char *libtiff_version(void)
{
	const char *v = strstr(TIFFGetVersion(), "Version ");
	size_t n = v ? strcspn(v + 8, " \n") : 0;
	snprintf(tiffv, sizeof tiffv, "%.*s", (int)(n < 31 ? n : 31), v ? v + 8 : "");
	return tiffv;
}

static void build(void)
{
	snprintf(json, sizeof json,
		 "{\"sluice\":\"%s\",\"sqlite\":\"%s\",\"openssl\":\"%s\",\"liburing\":\"%s\","
		 "\"zlib\":\"%s\",\"htslib\":\"%s\",\"libtiff\":\"%s\",\"libjpeg-turbo\":\"%s\","
		 "\"openjpeg\":\"%s\",\"openslide\":\"%s\"}",
		 SL_VERSION, sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION_STRING),
		 SL_LIBURING_VERSION, zlibVersion(), hts_version(), libtiff_version(),
		 SL_LIBJPEG_VERSION, opj_version(), openslide_get_version());
}

const char *sl_versions_json(void)
{
	pthread_once(&once, build);
	return json;
}

void sl_versions_text(sl_buf *b)
{
	sl_buf_printf(b, "sluice %s\n", SL_VERSION);
	sl_buf_printf(b, "sqlite %s\n", sqlite3_libversion());
	sl_buf_printf(b, "openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	sl_buf_printf(b, "liburing %s\n", SL_LIBURING_VERSION);
	sl_buf_printf(b, "zlib %s\n", zlibVersion());
	sl_buf_printf(b, "htslib %s\n", hts_version());
	pthread_once(&once, build);
	sl_buf_printf(b, "libtiff %s\n", tiffv);
	sl_buf_printf(b, "libjpeg-turbo %s\n", SL_LIBJPEG_VERSION);
	sl_buf_printf(b, "openjpeg %s\n", opj_version());
	sl_buf_printf(b, "openslide %s\n", openslide_get_version());
}
