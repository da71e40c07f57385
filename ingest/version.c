/* version.c: the versions of sluice and its libraries, for --version and for
 * every provenance record (so a record says exactly what produced it).  The
 * engine names the libraries it links itself; each format names its own
 * (struct sl_format's libraries), a library two formats share listed once. */
#include "engine.h"
#include "../codecs/format.h"
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <zlib.h>

#ifndef SL_LIBURING_VERSION
#define SL_LIBURING_VERSION "unknown"
#endif

struct sl_library_version {
	const char *name, *version;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* sluice, the engine's libraries, then every format's, in table order: a
 * library takes its place the first time it is named. */
static struct sl_library_version *libs;
static size_t nlibs;
static sl_buf json;

static void add(const char *name, const char *version)
{
	for (size_t i = 0; i < nlibs; i++)
		if (!strcmp(libs[i].name, name))
			return;
	libs = sl_xrealloc(libs, (nlibs + 1) * sizeof *libs);
	libs[nlibs++] = (struct sl_library_version){name, version ? version : "unknown"};
}

static void collect(void)
{
	add("sluice", SL_VERSION);
	add("sqlite", sqlite3_libversion());
	add("openssl", OpenSSL_version(OPENSSL_VERSION_STRING));
	add("liburing", SL_LIBURING_VERSION);
	add("zlib", zlibVersion());
	for (size_t i = 0; sl_formats[i]; i++)
		for (const struct sl_format_library *l = sl_formats[i]->libraries; l && l->name; l++)
			add(l->name, l->version());
}

static void build(void)
{
	collect();
	sl_buf_init(&json);
	for (size_t i = 0; i < nlibs; i++) {
		sl_buf_puts(&json, i ? "," : "{");
		sl_buf_json_str(&json, libs[i].name);
		sl_buf_puts(&json, ":");
		sl_buf_json_str(&json, libs[i].version);
	}
	sl_buf_puts(&json, "}");
}

const char *sl_versions_json(void)
{
	pthread_once(&once, build);
	return json.data;
}

void sl_versions_text(sl_buf *b)
{
	pthread_once(&once, build);
	for (size_t i = 0; i < nlibs; i++)
		sl_buf_printf(b, "%s %s\n", libs[i].name, libs[i].version);
}
