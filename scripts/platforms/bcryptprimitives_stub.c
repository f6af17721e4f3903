/*
 * bcryptprimitives.dll for wine, which (as of Debian's wine 8.0) lacks the one export Rust's
 * standard library needs on Windows: ProcessPrng, the system random generator that std uses
 * for HashMap seeds. Windows 10+ has the real DLL; this one is only for running the Windows
 * test binaries under wine (scripts/platforms/windows.sh builds it and puts it beside them).
 *
 * ProcessPrng fills the buffer from BCryptGenRandom's system-preferred generator, which wine
 * implements; it returns TRUE (as the real one always does) or FALSE if the generator fails.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
