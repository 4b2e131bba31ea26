/* A Windows reader that holds a file open as Python's open() does (read
 * and write sharing, no delete sharing) for a while: what a bot does to
 * its .env while TokenTray rewrites it. For the end-to-end run under Wine
 * (crates/tokentray-cli/tests/cli/windows_e2e.rs).
 *
 *   hold_file.exe PATH MILLISECONDS
 *
 * Prints "held" once the file is open, then its size when it lets go. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc != 3) {
        fwprintf(stderr, L"usage: hold_file PATH MILLISECONDS\n");
        return 2;
    }
    HANDLE file = CreateFileW(argv[1], GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) {
        fwprintf(stderr, L"cannot open %ls: error %lu\n", argv[1], GetLastError());
        return 1;
    }
    printf("held\n");
    fflush(stdout);
    Sleep((DWORD)_wtoi(argv[2]));
    LARGE_INTEGER size;
    GetFileSizeEx(file, &size);
    CloseHandle(file);
    printf("let go after reading %lld bytes\n", size.QuadPart);
    return 0;
}
