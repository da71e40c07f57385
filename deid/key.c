/* key.c: loading, generating and using the secret key. */
#include "deid.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sl_key {
	uint8_t k[SL_KEY_LEN];
	char fp[33];
	/* SHA-256 states after the HMAC inner and outer key blocks: every
	 * HMAC then costs two copies and the message, not a key schedule.
	 * Read-only after load, so threads share them. */
	EVP_MD_CTX *inner, *outer;
};

static EVP_MD_CTX *pad_state(const uint8_t k[SL_KEY_LEN], uint8_t pad)
{
	uint8_t block[64];
	memset(block, pad, sizeof block);
	for (int i = 0; i < SL_KEY_LEN; i++)
		block[i] ^= k[i];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, block, sizeof block) != 1)
		abort();
	memset(block, 0, sizeof block);
	return c;
}

int sl_key_generate(const char *path, sl_err *err)
{
	uint8_t k[SL_KEY_LEN];
	if (RAND_bytes(k, sizeof k) != 1)
		return sl_fail(err, SL_E_STATE, "no randomness available for a key");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot create key file %s", path);
	int rc = fchmod(fd, 0600) < 0 ? -errno : sl_write_all(fd, k, sizeof k);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	memset(k, 0, sizeof k);
	if (rc < 0) {
		unlink(path);
		return sl_fail_errno(err, SL_E_STATE, -rc, "cannot write key file %s", path);
	}
	return 0;
}

int sl_key_load(sl_key **out, const char *path, sl_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot open key file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot stat key file %s", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return sl_fail(err, SL_E_STATE,
			       "key file %s is readable or writable by group or others (mode %04o); "
			       "run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
	}
	sl_key *k = sl_xcalloc(1, sizeof *k);
	ssize_t n = read(fd, k->k, sizeof k->k);
	uint8_t extra;
	ssize_t more = read(fd, &extra, 1);
	close(fd);
	if (n != SL_KEY_LEN || more != 0) {
		sl_key_free(k);
		return sl_fail(err, SL_E_STATE, "key file %s is not a sluice key (must be exactly %d bytes; "
			       "make one with: sluice keygen --out FILE)", path, SL_KEY_LEN);
	}
	k->inner = pad_state(k->k, 0x36);
	k->outer = pad_state(k->k, 0x5c);
	uint8_t fp[32];
	sl_key_hmac(k, "fingerprint", "", 0, fp);
	sl_hex(k->fp, fp, 16);
	*out = k;
	return 0;
}

void sl_key_free(sl_key *k)
{
	if (!k)
		return;
	EVP_MD_CTX_free(k->inner);
	EVP_MD_CTX_free(k->outer);
	memset(k, 0, sizeof *k);
	free(k);
}

const char *sl_key_fingerprint(const sl_key *k) { return k->fp; }

void sl_key_hmac(const sl_key *k, const char *domain, const void *value, size_t n,
		 uint8_t out[32])
{
	/* HMAC (RFC 2104) of domain || 0x00 || value: the separator keeps
	 * domains from overlapping. */
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		abort();
	uint8_t inner[32];
	unsigned len = 32;
	if (EVP_MD_CTX_copy_ex(c, k->inner) != 1)
		abort();
	EVP_DigestUpdate(c, domain, strlen(domain) + 1);
	if (n)
		EVP_DigestUpdate(c, value, n);
	EVP_DigestFinal_ex(c, inner, &len);
	if (EVP_MD_CTX_copy_ex(c, k->outer) != 1)
		abort();
	EVP_DigestUpdate(c, inner, sizeof inner);
	EVP_DigestFinal_ex(c, out, &len);
	EVP_MD_CTX_free(c);
}
