/* p11-remove.so: a PKCS#11 module whose token is pulled out between the
 * login and the key operation (tests/t17-pkcs11.sh).
 *
 *   P11_REMOVE_MODULE=/path/libsofthsm2.so P11_REMOVE_DIR=TOKENDIR
 *       galsmime ... (with module-path=.../p11-remove.so)
 *
 * Every call goes to the real module, except that the first C_SignInit,
 * C_DecryptInit or C_DeriveKey (the private-key operations: sign,
 * RSA decrypt, ECDH) first deletes P11_REMOVE_DIR, SoftHSM's token
 * folder, as a card pulled from its reader. Without P11_REMOVE_DIR it
 * deletes nothing. With P11_REFUSE set, those operations fail with
 * CKR_FUNCTION_FAILED instead, the token staying in (a card that
 * refuses, not one pulled out). With P11_LOGIN_LOG=FILE, each C_Login appends a line
 * to FILE (how many PIN tries a run spent). With P11_FINAL_TRY set, the
 * token says CKF_USER_PIN_FINAL_TRY (C_GetTokenInfo) after a wrong PIN,
 * as a card with one try left does (t19). */
#define _XOPEN_SOURCE 700
#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST real, ours;
static int removed, wrong_pin;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static int
pull_out(void)
{
	const char *dir = getenv("P11_REMOVE_DIR");

	if (getenv("P11_REFUSE"))
		return 1;
	if (dir && !removed) {
		removed = 1;
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	return 0;
}

static CK_RV
sign_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return pull_out() ? CKR_FUNCTION_FAILED : real.C_SignInit(s, m, k);
}

static CK_RV
decrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return pull_out() ? CKR_FUNCTION_FAILED : real.C_DecryptInit(s, m, k);
}

static CK_RV
derive_key(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k, CK_ATTRIBUTE_PTR t,
	   CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
	return pull_out() ? CKR_FUNCTION_FAILED : real.C_DeriveKey(s, m, k, t, n, out);
}

static CK_RV
login(CK_SESSION_HANDLE s, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	const char *log = getenv("P11_LOGIN_LOG");
	FILE *f = log ? fopen(log, "a") : NULL;

	if (f) {
		fputs("C_Login\n", f);
		fclose(f);
	}
	{
		CK_RV rv = real.C_Login(s, who, pin, len);
		if (rv == CKR_PIN_INCORRECT)
			wrong_pin = 1;
		return rv;
	}
}

static CK_RV
token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = real.C_GetTokenInfo(slot, info);

	if (rv == CKR_OK && wrong_pin && getenv("P11_FINAL_TRY"))
		info->flags |= CKF_USER_PIN_FINAL_TRY;
	return rv;
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	const char *path = getenv("P11_REMOVE_MODULE");
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR f;
	void *h;
	CK_RV rv;

	if (!path || !(h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
		return CKR_GENERAL_ERROR;
	*(void **) &get = dlsym(h, "C_GetFunctionList");
	if (!get || (rv = get(&f)) != CKR_OK)
		return CKR_GENERAL_ERROR;
	real = *f;
	ours = *f;
	ours.C_SignInit = sign_init;
	ours.C_DecryptInit = decrypt_init;
	ours.C_DeriveKey = derive_key;
	ours.C_Login = login;
	ours.C_GetTokenInfo = token_info;
	*list = &ours;
	return CKR_OK;
}
