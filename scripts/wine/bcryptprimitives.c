/* Wine 8.0 (Debian 12's) lacks bcryptprimitives.dll, whose ProcessPrng the
 * Rust standard library (1.78 and later) imports on Windows: without it no
 * Rust test binary starts under that Wine. This is the one export, over
 * the system's own random source (RtlGenRandom, exported by advapi32 as
 * SystemFunction036). Wine 9 and later ship the real DLL. Test use only:
 * scripts/test-windows.sh copies it into its own Wine prefix. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
